"""LiveStats: the wallboard snapshot's exact shape and figures, restarts, live state."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

from agents.state import AgentState
from metrics.kpi import kpi
from metrics.live import LiveStats, LiveStatsError
from records.model import CallRecordData
from records.store import Store
from records.testing import hand_worked_day
from records.testing import local_at as at

CALLS = hand_worked_day()
A, G = CALLS["A"], CALLS["G"]
DAY1 = [CALLS[k] for k in "ABCDEF"]
ALL = [*DAY1, G]

QUEUES = [("main", "综合咨询"), ("tax", "税务"), ("empty", "Empty")]

CENTRE_KEYS = {"offered", "answered", "abandoned", "connection_rate", "connection_rate_1h",
               "connection_rate_24h", "asa", "answered_15s_rate", "longest_wait_today", "longest_wait_now",
               "waiting", "service_level", "answered_in_time_rate", "short_abandoned", "abandoned_ivr",
               "abandoned_queue", "abandoned_ringing", "avg_talk", "acw", "aht", "occupancy", "calls_per_agent"}
QUEUE_KEYS = {"name", "label", "waiting", "longest_wait_now", "offered", "answered", "abandoned",
              "connection_rate", "agents_ready", "service_level", "asa"}


def fed(records: list[CallRecordData] = DAY1) -> LiveStats:
    stats = LiveStats(target=0.97, tz="Asia/Shanghai", queues=QUEUES)
    stats.add_records(records)
    return stats


def test_snapshot_shape_is_the_contract() -> None:
    snap = fed().snapshot(at(10, 30))
    json.dumps(snap)  # JSON-ready as is
    assert set(snap) == {"now", "tz", "target", "standard_24h", "sl_seconds", "short_abandon_seconds", "centre",
                         "queues", "agents", "intervals", "ami_connected"}
    assert snap["now"] == "2026-03-01T10:30:00+08:00"
    assert snap["tz"] == "Asia/Shanghai" and snap["target"] == 0.97
    assert set(snap["centre"]) == CENTRE_KEYS
    assert [q["name"] for q in snap["queues"]] == ["main", "tax", "empty"]
    assert all(set(q) == QUEUE_KEYS for q in snap["queues"])
    assert snap["queues"][0]["label"] == "综合咨询"
    assert snap["agents"] == {"ready": 0, "reserved": 0, "on_call": 0, "wrap_up": 0, "not_ready": 0,
                              "logged_out": 0}
    assert all(set(i) == {"start", "offered", "answered", "connection_rate"} for i in snap["intervals"])
    assert snap["ami_connected"] is False


def test_day_one_figures_match_the_kpi_module() -> None:
    snap = fed().snapshot(at(23, 59, 59))
    c, k = snap["centre"], kpi(DAY1)
    assert (c["offered"], c["answered"], c["abandoned"]) == (k.offered, k.answered, k.abandoned) == (5, 3, 2)
    assert c["connection_rate"] == pytest.approx(0.6)
    assert c["asa"] == pytest.approx(14.0)
    assert c["answered_15s_rate"] == pytest.approx(0.4)
    assert c["longest_wait_today"] == 40.0
    assert c["longest_wait_now"] is None and c["waiting"] == 0
    tax = snap["queues"][1]
    assert (tax["offered"], tax["answered"], tax["abandoned"], tax["connection_rate"]) == (2, 1, 1, 0.5)
    empty = snap["queues"][2]
    assert (empty["offered"], empty["connection_rate"]) == (0, None)
    hours = snap["intervals"]
    assert len(hours) == 24 and hours[0]["start"] == "2026-03-01T00:00:00+08:00"
    assert (hours[9]["offered"], hours[9]["answered"]) == (3, 2)
    assert hours[9]["connection_rate"] == pytest.approx(2 / 3)
    assert (hours[11]["offered"], hours[11]["connection_rate"]) == (0, None)
    assert (hours[23]["offered"], hours[23]["answered"]) == (1, 1)  # F, queued 23:59:50


def test_intervals_run_to_the_current_hour() -> None:
    snap = fed().snapshot(at(10, 30))
    assert [i["start"][11:16] for i in snap["intervals"]] == [f"{h:02d}:00" for h in range(11)]


def test_rolling_windows() -> None:
    snap = fed().snapshot(at(10, 30))
    # 1 h: calls queued 09:31..10:30 -> C, D: none answered. 24 h: A B C D -> 2 of 4.
    assert snap["centre"]["connection_rate_1h"] == 0.0
    assert snap["centre"]["connection_rate_24h"] == pytest.approx(0.5)
    later = fed().snapshot(at(12, 0, day=2))
    assert later["centre"]["connection_rate_1h"] is None  # nothing queued in the last hour
    assert later["centre"]["connection_rate_24h"] == pytest.approx(1.0)  # F only (queued 23:59:50)


def test_midnight_rolls_the_day_over() -> None:
    snap = fed(ALL).snapshot(at(0, 30, day=2))
    assert (snap["centre"]["offered"], snap["centre"]["answered"]) == (1, 1)  # G only; F stays on day 1
    assert [i["start"] for i in snap["intervals"]] == ["2026-03-02T00:00:00+08:00"]


def test_a_record_counts_once() -> None:
    stats = fed()
    assert stats.add_record(A) is False
    assert stats.add_records(DAY1) == 0
    assert stats.snapshot(at(23, 59))["centre"]["offered"] == 5
    assert stats.totals.offered["main"] == 3


def test_waiting_calls() -> None:
    stats = fed()
    now = at(10, 30)
    stats.set_waiting("main", "w1", now - timedelta(seconds=50))
    stats.set_waiting("main", "w2", now - timedelta(seconds=70))
    stats.set_waiting("tax", "w3", now - timedelta(seconds=5))
    snap = stats.snapshot(now)
    assert snap["centre"]["waiting"] == 3 and snap["centre"]["longest_wait_now"] == 70.0
    main = snap["queues"][0]
    assert (main["waiting"], main["longest_wait_now"]) == (2, 70.0)
    stats.clear_waiting("w2")
    stats.add_record(dataclasses.replace(G, call_id="w1"))  # w1 ends: no longer waiting
    snap = stats.snapshot(now)
    assert snap["centre"]["waiting"] == 1 and snap["queues"][0]["waiting"] == 0
    with pytest.raises(LiveStatsError):
        stats.set_waiting("main", "w9", now.replace(tzinfo=None))


def test_longest_wait_today_includes_a_call_still_waiting() -> None:
    stats = fed()
    now = at(10, 30)
    stats.set_waiting("main", "w1", now - timedelta(seconds=100))
    assert stats.snapshot(now)["centre"]["longest_wait_today"] == 100.0


def test_agent_states() -> None:
    stats = LiveStats(queues=QUEUES)
    stats.set_agent_state("1001", "ready")
    stats.set_agent_state("1002", AgentState.ON_CALL)
    stats.set_agent_state("1003", "ready")
    stats.set_agent_state("1001", "reserved")
    stats.set_ami_connected(True)
    snap = stats.snapshot(at(9, 0))
    assert snap["agents"] == {"ready": 1, "reserved": 1, "on_call": 1, "wrap_up": 0, "not_ready": 0,
                              "logged_out": 0}
    assert snap["ami_connected"] is True
    with pytest.raises(LiveStatsError):
        stats.set_agent_state("1001", "asleep")
    assert stats.agent_counts()["reserved"] == 1  # a refused update changes nothing


def test_a_restart_changes_no_figure(tmp_path: Path) -> None:
    """The daemon reloads today's records from the store at start: the snapshot is unchanged."""
    running = fed(ALL)
    now = at(23, 59, 59)
    with Store(f"sqlite:///{tmp_path / 'cc.db'}") as store:
        store.write_batch(ALL)
        restarted = LiveStats(target=0.97, tz="Asia/Shanghai", queues=QUEUES)
        start_of_day = now - timedelta(days=1)  # records(since) with since <= today's local midnight
        restarted.add_records(store.records(start_of_day))
    assert restarted.snapshot(now) == running.snapshot(now)


