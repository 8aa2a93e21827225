"""A caller's IVR path in words, for people: 'welcome>language:1>main:2>to-complaints' -> '普通话 › 投诉举报'.

Pure. Only the caller's answers are told (a language picked, a menu choice, a key not pressed); the nodes
played on the way are not. A menu choice is named by what it leads to: the topic or queue the next set
node gives the call (the queue's label from ``queue_labels``), else the target node's name.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.model import LanguageNode, Menu, MenuNode, PlayNode, SetNode

LANGUAGES = {"zh": {"zh": "普通话", "en": "英语"}, "en": {"zh": "Mandarin", "en": "English"}}
NO_KEY = {"zh": "未按键", "en": "no key"}
HUNG_UP = {"zh": "挂机", "en": "hung up"}
SEPARATOR = " › "


def path_in_words(menu: Menu | None, path: str, language: str, queue_labels: Mapping[str, str]) -> str:
    lang = "en" if language == "en" else "zh"
    words = []
    for step in path.split(">") if path else []:
        name, sep, digits = step.partition(":")
        if not sep:
            continue
        if digits == "timeout":
            words.append(NO_KEY[lang])
        elif digits == "hangup":
            words.append(HUNG_UP[lang])
        else:
            node = menu.nodes.get(name) if menu is not None else None
            words.append(_answer(menu, node, digits, lang, queue_labels))
    kept = [w for i, w in enumerate(words) if w and (i == 0 or w != words[i - 1])]  # a menu re-asked: once
    return SEPARATOR.join(kept)


def _answer(menu: Menu | None, node: object, digits: str, lang: str, queue_labels: Mapping[str, str]) -> str:
    if isinstance(node, LanguageNode):
        code = next((c.language for c in node.choices if c.digits == digits), "")
        return LANGUAGES[lang].get(code, code or digits)
    if isinstance(node, MenuNode) and menu is not None:
        target = node.target_for(digits)
        return _destination(menu, target, queue_labels) if target else digits
    return digits


def _destination(menu: Menu, target: str, queue_labels: Mapping[str, str]) -> str:
    """What a choice leads to: the topic or queue a set node gives the call (through play nodes)."""
    at: str | None = target
    for _ in range(8):
        node = menu.nodes.get(at) if at else None
        if isinstance(node, SetNode):
            if node.topic:
                return node.topic
            if node.queue:
                return queue_labels.get(node.queue, node.queue)
            at = node.next
        elif isinstance(node, PlayNode):
            at = node.next
        else:
            break
    return target
