"""Calls Asterisk's own queue ([cc-fallback], app_queue) handled are real calls: answered by which agent, after
what wait, talk time; or abandoned and where. They count in the connection rate and are shown apart.

1. The real PBX's events (../shared/ami-transcripts/e1: a member answers, a caller abandons) through the
   tracker and the ledger give those records.
2. End to end on the simulator: the daemon is up but its FastAGI is unreachable for these callers, so the
   dialplan sends them to [cc-fallback], where the queue's members (agents' phones) take them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from asterisk.ami.tracker import (
    CallHungUp,
    CallStarted,
    CallTracker,
    FallbackAbandoned,
    FallbackAnswered,
    FallbackJoined,
    FallbackRinging,
    FallbackTalkEnded,
)
from asterisk.ami.transcripts import load_transcript, transcript_paths
from callcenter.ledger import CallLedger
from callcenter.reports.daily import build_daily
from metrics.kpi import kpi
from records.model import CallRecordData, Outcome
from tests.pair import running_pair
from tests.ports import free_ports

T0 = datetime(2026, 11, 28, tzinfo=UTC)
E1 = next(p for p in transcript_paths() if p.name.startswith("e1"))


def _records_from_e1() -> tuple[list[object], list[CallRecordData]]:
    # The lab's callers run the queue in [queue-test]; the shipped dialplan's is [cc-fallback] after [cc-incoming].
    tracker = CallTracker(incoming_context="queue-test")
    ledger = CallLedger()
    facts: list[object] = []
    records: list[CallRecordData] = []
    agent_of = {"local/1001@cc-agents": "1001", "local/1002@cc-agents": "1002"}
    for block in load_transcript(E1).received:
        if block.is_banner:
            continue
        for f in tracker.feed(block.message(), T0 + timedelta(seconds=block.at)):
            facts.append(f)
            if isinstance(f, CallStarted):
                ledger.started(f.uniqueid, f.at, linkedid=f.linkedid, channel=f.channel, number=f.caller_number,
                               name=f.caller_name)
            elif isinstance(f, FallbackJoined):
                ledger.fallback_joined(f.uniqueid, f.at, f.queue)
            elif isinstance(f, FallbackRinging):
                ledger.fallback_ringing(f.uniqueid, f.at, agent_of[f.interface.lower()])
            elif isinstance(f, FallbackAnswered):
                ledger.fallback_answered(f.uniqueid, f.at, agent_of[f.interface.lower()], f.hold_s)
            elif isinstance(f, FallbackTalkEnded):
                ledger.fallback_talk_ended(f.uniqueid, f.at, agent_of[f.interface.lower()], f.hold_s, f.talk_s)
            elif isinstance(f, FallbackAbandoned):
                ledger.fallback_abandoned(f.uniqueid, f.at, f.hold_s)
            elif isinstance(f, CallHungUp):
                rec = ledger.hung_up(f.uniqueid, f.at, f.cause)
                if rec is not None:
                    records.append(rec)
    return facts, records


def test_real_app_queue_events_give_an_answered_and_an_abandoned_record() -> None:
    facts, records = _records_from_e1()
    answer = next(f for f in facts if isinstance(f, FallbackAnswered))
    assert (answer.interface, answer.hold_s) == ("Local/1001@cc-agents", 1.0)
    done = next(f for f in facts if isinstance(f, FallbackTalkEnded))
    assert (done.hold_s, done.talk_s) == (1.0, 7.0)
    gave_up = next(f for f in facts if isinstance(f, FallbackAbandoned))
    assert (gave_up.queue, gave_up.position, gave_up.hold_s) == ("support", 1, 4.0)

    by_number = {r.caller_number: r for r in records}
    assert set(by_number) == {"5550201", "5550202"}
    a, b = by_number["5550201"], by_number["5550202"]
    assert (a.outcome, a.agent_id, a.queue, a.fallback_queue) == (Outcome.ANSWERED, "1001", "support", True)
    assert a.wait_seconds is not None and abs(a.wait_seconds - 1.0) < 0.05  # AgentConnect HoldTime: 1
    assert a.talk_seconds is not None and 5.9 < a.talk_seconds < 6.6  # AGENT_TALK=6, the agent hung up
    assert a.offers == 1
    # Call B: member 1002 rang (AGENT_ANSWER_DELAY=30) when the caller hung up after 4 s
    assert (b.outcome, b.agent_id, b.fallback_queue) == (Outcome.ABANDONED_RINGING, None, True)
    assert b.wait_seconds is not None and 3.9 < b.wait_seconds < 4.2
    # both reached a queue: they count in the connection rate
    k = kpi(records)
    assert (k.offered, k.answered, k.fallback_answered) == (2, 1, 1)


async def test_daemon_records_calls_the_fallback_queue_answered_or_lost(tmp_path: Path) -> None:
    members = ("PJSIP/1001", "PJSIP/1002")
    (refused,) = free_ports(1)  # nothing listens there: the FastAGI connection is refused
    async with running_pair(tmp_path, speed=20, seed=3, sim_changes={"fallback_members": members}) as pair:
        sim = pair.sim
        good_url = pair.sim.config.agi_url
        sim.set_agi_url(f"agi://127.0.0.1:{refused}/ivr")
        talkers = [await sim.place_call(f"1391111000{i}", patience=600, talk=60) for i in range(2)]
        loser = await sim.place_call("13911110009", patience=20)
        for uid in (*talkers, loser):
            await sim.wait_call(uid)
        sim.set_agi_url(good_url)
        await pair.settle()
        records = {r.call_id: r for r in pair.daemon.store.records(pair.clock.origin.replace(year=2000))}
        day = pair.clock.origin.astimezone(UTC).date()
    truth = sim.ledger
    assert set(records) == set(truth)
    for uid in talkers:
        rec, t = records[uid], truth[uid]
        assert t.outcome == "answered" and t.answered_at is not None and t.hold_at is None
        assert (rec.outcome, rec.agent_id, rec.fallback_queue) == (Outcome.ANSWERED, t.answered_by, True)
        assert rec.agent_id in ("1001", "1002")
        assert rec.queued_at is not None and rec.answered_at is not None
        assert abs((rec.answered_at - t.answered_at).total_seconds()) < 1.0
        assert rec.talk_seconds is not None and rec.talk_seconds > 50
    lost = records[loser]
    assert truth[loser].outcome == "abandoned_queue"  # both members talking: nobody rang for it
    assert (lost.outcome, lost.fallback_queue, lost.agent_id) == (Outcome.ABANDONED_QUEUE, True, None)
    assert lost.wait_seconds is not None and 15 < lost.wait_seconds < 25
    k = kpi(records.values())
    assert (k.offered, k.answered, k.fallback_answered) == (3, 2, 2)
    report = build_daily(day, list(records.values()), [], tz="UTC")
    assert report.to_dict()["fallback_answered"] == 2
