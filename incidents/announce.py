"""An incident announcement as a change of the IVR menu text (pure: YAML text in, YAML text out).

The announcement is a menu node ``incident-<n>``: it says the message, then "press 1 to hear it again,
2 to reach an agent"; 1 comes back to it, 2 goes where the caller was going, no key says goodbye and
hangs up (the caller heard what they called about). Scope ``all``: it becomes the start node, so every
call hears it first. Scope ``topic:<T>``: the menu choices that lead to a node setting topic T (or
named T) lead to it instead, so only those callers hear it. A flat menu (greeting, then the queue) is
written out as the same menu in ``menu`` mode, so both modes announce. ``remove`` undoes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

PREFIX = "incident-"
SUFFIX = {"zh": "重听请按1，转人工服务请按2。", "en": " To hear this again press 1; to reach an agent press 2."}
GOODBYE = {"zh": "感谢您的来电，再见。", "en": "Thank you for calling. Goodbye."}
MAX_MESSAGE = 300


class AnnounceError(ValueError):
    """The announcement cannot be put into (or taken out of) this menu."""


@dataclass(frozen=True, slots=True)
class Announcement:
    number: int  # names the nodes: incident-<number>
    message: str
    scope: str = "all"  # all | topic:<topic>
    sound: str = ""  # a recorded file for the message; '' = incident/<number>-<lang> (text for TwiML <Say>)

    def __post_init__(self) -> None:
        text = self.message.strip()
        if not text or len(text) > MAX_MESSAGE or any(c in text for c in "\r\n"):
            raise AnnounceError(f"the message is one line of 1..{MAX_MESSAGE} characters")
        if self.scope != "all" and not (self.scope.startswith("topic:") and self.scope[6:].strip()):
            raise AnnounceError(f"scope is 'all' or 'topic:<topic>', got {self.scope!r}")
        if self.number < 1:
            raise AnnounceError("the announcement number is >= 1")

    @property
    def node(self) -> str:
        return f"{PREFIX}{self.number}"


def _load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise AnnounceError("the menu text is not a mapping")
    return data


def _as_menu_mode(data: dict[str, Any]) -> dict[str, Any]:
    """A flat menu written as the same menu in menu mode (greeting, then the queue)."""
    if data.get("mode", "menu") != "flat":
        return data
    out = {k: v for k, v in data.items() if k not in ("mode", "greeting", "queue")}
    nodes: dict[str, Any] = {"enqueue": {"kind": "enqueue", "queue": data["queue"]}}
    start = "enqueue"
    if data.get("greeting"):
        nodes["welcome"] = {"kind": "play", "prompt": data["greeting"], "next": "enqueue"}
        start = "welcome"
    return {"mode": "menu", **out, "start": start, "nodes": nodes}


def _prompt(a: Announcement, languages: list[str]) -> dict[str, Any]:
    return {lang: {"file": a.sound or f"incident/{a.number}-{lang}",
                   "text": a.message.strip() + SUFFIX.get(lang, SUFFIX["en"])} for lang in languages}


def _goodbye(languages: list[str]) -> dict[str, Any]:
    return {lang: {"file": f"callcenter/{lang}/goodbye", "text": GOODBYE.get(lang, GOODBYE["en"])}
            for lang in languages}


def add(text: str, a: Announcement, centre_language: str = "zh") -> str:
    """The menu text with the announcement in (raises AnnounceError)."""
    data = _as_menu_mode(_load(text))
    nodes: dict[str, Any] = dict(data.get("nodes") or {})
    if a.node in nodes:
        raise AnnounceError(f"the menu already has a node {a.node}")
    languages = list(data.get("languages") or [centre_language])
    if a.scope == "all":
        after = str(data["start"])
        data["start"] = a.node
    else:
        after = _redirect_topic(nodes, a.scope[6:].strip(), a.node)
    nodes[a.node] = {"kind": "menu", "prompt": _prompt(a, languages), "choices": {"1": a.node, "2": after},
                     "timeout": 5, "retries": 0, "fallback": f"{a.node}-bye"}
    nodes[f"{a.node}-bye"] = {"kind": "hangup", "prompt": _goodbye(languages)}
    data["nodes"] = nodes
    data["max_depth"] = min(10, int(data.get("max_depth", 4)) + 1)  # the announcement is one more level
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def _redirect_topic(nodes: dict[str, Any], topic: str, node: str) -> str:
    """Point the choices that lead to ``topic`` at ``node``; returns where they led (one target)."""
    targets = {name for name, n in nodes.items() if isinstance(n, dict) and (n.get("topic") == topic or name == topic)}
    hits: list[tuple[dict[str, Any], str]] = []
    for choices in _menu_choices(nodes):
        for digits, target in choices.items():
            if target in targets:
                hits.append((choices, digits))
    led = {choices[d] for choices, d in hits}
    if not hits:
        raise AnnounceError(f"no menu choice leads to topic {topic!r}")
    if len(led) > 1:
        raise AnnounceError(f"topic {topic!r} is reached through several nodes ({', '.join(sorted(led))})")
    for choices, digits in hits:
        choices[digits] = node
    return led.pop()


def _menu_choices(nodes: dict[str, Any]) -> list[dict[str, Any]]:
    return [n["choices"] for n in nodes.values()
            if isinstance(n, dict) and n.get("kind") == "menu" and isinstance(n.get("choices"), dict)]


_NODE = re.compile(rf"^{PREFIX}(\d+)$")


def remove(text: str, number: int) -> str:
    """The menu text without announcement ``number`` (what it pointed to gets its callers back)."""
    data = _load(text)
    nodes: dict[str, Any] = dict(data.get("nodes") or {})
    node = f"{PREFIX}{number}"
    if node not in nodes:
        raise AnnounceError(f"the menu has no announcement {node}")
    after = nodes[node]["choices"]["2"]
    del nodes[node]
    nodes.pop(f"{node}-bye", None)
    if data.get("start") == node:
        data["start"] = after
    for choices in _menu_choices(nodes):
        for digits, target in list(choices.items()):
            if target == node:
                choices[digits] = after
    data["nodes"] = nodes
    data["max_depth"] = max(1, int(data.get("max_depth", 5)) - 1)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def announcements_in(text: str) -> list[int]:
    data = _load(text)
    return sorted(int(m.group(1)) for name in (data.get("nodes") or {}) if (m := _NODE.match(str(name))))
