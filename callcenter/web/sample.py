"""A realistic snapshot in the LiveStats shape, for the screenshot script, demos and tests.

A 12345 hotline mid-afternoon: four queues, a morning peak, the rate a little under target.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TZ = "Asia/Shanghai"

# (hour, offered, answered) of a weekday, up to the current hour (still filling).
_HOURS = [
    (0, 38, 37), (1, 22, 22), (2, 15, 15), (3, 11, 11), (4, 9, 9), (5, 14, 14), (6, 41, 41),
    (7, 96, 94), (8, 212, 203), (9, 268, 251), (10, 245, 236), (11, 198, 193), (12, 131, 129),
    (13, 176, 172), (14, 231, 222), (15, 104, 101),
]  # fmt: skip


def sample_snapshot(now: datetime | None = None) -> dict[str, Any]:
    tz = ZoneInfo(TZ)
    now = now or datetime(2025, 3, 18, 15, 27, 42, tzinfo=tz)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    intervals = [
        {
            "start": (day + timedelta(hours=h)).isoformat(),
            "offered": o,
            "answered": a,
            "connection_rate": a / o if o else None,
        }
        for h, o, a in _HOURS
    ]
    offered = sum(o for _, o, _ in _HOURS)
    answered = sum(a for _, _, a in _HOURS)
    queues = [
        ("general", "综合咨询", 4, 48.0, 1082, 1049, 31),
        ("complaint", "投诉举报", 2, 95.0, 372, 356, 15),
        ("utilities", "水电气暖", 1, 12.0, 272, 266, 5),
        ("elderly", "老年人专线", 0, None, 85, 79, 6),
    ]
    return {
        "now": now.isoformat(),
        "tz": TZ,
        "target": 0.97,
        "centre": {
            "offered": offered,
            "answered": answered,
            "abandoned": offered - answered - 4,
            "connection_rate": answered / offered,
            "connection_rate_1h": 0.9612,
            "connection_rate_24h": 0.9655,
            "asa": 13.4,
            "answered_15s_rate": 0.874,
            "longest_wait_today": 312.0,
            "longest_wait_now": 95.0,
            "waiting": sum(q[2] for q in queues),
        },
        "queues": [
            {
                "name": name,
                "label": label,
                "waiting": waiting,
                "longest_wait_now": longest,
                "offered": q_offered,
                "answered": q_answered,
                "abandoned": q_abandoned,
                "connection_rate": q_answered / q_offered,
            }
            for name, label, waiting, longest, q_offered, q_answered, q_abandoned in queues
        ],
        "agents": {"ready": 7, "reserved": 2, "on_call": 23, "wrap_up": 5, "not_ready": 3, "logged_out": 12},
        "intervals": intervals,
        "ami_connected": True,
        "callbacks": {"pending": 3, "answered": 17, "failed": 2},
    }


class FakeLiveStats:
    """A snapshot provider whose figures a test (or demo) changes by hand."""

    def __init__(self, snapshot: dict[str, Any] | None = None) -> None:
        self.current = copy.deepcopy(snapshot) if snapshot is not None else sample_snapshot()
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return copy.deepcopy(self.current)
