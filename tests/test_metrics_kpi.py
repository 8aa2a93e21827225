"""KPI arithmetic on a hand-worked day (Asia/Shanghai, UTC+8); the calls are listed in
records.testing.hand_worked_day().

Day 1 centre: offered 5 (A B C D F), answered 3 (A B F), abandoned 2 (C D) + 1 in the IVR,
connection rate 3/5, ASA (10+20+12)/3 = 14, longest wait 40, answered within 15 s: A F -> 2/5.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics.kpi import by_queue, day_bounds, interval_start, intervals, kpi
from records.testing import hand_worked_day
from records.testing import local_at as at

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


# --- service level vs answered in time; short abandons; handle time; per agent / shift ----------------

def test_service_level_divides_by_offered_and_in_time_rate_by_answered() -> None:
    k = kpi(DAY1)  # answered within 15 s: A (10 s), F (12 s); B waited 20 s
    assert k.service_level == pytest.approx(2 / 5)
    assert k.answered_in_time_rate == pytest.approx(2 / 3)
    assert k.answered_15s_rate == k.service_level  # the old name is the service level
    assert kpi(DAY1, sl_seconds=20).answered_in_time_rate == pytest.approx(1.0)


def test_short_abandons_leave_offered_and_abandoned_when_the_exclusion_is_on() -> None:
    from records.testing import make_record

    quick = make_record("Q", "abandoned_queue", entered_at=at(9, 50), wait=4)
    ringing = make_record("R", "abandoned_ringing", entered_at=at(9, 51), wait=5, ring=2)
    calls = [*DAY1, quick, ringing]
    off = kpi(calls)
    assert (off.offered, off.abandoned, off.short_abandoned) == (7, 4, 0)
    on = kpi(calls, short_abandon_seconds=5)
    assert (on.offered, on.answered, on.abandoned, on.short_abandoned) == (5, 3, 2, 2)
    assert on.connection_rate == pytest.approx(3 / 5)
    # C waited 30 s and D 40 s: longer than 5 s, still abandoned; with 30 s C is short too.
    assert kpi(calls, short_abandon_seconds=30).offered == 4
    from metrics.kpi import rate_label

    assert rate_label("zh", 5) == "接通率（不含5秒内放弃）" and rate_label("zh", 0) == "接通率"
    assert "5 s" in rate_label("en", 5)


def test_abandon_rates_by_stage_and_average_handle_time() -> None:
    k = kpi(DAY1)
    assert k.abandon_rate_queue == pytest.approx(1 / 5) and k.abandon_rate_ringing == pytest.approx(1 / 5)
    assert k.abandon_rate_ivr == pytest.approx(1 / 6)  # E of the six calls that came in
    assert k.avg_talk == pytest.approx(60.0)  # make_record talks 60 s
    assert k.aht(wrap_up_seconds=90.0) == pytest.approx((180 + 90) / 3)
    assert kpi([E]).aht(10.0) is None


def test_calls_per_agent_and_per_shift_with_a_night_shift_over_midnight() -> None:
    from datetime import time

    from metrics.kpi import ShiftWindow, by_agent, by_shift

    assert {a: k.answered for a, k in by_agent(ALL).items()} == {"1001": 4}
    shifts = [ShiftWindow("day", time(8), time(16)), ShiftWindow("evening", time(16), time(23)),
              ShiftWindow("night", time(23), time(8))]
    got = {s: (k.offered, k.answered) for s, k in by_shift(ALL, shifts).items()}
    # A B C D on the day shift (E is an IVR hang-up: counted in, not offered); F 23:59:50 and G 00:10 at night.
    assert got == {"day": (4, 2), "night": (2, 2)}


def test_an_interval_with_no_calls_has_no_rates_not_zero() -> None:
    rows = intervals(ALL, at(3, 0), at(4, 0), minutes=15)
    assert [r.kpi.offered for r in rows] == [0, 0, 0, 0]
    assert all(r.kpi.connection_rate is None and r.kpi.service_level is None and r.kpi.asa is None for r in rows)
