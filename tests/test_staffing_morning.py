"""The morning answer per interval: the cause found by stepping Erlang-A from the plan to what happened."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from metrics.agents import AgentInterval
from records.model import CallRecordData, Outcome
from staffing.history import SLOTS
from staffing.morning import interval_rows

DAY = date(2026, 3, 11)
T0 = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: slot 20


def _call(i: int, answered: bool, offers: int = 1) -> CallRecordData:
    q = T0 + timedelta(seconds=20 * i)
    offered = q + timedelta(seconds=5)
    ans = offered + timedelta(seconds=5) if answered else None
    end = (ans + timedelta(seconds=180)) if ans else q + timedelta(seconds=90)
    return CallRecordData(
        call_id=f"c{i}", linkedid=f"c{i}", caller_number="13800000000", caller_name="", channel="PJSIP/t",
        ivr_path="", language="zh", queue="general", agent_id="1001" if answered else None, entered_at=q,
        queued_at=q, offered_at=offered if answered or offers > 1 else None, answered_at=ans, ended_at=end,
        wait_seconds=((ans or end) - q).total_seconds(), talk_seconds=180.0 if answered else None,
        offers=offers, outcome=Outcome.ANSWERED if answered else Outcome.ABANDONED_QUEUE)


def _agents(n: int, state: str = "ready", reason: str = "") -> list[AgentInterval]:
    return [AgentInterval(f"a{k}", state, reason, T0, T0 + timedelta(minutes=30)) for k in range(n)]


def _row(records: list[CallRecordData], ivs: list[AgentInterval], forecast: float, planned: float) -> object:
    fc = [0.0] * SLOTS
    fc[20] = forecast
    rows = interval_rows(DAY, "Asia/Shanghai", records, ivs, fc, lambda a, b: planned, 200.0, 200.0, 0.97, "en",
                         {"general": 20.0})
    assert len(rows) == SLOTS
    return rows[20]


def test_too_many_calls() -> None:
    calls = [_call(i, answered=i % 5 != 0) for i in range(40)]
    row = _row(calls, _agents(4), forecast=10, planned=4)
    assert row.cause == "calls" and "too many calls" in row.words  # type: ignore[attr-defined]
    assert row.offered == 40 and row.answered == 32  # type: ignore[attr-defined]


def test_too_few_agents_and_agents_not_ready() -> None:
    calls = [_call(i, answered=i % 5 != 0) for i in range(12)]
    absent = _row(calls, _agents(1), forecast=12, planned=4)
    assert absent.cause == "agents"  # type: ignore[attr-defined]
    meeting = [AgentInterval(f"m{k}", "not_ready", "meeting", T0, T0 + timedelta(minutes=30)) for k in range(3)]
    idle = _row(calls, _agents(1) + meeting, forecast=12, planned=4)
    assert idle.cause == "not_ready" and idle.on_duty == 4 and idle.ready == 1  # type: ignore[attr-defined]
    # A planned break is not on duty: the roster planned it.
    on_break = _row(calls, _agents(1) + _agents(3, "not_ready", "break"), forecast=12, planned=4)
    assert on_break.on_duty == 1  # type: ignore[attr-defined]


def test_a_met_interval_has_no_cause() -> None:
    row = _row([_call(i, answered=True) for i in range(10)], _agents(4), forecast=10, planned=4)
    assert row.cause is None and row.words == ""  # type: ignore[attr-defined]
