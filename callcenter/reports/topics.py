"""Hot topics: the categories, topics, districts (and district x topic pairs) and the words of the
tickets' Chinese text that rose most against the previous period of the same length.

A rise is measured against what the previous period predicts once the overall volume change is
taken out: expected = previous x (tickets now / tickets before); rise = now - expected;
score = rise / sqrt(expected + 1) (a Poisson-like z score, so that 3 -> 12 outranks 300 -> 320).
Only keys with at least `min_count` tickets now are listed.

Text: the template phrases agents type around a request (来电人反映, 市民来电称, 要求 ...) are removed, then
each ticket's content is cut into words by jieba (a Chinese segmenter, its own dictionary plus an HMM for
words it does not know: 网约车 stays one word) and each word of two or more Han characters counts once per
ticket, stop words aside. `bigrams` (adjacent character pairs) is kept for callers that want no dictionary.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from callcenter.reports.tickets import TicketRow

HAN = re.compile(r"[\u4e00-\u9fff]+")
DIMENSIONS = ("category", "topic", "district", "district_topic", "words")
MIN_COUNT = 5
TOP_N = 10
# Bigrams too common in requests to say anything (要求, 咨询 ...).
STOP_BIGRAMS = frozenset({"要求", "咨询", "请求", "反映", "投诉", "市民", "问题", "处理", "不处", "某小", "小区",
                          "某路", "路口", "某街", "街道"})


# Phrases of the ticket template, not of the citizen: removed before the text is cut (longest first).
TEMPLATE_PHRASES = ("来电人反映", "来电人称", "来电人表示", "来电人咨询", "来电人", "市民来电反映", "市民来电称",
                    "市民反映", "来电反映", "来电称", "来电咨询", "来电", "反映")
TEMPLATE = re.compile("|".join(sorted(TEMPLATE_PHRASES, key=len, reverse=True)))
# Words too common in requests to say anything.
STOP_WORDS = frozenset({"要求", "咨询", "请求", "投诉", "市民", "问题", "处理", "希望", "相关", "部门", "情况",
                        "没有", "现在", "目前", "已经", "一直", "进行", "小区", "街道", "路口", "某小区", "影响"})


@cache
def _jieba() -> Any:
    """jieba, loaded once (its dictionary takes about a second). Its import touches pkg_resources, which
    newer setuptools deprecate: that warning is jieba's, not ours. Its log lines go below WARNING."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    return jieba


def words(text: str) -> set[str]:
    """The words of a ticket's text (two or more Han characters), template phrases and stop words removed."""
    cleaned = TEMPLATE.sub(" ", text)
    return {w for w in _jieba().lcut(cleaned) if len(w) >= 2 and HAN.fullmatch(w)} - STOP_WORDS


def bigrams(text: str) -> set[str]:
    out: set[str] = set()
    for run in HAN.findall(text):
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out - STOP_BIGRAMS


def _keys(dimension: str) -> Callable[[TicketRow], Iterable[str]]:
    if dimension == "words":
        return lambda t: words(t.content)
    if dimension == "district_topic":
        return lambda t: (f"{t.district} · {t.topic}",)
    return lambda t: (str(getattr(t, dimension)),)


class NoBaseline(ValueError):
    """The previous period holds no ticket: nothing to measure a rise against (every key would 'rise')."""


@dataclass(frozen=True, slots=True)
class Rise:
    key: str
    now: int
    before: int
    expected: float
    score: float

    @property
    def rise(self) -> float:
        return self.now - self.expected


@dataclass(frozen=True, slots=True)
class TopicsReport:
    since: datetime
    until: datetime
    prev_since: datetime
    tickets_now: int
    tickets_before: int
    rises: dict[str, tuple[Rise, ...]]  # dimension -> the top rises, highest score first


def rises(now: Sequence[TicketRow], before: Sequence[TicketRow], dimension: str, min_count: int = MIN_COUNT,
          top: int = TOP_N) -> tuple[Rise, ...]:
    key = _keys(dimension)
    c_now: Counter[str] = Counter(k for t in now for k in key(t))
    c_before: Counter[str] = Counter(k for t in before for k in key(t))
    scale = len(now) / len(before) if before else 1.0
    out = []
    for k, n in c_now.items():
        if n < min_count:
            continue
        expected = c_before.get(k, 0) * scale
        score = (n - expected) / math.sqrt(expected + 1)
        if score > 0:
            out.append(Rise(k, n, c_before.get(k, 0), round(expected, 2), round(score, 4)))
    out.sort(key=lambda r: (-r.score, r.key))
    return tuple(out[:top])


def topics_report(source_now: Sequence[TicketRow], source_before: Sequence[TicketRow], since: datetime,
                  until: datetime, min_count: int = MIN_COUNT, top: int = TOP_N) -> TopicsReport:
    prev_since = since - (until - since)
    if not source_before:
        raise NoBaseline(f"no tickets in the previous period {prev_since.isoformat()} .. {since.isoformat()}: "
                         "no baseline to compare with")
    return TopicsReport(since, until, prev_since, len(source_now), len(source_before),
                        {d: rises(source_now, source_before, d, min_count, top) for d in DIMENSIONS})
