"""Static checks of a menu: every problem found at once, each naming where it is and how to fix it.

``check(menu, queues, skills)`` returns ``IvrIssue(where, message, fix)`` with ``where`` a key path inside
the menu (``nodes.main.choices.2``) so the config loader and ``callcenter ivr check`` can point at the YAML
key; ``validate`` joins them to text. Checks: unknown start or targets, unreachable nodes, loops with no
exit (also a loop whose only way out is a time branch: at the time of the other branch, e.g. on a public
holiday, the caller goes round for ever), prompts missing a configured language, unknown queues and
skills, duplicate digits, menus nested deeper than ``menu.max_depth``, an enqueue reached before any
queue was chosen. ``warnings`` lists what is legal but likely a mistake: a configured queue that no
path of the menu sends a caller to.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

from ivr.model import (
    INPUT_NODES,
    CallbackNode,
    CollectNode,
    EnqueueNode,
    HangupNode,
    LanguageNode,
    Menu,
    MenuNode,
    Node,
    RateNode,
    SetNode,
    TimeNode,
    TransferNode,
    prompts,
    successors,
)


@dataclass(frozen=True, slots=True)
class IvrIssue:
    where: str  # key path inside the menu, e.g. "nodes.main.choices.2"
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def with_fix(self) -> str:
        """The message and, when known, how to fix it."""
        return f"{self.message}; fix: {self.fix}" if self.fix else self.message


def validate(menu: Menu, queues: Collection[str] | None, skills: Collection[str] | None = None) -> list[str]:
    return [str(issue) for issue in check(menu, queues, skills)]


def check(menu: Menu, queues: Collection[str] | None, skills: Collection[str] | None = None) -> list[IvrIssue]:
    """Every problem of ``menu``. ``queues=None`` / ``skills=None``: not checked (a menu file on its own)."""
    issues: list[IvrIssue] = []
    names = ", ".join(sorted(menu.nodes))
    if menu.start not in menu.nodes:
        issues.append(IvrIssue("start", f"unknown node {menu.start!r}", f"name one of the nodes: {names}"))
    for name, node in menu.nodes.items():
        issues.extend(_check_node(name, node, menu, queues, skills))
    if menu.start not in menu.nodes:
        return issues
    routes = _routes(menu)
    for name in menu.nodes:
        if name not in routes:
            issues.append(IvrIssue(f"nodes.{name}", f"unreachable from the start node {menu.start!r}",
                                   "point a choice, next or fallback at it, or delete it"))
    exits = _can_exit(menu)
    for name, route in routes.items():
        if name not in exits:
            issues.append(
                IvrIssue(
                    f"nodes.{name}",
                    f"loop with no exit (reached by {route}): never gets to an enqueue or a hangup",
                    "give one node of the loop a way out (a choice or fallback to an enqueue or hangup node)",
                )
            )
    issues.extend(_check_time_loops(menu, routes, exits))
    issues.extend(_check_depth(menu))
    issues.extend(_check_queue_set_before_enqueue(menu, routes))
    return issues


def warnings(menu: Menu, queues: Collection[str] | None) -> list[IvrIssue]:
    """Legal but likely a mistake: a configured queue that no path from the start sends a caller to (it gets
    calls only when another queue overflows to it, or never)."""
    if queues is None or menu.start not in menu.nodes:
        return []
    reached = {node.queue for name in _routes(menu) if isinstance(node := menu.nodes[name], SetNode | EnqueueNode)
               and node.queue is not None}
    return [IvrIssue(f"queues.{q}", f"no IVR path reaches queue {q!r}: it gets no caller from the menu",
                     f"send callers to it (a choice to a set node with queue: {q}) or remove the queue")
            for q in sorted(set(queues) - reached)]


def _check_time_loops(menu: Menu, routes: dict[str, str], exits: set[str]) -> list[IvrIssue]:
    """A time node whose branch, taken every time round (the hour or the day does not change within a
    call), leads back without an exit: a loop whose only exit is another time branch."""
    issues: list[IvrIssue] = []
    for name, node in menu.nodes.items():
        if not isinstance(node, TimeNode) or name not in routes or name not in exits:
            continue  # unreachable or already a loop with no exit at all
        branches = [(f"rules.{i}", r.target, r.label()) for i, r in enumerate(node.rules)]
        branches.append(("default", node.default, "default"))
        for where, target, label in branches:
            if target in menu.nodes and name not in _can_exit(menu, forced={name: target}):
                issues.append(IvrIssue(
                    f"nodes.{name}.{where}",
                    f"loop with no exit when the time matches {label!r}: {name} > {target} leads back to "
                    f"{name}, which takes the same branch again (the only way out is another time branch)",
                    "give the loop its own way out (e.g. go on to the menu or an enqueue after the notice, "
                    "not back to the time node)"))
    return issues


def _check_node(
    name: str, node: Node, menu: Menu, queues: Collection[str] | None, skills: Collection[str] | None
) -> list[IvrIssue]:
    issues: list[IvrIssue] = []
    for where, target in successors(node):
        if target not in menu.nodes:
            issues.append(IvrIssue(f"nodes.{name}.{where}", f"unknown node {target!r}",
                                   f"name one of the nodes: {', '.join(sorted(menu.nodes))}"))
    if (isinstance(node, SetNode | EnqueueNode) and node.queue is not None and queues is not None
            and node.queue not in queues):
        known = ", ".join(sorted(queues)) or "none"
        issues.append(IvrIssue(f"nodes.{name}.queue", f"unknown queue {node.queue!r}",
                               f"use one of the configured queues: {known}"))
    if isinstance(node, SetNode) and skills is not None:
        for skill in node.skills:
            if skill not in skills:
                known = ", ".join(sorted(skills)) or "none"
                issues.append(IvrIssue(f"nodes.{name}.skills.{skill}", f"no agent has skill {skill!r}",
                                       f"use a skill some agent has ({known}) or give it to an agent"))
    for key, prompt in prompts(node):
        for language in menu.languages:
            if language not in prompt.by_language:
                issues.append(IvrIssue(f"nodes.{name}.{key}", f"no {language!r} prompt",
                                       f"add {language}: {{file: ..., text: ...}} to the prompt"))
    if isinstance(node, MenuNode):
        if not node.choices:
            issues.append(IvrIssue(f"nodes.{name}.choices", "a menu needs at least one choice",
                                   "add a choice such as '1': <node>"))
        issues.extend(_duplicates(name, "choices", [c.digits for c in node.choices]))
    if isinstance(node, LanguageNode):
        if not node.choices:
            issues.append(IvrIssue(f"nodes.{name}.choices", "a language choice needs at least one key",
                                   "add e.g. '1': zh"))
        issues.extend(_duplicates(name, "choices", [c.digits for c in node.choices]))
        for choice in node.choices:
            if menu.languages and choice.language not in menu.languages:
                issues.append(IvrIssue(f"nodes.{name}.choices.{choice.digits}",
                                       f"language {choice.language!r} is not configured",
                                       f"use one of {', '.join(menu.languages)} or add it to ivr.languages"))
    if isinstance(node, RateNode):
        if not node.scale:
            issues.append(IvrIssue(f"nodes.{name}.scale", "a survey needs a scale", "add e.g. '1': 5"))
        issues.extend(_duplicates(name, "scale", [r.digits for r in node.scale]))
    if isinstance(node, CallbackNode) and node.number_var is not None and not _collects(menu, node.number_var):
        issues.append(IvrIssue(f"nodes.{name}.number_var", f"no collect node fills {node.number_var!r}",
                               "collect the number first (kind: collect, var: ...) or drop number_var"))
    return issues


def _duplicates(name: str, key: str, digits: list[str]) -> list[IvrIssue]:
    issues: list[IvrIssue] = []
    seen: set[str] = set()
    for d in digits:
        if d in seen:
            issues.append(IvrIssue(f"nodes.{name}.{key}.{d}", f"duplicate digits {d!r}",
                                   "give each choice its own key"))
        seen.add(d)
    # A one-key choice that starts a longer one is never reached: GET DATA stops at the first.
    for d in digits:
        for other in digits:
            if other != d and other.startswith(d) and len(d) < len(other):
                issues.append(IvrIssue(f"nodes.{name}.{key}.{other}",
                                       f"digits {other!r} start with the choice {d!r}",
                                       "end longer choices with # or use keys that do not overlap"))
    return issues


def _collects(menu: Menu, var: str) -> bool:
    return any(isinstance(n, CollectNode) and n.var == var for n in menu.nodes.values())


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


def _check_depth(menu: Menu) -> list[IvrIssue]:
    """Menu levels (nodes waiting for keys) on the shallowest way to each node, against the limit."""
    depth: dict[str, int] = {}
    start_node = menu.nodes[menu.start]
    todo = deque([(menu.start, int(isinstance(start_node, INPUT_NODES)), menu.start)])
    issues: list[IvrIssue] = []
    while todo:
        name, level, route = todo.popleft()
        if name in depth and depth[name] <= level:
            continue
        depth[name] = level
        node = menu.nodes[name]
        for where, target in successors(node):
            child = menu.nodes.get(target)
            if child is None:
                continue
            todo.append((target, level + int(isinstance(child, INPUT_NODES)), f"{route}{_hop(where)}>{target}"))
    for name, level in depth.items():
        if level > menu.max_depth:
            issues.append(IvrIssue(f"nodes.{name}", f"{level} menu levels deep (limit {menu.max_depth})",
                                   "merge menus or send callers to an agent sooner; the national hotline "
                                   "standard advises short menus"))
    return issues


def _can_exit(menu: Menu, forced: dict[str, str] | None = None) -> set[str]:
    """Nodes from which some walk ends the IVR (enqueue, transfer, hangup, or an input node that hangs up
    when its retries are used up). ``forced``: nodes that may only go to the given target (a time node
    at a fixed time)."""
    forced = forced or {}
    exits = {name for name, node in menu.nodes.items() if _ends_here(node)}
    changed = True
    while changed:
        changed = False
        for name, node in menu.nodes.items():
            if name in exits:
                continue
            targets = [forced[name]] if name in forced else [t for _, t in successors(node)]
            if any(target in exits for target in targets):
                exits.add(name)
                changed = True
    return exits


def _ends_here(node: Node) -> bool:
    if isinstance(node, EnqueueNode | HangupNode | TransferNode):
        return True
    return isinstance(node, MenuNode | CollectNode) and node.fallback is None


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
            issues.append(IvrIssue(f"nodes.{name}.queue", f"no queue chosen on the way here ({route})",
                                   "give this enqueue a queue, or set one (kind: set, queue: ...) before it"))
        for where, target in successors(node):
            todo.append((target, has_queue, f"{route}{_hop(where)}>{target}"))
    return issues


def _hop(where: str) -> str:
    """How a route text shows an edge: ':2' for a choice, ':fallback', nothing for 'next'."""
    if where == "next":
        return ""
    return ":" + where.removeprefix("choices.")
