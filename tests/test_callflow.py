"""The call flow without sockets: AMI call facts in, commands (OfferCall, RedirectCaller), records out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from asterisk.ami.tracker import (
    AgentAnswered,
    AgentDialed,
    CallerFellBack,
    CallerHeld,
    CallHungUp,
    CallStarted,
    RouteResult,
)
from callcenter.callflow import CallFlow, Outgoing, RedirectCaller
from callcenter.resync.journal import OpenCallJournal
from callcenter.resync.plan import Kind, LiveChannel
from metrics.live import LiveStats
from queueing import (
    AgentLoggedIn,
    AgentReady,
    AgentSpec,
    AgentState,
    CallState,
    Engine,
    EngineConfig,
    Fallback,
    MaxWaitTimer,
    OfferCall,
    QueueSpec,
    TimerKey,
)
from records.model import CallRecordData, Outcome
from tests.engine_kit import t


class Timers:
    def __init__(self) -> None:
        self.due: dict[TimerKey, datetime] = {}

    def start(self, key: TimerKey, due: datetime) -> None:
        self.due[key] = due

    def cancel(self, key: TimerKey) -> None:
        self.due.pop(key, None)


class Flow:
    """A CallFlow with two agents on one queue (max wait 60 s, then voicemail; 30 s wrap-up), its outputs in
    lists."""

    def __init__(self, tmp_path: Path) -> None:
        queue = QueueSpec("main", max_wait=60, fallback=Fallback("voicemail"), wrapup_seconds=30)
        engine = Engine(EngineConfig((queue,), (AgentSpec("a1", ("main",)), AgentSpec("a2", ("main",)))))
        self.sent: list[Outgoing] = []
        self.records: list[CallRecordData] = []
        self.rang: list[tuple[str, str]] = []
        self.timers = Timers()
        self.flow = CallFlow(engine=engine, live=LiveStats(queues=[("main", "Main")]),
                             journal=OpenCallJournal(tmp_path / "open.jsonl"), timers=self.timers,
                             endpoints={"a1": "PJSIP/a1", "a2": "PJSIP/a2"}, queue_names=["main"],
                             send=self.sent.append, recorded=self.records.append,
                             ringing=lambda cid, ch, _at: self.rang.append((cid, ch)), now=lambda: t(500))

    def ready(self, *agents: str) -> None:
        for a in agents:
            self.flow.feed(AgentLoggedIn(t(0), a))
            self.flow.feed(AgentReady(t(0), a))

    def caller(self, cid: str, at: float) -> None:
        self.flow.handle(CallStarted(t(at), cid, cid, f"PJSIP/trunk-{cid}", "13800000000", ""))
        self.flow.ledger.ivr_finished(cid, t(at + 5), path="main", queue="main", language="zh")
        self.flow.handle(CallerHeld(t(at + 6), cid, f"PJSIP/trunk-{cid}"))


@pytest.fixture
def f(tmp_path: Path) -> Iterator[Flow]:
    flow = Flow(tmp_path)
    yield flow
    flow.flow.journal.close()


def test_a_call_rings_the_ready_agent_and_is_recorded_answered(f: Flow) -> None:
    f.ready("a1")
    f.caller("c1", 1)
    assert f.sent == [OfferCall("c1", "a1", "main", t(7))]
    assert f.flow.engine.call_state("c1") is CallState.RINGING
    f.flow.handle(AgentDialed(t(8), "c1", "PJSIP/a1-01"))
    assert f.rang == [("c1", "PJSIP/a1-01")]
    f.flow.handle(AgentAnswered(t(10), "c1", "PJSIP/a1-01"))
    assert f.flow.ledger.calls["c1"].state is CallState.TALKING
    f.flow.handle(RouteResult(t(70), "c1", "a1", "ANSWER"))
    assert f.flow.engine.agent_state("a1")[0] is AgentState.WRAP_UP and f.flow.engine.call_state("c1") is None
    f.flow.handle(CallHungUp(t(80), "c1", "c1", 16, "Normal Clearing"))
    [record] = f.records
    assert (record.outcome, record.agent_id, record.wait_seconds, record.talk_seconds) == (
        Outcome.ANSWERED, "a1", 3.0, 60.0)
    assert not f.flow.ledger.calls and f.flow.stats.records == 1


def test_a_missed_ring_goes_to_the_next_agent(f: Flow) -> None:
    f.ready("a1")
    f.caller("c1", 1)
    f.ready("a2")
    f.flow.handle(AgentDialed(t(8), "c1", "PJSIP/a1-01"))
    f.flow.handle(RouteResult(t(20), "c1", "a1", "NOANSWER"))
    assert f.sent[-1] == OfferCall("c1", "a2", "main", t(20))
    assert f.flow.engine.agent_state("a1") == (AgentState.NOT_READY, "missed")


def test_max_wait_sends_the_caller_to_voicemail(f: Flow) -> None:
    f.caller("c1", 1)
    assert f.timers.due[MaxWaitTimer("c1")] == t(67)  # 60 s from joining the queue
    f.flow.timer_fired(MaxWaitTimer("c1"), t(67))
    assert f.sent == [RedirectCaller("c1", "cc-voicemail")]
    f.flow.handle(CallerFellBack(t(62), "c1"))
    f.flow.handle(CallHungUp(t(90), "c1", "c1", 16, ""))
    assert [r.outcome for r in f.records] == [Outcome.FALLBACK] and f.flow.stats.engine_errors == 0


def test_a_caller_who_hangs_up_while_waiting_is_abandoned_in_the_queue(f: Flow) -> None:
    f.caller("c1", 1)
    f.flow.handle(CallHungUp(t(30), "c1", "c1", 16, ""))
    assert [r.outcome for r in f.records] == [Outcome.ABANDONED_QUEUE] and f.sent == []
    assert f.flow.engine.call_state("c1") is None and MaxWaitTimer("c1") not in f.timers.due


def test_the_executor_failing_an_offer_offers_the_call_again(f: Flow) -> None:
    f.ready("a1", "a2")
    f.caller("c1", 1)
    first = f.sent[0]
    assert isinstance(first, OfferCall)
    f.flow.offer_not_sent(first, t(9))
    assert f.sent[-1] == OfferCall("c1", "a2", "main", t(9))


def test_repairs_are_an_enum_and_a_non_move_is_refused(f: Flow) -> None:
    f.ready("a1")
    f.caller("c1", 1)
    ch = LiveChannel("c1", "c1", "PJSIP/trunk-c1", "cc-route", bridge_id="b1",
                     variables={"CC_INCOMING": "1", "CC_AGENT": "a1"})
    f.flow.repair(Kind.ANSWERED, "c1", ch, t(20))  # the AgentAnswered lost while the daemon was deaf
    assert f.flow.engine.call_state("c1") is CallState.TALKING
    assert f.flow.known_calls(generation=1)["c1"].stage is CallState.TALKING
    with pytest.raises(ValueError, match="not a repair"):
        f.flow.repair(Kind.ADOPT, "c1", ch, t(21))
