"""Static checks of a menu: every problem found at once, each naming where it is.

``check(menu, queues)`` returns ``IvrIssue(where, message)`` with ``where`` a key path inside the menu
(``nodes.main.choices.2``) so the config loader can point at the YAML key; ``validate`` joins them to text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from ivr.model import EnqueueNode, HangupNode, Menu, MenuNode, Node, SetNode, successors


@dataclass(frozen=True, slots=True)
class IvrIssue:
    where: str  # key path inside the menu, e.g. "nodes.main.choices.2"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def validate(menu: Menu, queues: Collection[str]) -> list[str]:
    return [str(issue) for issue in check(menu, queues)]


def check(menu: Menu, queues: Collection[str]) -> list[IvrIssue]:
    issues: list[IvrIssue] = []
    if menu.start not in menu.nodes:
        issues.append(IvrIssue("start", f"unknown node {menu.start!r}"))
    for name, node in menu.nodes.items():
        issues.extend(_check_node(name, node, menu, queues))
    if menu.start not in menu.nodes:
        return issues
    routes = _routes(menu)
    for name in menu.nodes:
        if name not in routes:
            issues.append(IvrIssue(f"nodes.{name}", f"unreachable from the start node {menu.start!r}"))
    exits = _can_exit(menu)
    for name, route in routes.items():
        if name not in exits:
            issues.append(
                IvrIssue(
                    f"nodes.{name}",
                    f"loop with no exit (reached by {route}): never gets to an enqueue or a hangup",
                )
            )
    issues.extend(_check_queue_set_before_enqueue(menu, routes))
    return issues


def _check_node(name: str, node: Node, menu: Menu, queues: Collection[str]) -> list[IvrIssue]:
    issues: list[IvrIssue] = []
    for where, target in successors(node):
        if target not in menu.nodes:
            issues.append(IvrIssue(f"nodes.{name}.{where}", f"unknown node {target!r}"))
    if isinstance(node, SetNode | EnqueueNode) and node.queue is not None and node.queue not in queues:
        known = ", ".join(sorted(queues)) or "none"
        issues.append(IvrIssue(f"nodes.{name}.queue", f"unknown queue {node.queue!r} (known: {known})"))
    if isinstance(node, MenuNode):
        if not node.choices:
            issues.append(IvrIssue(f"nodes.{name}.choices", "a menu needs at least one choice"))
        seen: set[str] = set()
        for choice in node.choices:
            if choice.digits in seen:
                issues.append(
                    IvrIssue(f"nodes.{name}.choices.{choice.digits}", f"duplicate digits {choice.digits!r}")
                )
            seen.add(choice.digits)
    return issues


def _routes(menu: Menu) -> dict[str, str]:
    """Shortest route from the start to each reachable node, as text like 'welcome>main:2>general'."""
    routes = {menu.start: menu.start}
    todo = deque([menu.start])
    while todo:
        name = todo.popleft()
        node = menu.nodes.get(name)
        if node is None:
            continue
        for where, target in successors(node):
            if target in routes or target not in menu.nodes:
                continue
            routes[target] = f"{routes[name]}{_hop(where)}>{target}"
            todo.append(target)
    return routes


def _can_exit(menu: Menu) -> set[str]:
    """Nodes from which some walk ends the IVR (enqueue, hangup, or a menu that hangs up when exhausted)."""
    exits = {name for name, node in menu.nodes.items() if _ends_here(node)}
    changed = True
    while changed:
        changed = False
        for name, node in menu.nodes.items():
            if name in exits:
                continue
            if any(target in exits for _, target in successors(node)):
                exits.add(name)
                changed = True
    return exits


def _ends_here(node: Node) -> bool:
    if isinstance(node, EnqueueNode | HangupNode):
        return True
    return isinstance(node, MenuNode) and node.fallback is None


def _check_queue_set_before_enqueue(menu: Menu, routes: dict[str, str]) -> list[IvrIssue]:
    """An enqueue without its own queue must only be reached after a set node chose one."""
    issues: list[IvrIssue] = []
    seen: set[tuple[str, bool]] = set()
    todo = [(menu.start, False, menu.start)]
    reported: set[str] = set()
    while todo:
        name, has_queue, route = todo.pop()
        node = menu.nodes.get(name)
        if node is None or (name, has_queue) in seen:
            continue
        seen.add((name, has_queue))
        if isinstance(node, SetNode) and node.queue is not None:
            has_queue = True
        if isinstance(node, EnqueueNode) and node.queue is None and not has_queue and name not in reported:
            reported.add(name)
            issues.append(IvrIssue(f"nodes.{name}.queue", f"no queue chosen on the way here ({route})"))
        for where, target in successors(node):
            todo.append((target, has_queue, f"{route}{_hop(where)}>{target}"))
    return issues


def _hop(where: str) -> str:
    """How a route text shows an edge: ':2' for a choice, ':fallback', nothing for 'next'."""
    if where == "next":
        return ""
    return ":" + where.removeprefix("choices.")
