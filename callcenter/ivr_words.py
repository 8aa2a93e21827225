"""The caller's IVR path in words for the agent's screen-pop (pure).

A path is what the IVR records: ``welcome>language:1>hours=main>main:2``. The agent reads the choices,
each as the menu says it: the phrase the prompt puts before the key ("投诉举报请按2" -> 投诉举报,
"complaints 2" -> complaints), else the topic or queue the key leads to, else the language picked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ivr.model import DTMF_KEYS, LanguageNode, Menu, MenuNode, SetNode

LANGUAGE_NAMES = {"zh": {"zh": "普通话", "en": "英语"}, "en": {"zh": "Mandarin", "en": "English"}}
INVALID_KEY = {"zh": "按键{digits}（无效）", "en": "key {digits} (not a choice)"}
NO_KEY = {"zh": "未按键", "en": "no key"}
# "咨询请按1，投诉举报请按2" and "Enquiries 1, complaints 2, an agent 0."
_ZH_PHRASE = re.compile(r"([^，。,.；;：:\s]+?)\s*请按\s*([0-9*#]+)")
_EN_PHRASE = re.compile(r"([A-Za-z][A-Za-z' -]*?)\s+(?:press\s+)?([0-9*#]+)\b", re.IGNORECASE)


def prompt_phrases(text: str) -> dict[str, str]:
    """{digits: phrase} as a menu prompt says them."""
    out: dict[str, str] = {}
    for pattern in (_ZH_PHRASE, _EN_PHRASE):
        for phrase, digits in pattern.findall(text):
            phrase = re.sub(r"^(for|an?|the)\s+", "", phrase.strip(), flags=re.IGNORECASE)
            if phrase and digits not in out:
                out[digits] = phrase
    return out


def _behind(menu: Menu, target: str | None, queue_labels: Mapping[str, str]) -> str:
    """The topic or queue a choice leads to (through set nodes)."""
    for _ in range(8):
        node = menu.nodes.get(target) if target else None
        if not isinstance(node, SetNode):
            return ""
        if node.topic:
            return node.topic
        if node.queue:
            return queue_labels.get(node.queue, "")
        target = node.next
    return ""


def ivr_words(menu: Menu | None, path: str, language: str, queue_labels: Mapping[str, str] | None = None,
              ) -> list[str]:
    """Each choice the caller made, in words (the centre's ``language``)."""
    lang = "en" if language == "en" else "zh"
    labels = queue_labels or {}
    words: list[str] = []
    for step in path.split(">") if path else []:
        name, sep, digits = step.partition(":")
        if not sep or not digits or (not set(digits) <= DTMF_KEYS and digits != "timeout"):
            continue  # a node passed through, or a collected value (not read out on the pop)
        node = menu.nodes.get(name) if menu is not None else None
        word = ""
        if digits == "timeout":
            word = NO_KEY[lang]
        elif isinstance(node, LanguageNode):
            picked = next((c.language for c in node.choices if c.digits == digits), "")
            word = LANGUAGE_NAMES[lang].get(picked, picked)
        elif isinstance(node, MenuNode):
            target = node.target_for(digits)
            if target is not None:
                word = prompt_phrases(node.prompt.for_language(lang).text).get(digits, "") \
                    or _behind(menu, target, labels) or target  # type: ignore[arg-type]
        word = word or INVALID_KEY[lang].format(digits=digits)
        if not words or words[-1] != word:  # three timeouts in a row read as one
            words.append(word)
    return words