def test_naive_now_is_refused() -> None:
    with pytest.raises(LiveStatsError):
        fed().snapshot(at(9, 0).replace(tzinfo=None))


def test_unknown_queue_is_listed_after_configured_ones() -> None:
    stats = LiveStats(queues=[("main", "Main")])
    stats.add_records(DAY1)
    names = [q["name"] for q in stats.snapshot(at(23, 59, 59))["queues"]]
    assert names == ["main", "tax"]


def test_every_configured_agent_is_on_the_board_from_the_start() -> None:
    stats = LiveStats(target=0.97, tz="Asia/Shanghai", queues=QUEUES,
                      agent_queues={"1001": ["main"], "1002": ["main"], "1003": ["tax"]})
    assert stats.snapshot(at(9, 0))["agents"]["logged_out"] == 3  # nobody has logged in yet
    stats.set_agent_state("1002", AgentState.READY)
    agents = stats.snapshot(at(9, 0))["agents"]
    assert sum(agents.values()) == 3 and agents["ready"] == 1 and agents["logged_out"] == 2


def test_an_answered_call_in_talk_counts_before_its_record() -> None:
    stats = fed([])
    assert A.queue is not None and A.queued_at is not None and A.answered_at is not None and A.agent_id
    stats.set_answered(A.call_id, A.queue, A.agent_id, A.queued_at, A.answered_at)
    during = stats.snapshot(A.answered_at + timedelta(seconds=5))
    # An agent is on this call: 呼入量 and 接通量 show it already, as its record will.
    assert (during["centre"]["offered"], during["centre"]["answered"]) == (1, 1)
    assert during["centre"]["connection_rate"] == 1.0 and during["centre"]["connection_rate_1h"] == 1.0
    main = next(q for q in during["queues"] if q["name"] == A.queue)
    assert (main["offered"], main["answered"]) == (1, 1)
    assert sum(i["offered"] for i in during["intervals"]) == 1
    # The record replaces it: counted once.
    stats.add_record(A)
    after = stats.snapshot(A.ended_at + timedelta(seconds=5))
    assert (after["centre"]["offered"], after["centre"]["answered"]) == (1, 1)
    assert sum(i["offered"] for i in after["intervals"]) == 1
