"""A richer seeded history than `report seed-month`: a quarter of 12345 traffic with the shapes a planner
must see (Monday peaks, busy holiday eves and first days back, quiet holidays, one surge morning), played
through the ACD engine with the config's roster (staffing/simulate.py), so that abandonment, waits and
agent state intervals come out of the real routing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from callcenter.reports.month import HOURLY, QUEUE_WEIGHTS
from staffing.forecast import day_kind
from staffing.history import SLOTS

KIND_FACTOR = {"mon": 1.25, "tue": 1.05, "wed": 1.0, "thu": 1.0, "fri": 0.95, "sat": 0.75, "sun": 0.7,
               "holiday": 0.55, "eve": 1.2, "after": 1.35, "adjusted": 1.05}
SURGE = (1.8, 18, 24)  # factor, first and last slot (09:00-12:00)


def day_profile(kind: str) -> NDArray[np.float64]:
    """Expected calls per slot on a plain weekday (the month seeder's hourly figures), shifted later on
    days off (people ring after a lie-in)."""
    hourly = np.repeat(np.array(HOURLY, dtype=np.float64) / 2.0, 2)
    if kind in ("sat", "sun", "holiday"):
        hourly = np.roll(hourly, 2) * 0.7 + hourly * 0.3
    return hourly


def quarter_rates(first: date, days: int, seed: int = 1,
                  weights: dict[str, float] | None = None) -> tuple[dict[str, NDArray[np.float64]], date]:
    """Per queue, days x SLOTS expected offered calls; and the surge day (in the last third)."""
    rng = random.Random(f"quarter:{seed}:{first}")
    share = weights or QUEUE_WEIGHTS
    surge = first + timedelta(days=rng.randrange(days * 2 // 3, days - 3))
    total = np.zeros((days, SLOTS))
    for i in range(days):
        d = first + timedelta(days=i)
        kind = day_kind(d)
        total[i] = day_profile(kind) * KIND_FACTOR[kind] * rng.uniform(0.95, 1.05)
        if d == surge:
            total[i, SURGE[1] : SURGE[2]] *= SURGE[0]
    return {q: total * w for q, w in share.items()}, surge
