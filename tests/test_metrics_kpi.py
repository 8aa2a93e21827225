"""KPI arithmetic on a hand-worked day (Asia/Shanghai, UTC+8); the calls are listed in
tickets.testing.hand_worked_day().

Day 1 centre: offered 5 (A B C D F), answered 3 (A B F), abandoned 2 (C D) + 1 in the IVR,
connection rate 3/5, ASA (10+20+12)/3 = 14, longest wait 40, answered within 15 s: A F -> 2/5.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.kpi import by_queue, day_bounds, interval_start, intervals, kpi
from tickets.testing import hand_worked_day
from tickets.testing import local_at as at

CALLS = hand_worked_day()
DAY1 = [CALLS[k] for k in "ABCDEF"]
ALL = [*DAY1, CALLS["G"]]
E = CALLS["E"]


def test_centre_day_one() -> None:
    k = kpi(DAY1)
    assert (k.offered, k.answered, k.abandoned) == (5, 3, 2)
    assert k.abandoned_by_stage == {"ivr": 1, "queue": 1, "ringing": 1}
    assert k.connection_rate == pytest.approx(0.6)
    assert k.asa == pytest.approx(14.0)
    assert k.longest_wait == 40.0
    assert k.answered_15s_rate == pytest.approx(0.4)


def test_nothing_offered_gives_none_not_zero() -> None:
    k = kpi([E])
    assert (k.offered, k.answered) == (0, 0)
    assert k.connection_rate is None and k.asa is None and k.answered_15s_rate is None
    assert k.longest_wait is None
    assert kpi([]).connection_rate is None


def test_per_queue() -> None:
    q = by_queue(DAY1)
    assert set(q) == {"main", "tax"}  # the IVR hang-up belongs to no queue
    main, tax = q["main"], q["tax"]
    assert (main.offered, main.answered, main.abandoned) == (3, 2, 1)
    assert main.connection_rate == pytest.approx(2 / 3)
    assert main.asa == pytest.approx(15.0) and main.longest_wait == 30.0
    assert main.answered_15s_rate == pytest.approx(1 / 3)
    assert (tax.offered, tax.answered, tax.abandoned) == (2, 1, 1)
    assert tax.connection_rate == pytest.approx(0.5) and tax.asa == pytest.approx(12.0)


def test_hourly_intervals_of_day_one_include_empty_hours_and_the_midnight_call() -> None:
    start, end = day_bounds(at(12, 0))
    rows = intervals(ALL, start, end, minutes=60, tz="Asia/Shanghai")
    assert len(rows) == 24
    assert rows[0].start.isoformat() == "2026-03-01T00:00:00+08:00"
    by_hour = {r.start.hour: r.kpi for r in rows}
    assert (by_hour[9].offered, by_hour[9].answered) == (3, 2)
    assert (by_hour[10].offered, by_hour[10].answered) == (1, 0)
    assert by_hour[10].abandoned_by_stage == {"ivr": 1, "queue": 0, "ringing": 1}
    # F was queued at 23:59:50 and answered after midnight: it counts in the 23:00 interval of day 1.
    assert (by_hour[23].offered, by_hour[23].answered) == (1, 1)
    assert by_hour[11].offered == 0 and by_hour[11].connection_rate is None  # an hour with no calls
    assert sum(r.kpi.offered for r in rows) == 5  # G belongs to day 2


def test_day_two_starts_with_g_only() -> None:
    start, end = day_bounds(at(0, 30, day=2))
    rows = intervals(ALL, start, end, minutes=60)
    assert rows[0].start.isoformat() == "2026-03-02T00:00:00+08:00"
    assert rows[0].kpi.offered == 1 and rows[0].kpi.answered == 1  # G, not F
    assert sum(r.kpi.offered for r in rows) == 1


@pytest.mark.parametrize(("minutes", "expected"), [
    (15, {"09:00": (1, 1), "09:15": (1, 1), "09:30": (1, 0), "09:45": (0, 0)}),
    (30, {"09:00": (2, 2), "09:30": (1, 0)}),
])
def test_finer_intervals(minutes: int, expected: dict[str, tuple[int, int]]) -> None:
    rows = intervals(ALL, at(9, 0), at(10, 0), minutes=minutes)
    assert len(rows) == 60 // minutes
    got = {r.start.strftime("%H:%M"): (r.kpi.offered, r.kpi.answered) for r in rows}
    assert got == expected


def test_per_queue_intervals() -> None:
    rows = intervals(ALL, at(9, 0), at(11, 0), minutes=60, queue="tax")
    assert [(r.kpi.offered, r.kpi.answered) for r in rows] == [(0, 0), (1, 0)]


def test_interval_start_aligns_to_the_local_wall_clock() -> None:
    assert interval_start(at(9, 44, 59), 15).isoformat() == "2026-03-01T09:30:00+08:00"
    assert interval_start(at(0, 0), 60).isoformat() == "2026-03-01T00:00:00+08:00"
    # The same instant in another zone falls in another local hour.
    assert interval_start(at(9, 44), 60, "Europe/London").isoformat() == "2026-03-01T01:00:00+00:00"
    with pytest.raises(ValueError):
        interval_start(at(9, 0), 20)


def test_day_bounds_are_local_midnights() -> None:
    start, end = day_bounds(at(0, 0, 1, day=2))
    assert start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 +08:00
    assert end - start == timedelta(days=1)
