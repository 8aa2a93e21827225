"""Shifts: time zones, midnight crossing, rotations, breaks, Chinese holidays, rules in the engine,
check_week."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agents.shifts import (
    Break,
    Calendar,
    Roster,
    ShiftError,
    ShiftRules,
    ShiftTemplate,
    Staffing,
    Team,
    check_week,
    parse_week,
)
from queueing import (
    AgentLoggedIn,
    AgentReady,
    AgentSpec,
    AgentState,
    CallEnded,
    CallQueued,
    Engine,
    EngineConfig,
    ForceAgentState,
    NotOnShift,
    OfferAnswered,
    QueueSpec,
)
from queueing.harness import Harness

SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)  # ISO 2026-W10


def local(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=SH).astimezone(UTC)


DAY = ShiftTemplate("day", time(8), time(16), breaks=(Break(time(12), 60),))
NIGHT = ShiftTemplate("night", time(22), time(6))
OFFICE = ShiftTemplate("office", time(9), time(17), days="workdays")


def roster(**kw: object) -> Roster:
    base: dict[str, object] = {
        "shifts": (DAY, NIGHT, OFFICE),
        "teams": (
            Team("A", ("a1",), ("day", "night")),
            Team("B", ("b1",), ("night", "day")),
            Team("O", ("o1",), ("office",)),
        ),
        "anchor": MONDAY,
    }
    base.update(kw)
    return Roster(**base)  # type: ignore[arg-type]


def test_rotation_alternates_weekly() -> None:
    r = roster()
    assert r.starting_on("a1", MONDAY)[0].start == local(MONDAY, 8)
    next_week = MONDAY + timedelta(days=7)
    assert r.starting_on("a1", next_week)[0].start == local(next_week, 22)
    assert r.starting_on("b1", MONDAY)[0].start == local(MONDAY, 22)


def test_night_shift_crosses_midnight_in_local_zone() -> None:
    rules = ShiftRules(roster())
    tue = MONDAY + timedelta(days=1)
    assert rules.ready_allowed("b1", local(tue, 3))  # Monday's night shift
    assert not rules.ready_allowed("b1", local(tue, 7))
    assert rules.logout_at("b1", local(tue, 5)) == local(tue, 6, 5)
    assert local(tue, 3) == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai is UTC+8


def test_ready_grace_and_breaks() -> None:
    rules = ShiftRules(roster())
    assert not rules.ready_allowed("a1", local(MONDAY, 7, 49))
    assert rules.ready_allowed("a1", local(MONDAY, 7, 50))
    assert not rules.ready_allowed("a1", local(MONDAY, 12, 30))  # on a break
    assert rules.offers_close_at("a1", local(MONDAY, 10)) == local(MONDAY, 15, 55)


def test_chinese_holidays_and_adjusted_working_days() -> None:
    r = roster()
    assert r.starting_on("o1", date(2026, 10, 1)) == ()  # National Day
    assert r.starting_on("o1", date(2026, 1, 4)) != ()  # Sunday made a working day
    assert r.starting_on("o1", date(2026, 3, 7)) == ()  # an ordinary Saturday


def test_holiday_overrides_from_config() -> None:
    r = roster(calendar=Calendar({date(2026, 3, 4): False, date(2026, 3, 7): True}))
    assert r.starting_on("o1", date(2026, 3, 4)) == ()
    assert r.starting_on("o1", date(2026, 3, 7)) != ()


def test_bad_roster_is_rejected() -> None:
    with pytest.raises(ShiftError):
        roster(teams=(Team("X", ("x",), ("nope",)),))
    with pytest.raises(ShiftError):
        roster(anchor=date(2026, 3, 3))
    with pytest.raises(ShiftError):
        parse_week("2026-10")


def _engine() -> Harness:
    cfg = EngineConfig((QueueSpec("q"),), (AgentSpec("a1", ("q",)), AgentSpec("sup", ("q",))))
    return Harness(Engine(cfg, ShiftRules(roster())), local(MONDAY, 7))


def test_engine_refuses_ready_off_shift() -> None:
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 7), "a1"))
    with pytest.raises(NotOnShift):
        h.send(AgentReady(local(MONDAY, 7), "a1"))
    assert h.engine.agent_state("a1")[0] is AgentState.NOT_READY
    h.send(AgentReady(local(MONDAY, 7, 55), "a1"))
    assert h.engine.agent_state("a1")[0] is AgentState.READY


def test_no_new_offer_in_last_minutes_and_logout_after_grace() -> None:
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 8), "a1"))
    h.send(AgentReady(local(MONDAY, 8), "a1"))
    h.send(CallQueued(local(MONDAY, 15, 56), "c1", "q"))
    assert h.engine.call_state("c1") == "waiting"
    h.advance(local(MONDAY, 16, 5))
    assert h.engine.agent_state("a1")[0] is AgentState.LOGGED_OUT


def test_call_in_progress_is_never_cut() -> None:
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 8), "a1"))
    h.send(AgentReady(local(MONDAY, 8), "a1"))
    h.send(CallQueued(local(MONDAY, 15, 50), "c1", "q"))
    h.send(OfferAnswered(local(MONDAY, 15, 51), "c1", "a1"))
    h.advance(local(MONDAY, 16, 30))
    assert h.engine.agent_state("a1")[0] is AgentState.ON_CALL
    h.send(CallEnded(local(MONDAY, 16, 40), "c1"))
    assert h.engine.agent_state("a1")[0] is AgentState.LOGGED_OUT


def test_agent_without_team_is_not_bound() -> None:
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 3), "sup"))
    h.send(AgentReady(local(MONDAY, 3), "sup"))
    h.send(CallQueued(local(MONDAY, 3), "c1", "q"))
    assert h.engine.call_agent("c1") == "sup"


def test_check_week_reports_gaps() -> None:
    r = roster(
        staffing=(Staffing("q", 1),),
        agent_queues={"a1": ("q",), "b1": ("q",)},
    )
    gaps = check_week(r, "2026-W10")
    # a1 works days 08-16 with a 12-13 break (and the night before, Sunday 22-06: week -1 of its
    # rotation), b1 nights 22-06: 06-08, 12-13, 16-22 are uncovered
    monday = [g for g in gaps if g.start.date() == MONDAY]
    spans = [(g.start.strftime("%H:%M"), g.end.strftime("%H:%M")) for g in monday]
    assert spans == [("06:00", "08:00"), ("12:00", "13:00"), ("16:00", "22:00")]
    assert all(g.required == 1 and g.scheduled == 0 for g in gaps)
    tuesday = [g for g in gaps if g.start.date() == MONDAY + timedelta(days=1)]
    assert (tuesday[0].start.hour, tuesday[0].end.hour) == (6, 8)
    assert "q: Mon 2026-03-02 12:00-13:00 0/1 agents" in [str(g) for g in gaps]


def test_supervisor_cannot_force_ready_off_shift() -> None:
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 7), "a1"))  # its night shift ended at 06:00, the day one is at 08:00
    with pytest.raises(NotOnShift):
        h.send(ForceAgentState(local(MONDAY, 7), "a1", AgentState.READY, "", "sup"))
    assert h.engine.agent_state("a1") == (AgentState.NOT_READY, "login")


def test_check_week_workday_staffing_skips_holidays() -> None:
    r = roster(
        teams=(Team("O", ("o1",), ("office",)),),
        staffing=(Staffing("q", 2, time(9), time(17), days="workdays"),),
        agent_queues={"o1": ("q",)},
    )
    gaps = check_week(r, "2026-W40")  # Mon 28 Sep .. Sun 4 Oct: 1-4 Oct are National Day holidays
    days = sorted({g.start.date() for g in gaps})
    assert days == [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)]
    assert all(g.scheduled == 1 and g.required == 2 for g in gaps)


def test_free_again_inside_a_break_goes_on_break_not_off_shift() -> None:
    # a1's day shift has a break 12:00-13:00. A call that ends in the break: after the wrap-up the agent
    # is not_ready(break), not closed for the rest of the shift; ready again after the break.
    h = _engine()
    h.send(AgentLoggedIn(local(MONDAY, 8), "a1"))
    h.send(AgentReady(local(MONDAY, 8), "a1"))
    h.send(CallQueued(local(MONDAY, 11, 50), "c1", "q"))
    h.send(OfferAnswered(local(MONDAY, 11, 50), "c1", "a1"))
    h.send(CallEnded(local(MONDAY, 12, 10), "c1"))
    h.advance(local(MONDAY, 12, 20))
    assert h.engine.agent_state("a1") == (AgentState.NOT_READY, "break")
    with pytest.raises(NotOnShift):
        h.send(AgentReady(local(MONDAY, 12, 30), "a1"))
    h.send(AgentReady(local(MONDAY, 13), "a1"))
    h.send(CallQueued(local(MONDAY, 13, 5), "c2", "q"))
    assert h.engine.call_agent("c2") == "a1"


def test_break_waves_stagger_a_team() -> None:
    shift = ShiftTemplate("day", time(8), time(16), breaks=(Break(time(12), 30, waves=2),))
    r = roster(shifts=(shift,), teams=(Team("A", ("a1", "a2", "a3"), ("day",)),))
    starts = [r.starting_on(a, MONDAY)[0].breaks[0][0] for a in ("a1", "a2", "a3")]
    assert starts == [local(MONDAY, 12), local(MONDAY, 12, 30), local(MONDAY, 12)]
    rules = ShiftRules(r)
    assert rules.break_until("a2", local(MONDAY, 12, 40)) == local(MONDAY, 13)
    assert rules.next_change("a2", local(MONDAY, 9)) == local(MONDAY, 12, 30)
    assert rules.next_change("a2", local(MONDAY, 13)) == local(MONDAY + timedelta(days=1), 7, 50)
