"""Place names (小区, roads, townships) out of the text an agent types, and the caller's area out of a
number.

Names the centre lists (its gazetteer: estates, roads, townships, with aliases) are found first and
win; other place-like words come from jieba's part-of-speech tagger (``ns``: place name) or end in a
place suffix (小区, 花园, 路, 街 ...). jieba is loaded once, lazily (its dictionary takes about a second).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

#: endings that make a word a place in a 12345 ticket
SUFFIXES = ("小区", "花园", "家园", "新村", "公寓", "大厦", "广场", "苑", "园", "村", "路", "街", "道", "巷",
            "桥", "镇", "乡", "街道", "社区", "大街", "大道")
HAN = re.compile(r"^[\u4e00-\u9fff0-9A-Za-z]{2,20}$")


@cache
def load_segmenter() -> Any:
    """jieba's tagger. Its import touches pkg_resources, which newer setuptools deprecate: that warning
    is jieba's, not ours. Its log lines go below WARNING."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    return jieba.posseg


class Gazetteer:
    """Known places: canonical name -> aliases. ``find`` returns canonical names, longest match first."""

    def __init__(self, places: Mapping[str, Iterable[str]] | Iterable[str] = ()) -> None:
        table = places if isinstance(places, Mapping) else {p: () for p in places}
        self.alias: dict[str, str] = {}
        for name, aliases in table.items():
            for word in (name, *aliases):
                if word:
                    self.alias[word] = name
        self.words = sorted(self.alias, key=len, reverse=True)

    def find(self, text: str) -> list[str]:
        found: list[str] = []
        rest = text
        for word in self.words:
            if word in rest:
                found.append(self.alias[word])
                rest = rest.replace(word, " ")
        return list(dict.fromkeys(found))


def extract_places(text: str, gazetteer: Gazetteer | None = None, *, segmenter: bool = True) -> tuple[str, ...]:
    """Places named in ``text``: the gazetteer's first, then jieba's place words (at most 3 in all)."""
    found = gazetteer.find(text) if gazetteer is not None else []
    if segmenter and text.strip():
        rest = text
        for word in found:
            rest = rest.replace(word, " ")
        for pair in load_segmenter().cut(rest):
            word, flag = pair.word, pair.flag
            if HAN.match(word) and (flag == "ns" or word.endswith(SUFFIXES)) and word not in SUFFIXES:
                found.append(word)
    return tuple(dict.fromkeys(found))[:3]


def area_of_number(number: str, prefixes: Mapping[str, str]) -> str:
    """The area a number says (a landline's area code and exchange), longest prefix first; '' if none."""
    digits = "".join(c for c in number if c.isdigit())
    for prefix in sorted(prefixes, key=len, reverse=True):
        if prefix and digits.startswith(prefix):
            return prefixes[prefix]
    return ""
