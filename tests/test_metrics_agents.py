"""Agent time from state changes: intervals, after-call work, occupancy, not-ready reasons; the log table."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from metrics.agents import AgentTimeline, agent_time, agents_available, by_agent
from records.agent import AgentInterval, AgentTimeError
from records.agentlog import AgentLog
from records.testing import local_at as at


def feed() -> list[AgentInterval]:
    tl = AgentTimeline()
    changes = [
        ("1001", "ready", "", at(9, 0)), ("1001", "ready", "", at(9, 0)),  # repeated at once: nothing closed
        ("1001", "reserved", "", at(9, 10)), ("1001", "on_call", "", at(9, 10, 5)),
        ("1001", "wrap_up", "", at(9, 15, 5)), ("1001", "ready", "", at(9, 15, 35)),
        ("1001", "not_ready", "break", at(9, 30)), ("1001", "ready", "", at(9, 45)),
        ("1002", "not_ready", "missed", at(9, 0)), ("1002", "ready", "", at(9, 20)),
    ]
    out = [iv for a, s, r, t in changes if (iv := tl.change(a, s, r, t)) is not None]
    return out + tl.open_intervals(at(10, 0))


def test_intervals_from_state_changes() -> None:
    ivs = feed()
    one = [(i.state, i.reason, (i.end - i.start).total_seconds()) for i in ivs if i.agent_id == "1001"]
    assert one == [("ready", "", 600.0), ("reserved", "", 5.0), ("on_call", "", 300.0), ("wrap_up", "", 30.0),
                   ("ready", "", 865.0), ("not_ready", "break", 900.0), ("ready", "", 900.0)]
    assert len({(i.agent_id, i.start) for i in ivs}) == len(ivs)  # the log's key is unique


def test_after_call_work_occupancy_and_reasons() -> None:
    t = agent_time(feed(), at(9, 0), at(10, 0))
    assert t.wrap_up == 30.0
    # busy (on call + wrap-up) 330 s of available 1001: 2700 s + 1002: 2400 s
    assert t.occupancy == pytest.approx(330 / (2700 + 2400))
    assert dict(t.not_ready_reasons) == {"break": 900.0, "missed": 1200.0}
    assert agents_available(feed(), at(9, 0), at(10, 0)) == pytest.approx((2700 + 2400) / 3600)
    # Clipped to the window: 09:10-09:20 holds 5 s ringing, 300 s... only to 09:15:05 -> 295 s on call.
    w = agent_time(feed(), at(9, 10), at(9, 15), agent="1001")
    assert w.seconds["reserved"] == 5.0 and w.seconds["on_call"] == 295.0
    assert set(by_agent(feed(), at(9, 0), at(10, 0))) == {"1001", "1002"}


def test_a_late_or_inverted_interval_is_refused() -> None:
    with pytest.raises(AgentTimeError):
        AgentInterval("1", "ready", "", at(9, 1), at(9, 0))
    tl = AgentTimeline()
    tl.change("1", "ready", "", at(9, 0))
    assert tl.change("1", "on_call", "", at(8, 0)) is None  # late: nothing closed, the newer start kept
    iv = tl.change("1", "wrap_up", "", at(9, 5))
    assert iv is not None and iv.state == "ready" and iv.start == at(9, 0)


def test_the_log_stores_each_interval_once_and_reads_what_overlaps(tmp_path: Path) -> None:
    log = AgentLog(f"sqlite:///{tmp_path / 'a.db'}")
    ivs = feed()
    log.write(ivs)
    log.write(ivs)  # a replay stores nothing new
    back = log.intervals(at(9, 0) - timedelta(hours=1))
    assert sorted(back, key=lambda i: (i.start, i.agent_id)) == sorted(ivs, key=lambda i: (i.start, i.agent_id))
    overlapping = [(i.agent_id, i.state) for i in log.intervals(at(9, 12), at(9, 14))]
    assert overlapping == [("1002", "not_ready"), ("1001", "on_call")]
