"""CallTracker replaying the real recordings: facts per call, no leaks, counted drops."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from asterisk.ami.codec import Message
from asterisk.ami.tracker import (
    AgentAnswered,
    AgentDialed,
    CallerHeld,
    CallFact,
    CallHungUp,
    CallStarted,
    CallTracker,
    Fact,
    RouteResult,
)
from asterisk.ami.transcripts import load_transcript, transcript_paths

T0 = datetime(2026, 11, 28, tzinfo=UTC)
PATHS = {p.name[:2]: p for p in transcript_paths()}


def replay(key: str, tracker: CallTracker | None = None) -> tuple[CallTracker, list[CallFact]]:
    tracker = tracker or CallTracker()
    facts: list[CallFact] = []
    for block in load_transcript(PATHS[key]).received:
        if not block.is_banner:
            # device states are not call facts (tests/test_device_state.py reads them)
            facts.extend(f for f in tracker.feed(block.message(), T0 + timedelta(seconds=block.at))
                         if isinstance(f, CallFact))
    return tracker, facts


def kinds(facts: Sequence[Fact]) -> list[str]:
    return [type(f).__name__ for f in facts]


@pytest.mark.parametrize("key", sorted(PATHS))
def test_no_channel_left_and_nothing_dropped(key: str) -> None:
    tracker, _ = replay(key)
    assert tracker.channels == {}
    assert tracker.linked == {}
    assert tracker.dropped == 0


def test_b1_answered_call() -> None:
    _, facts = replay("b1")
    assert kinds(facts) == [
        "CallStarted",
        "CallerHeld",
        "AgentDialed",
        "AgentAnswered",
        "RouteResult",
        "CallHungUp",
    ]
    uid = "1795824801.2"
    assert {f.uniqueid for f in facts} == {uid}
    started = facts[0]
    assert started == CallStarted(
        started.at, uid, uid, "Local/s@cc-caller-00000001;1", "5550101", "Alice Caller"
    )
    assert facts[2] == AgentDialed(facts[2].at, uid, "Local/1001@cc-agents-00000002;1")
    assert facts[3] == AgentAnswered(facts[3].at, uid, "Local/1001@cc-agents-00000002;1")
    assert facts[4] == RouteResult(facts[4].at, uid, "1001", "ANSWER")
    assert facts[5] == CallHungUp(facts[5].at, uid, uid, 16, "Normal Clearing")
    # receive times are carried through, in order
    assert [f.at for f in facts] == sorted(f.at for f in facts)
    assert facts[1].at == T0 + timedelta(seconds=3.911579)


def test_b2_without_fastagi_same_facts() -> None:
    _, facts = replay("b2")
    assert kinds(facts) == kinds(replay("b1")[1])


def test_c1_caller_hangs_up_on_hold() -> None:
    _, facts = replay("c1")
    assert kinds(facts) == ["CallStarted", "CallerHeld", "CallHungUp"]
    assert isinstance(facts[0], CallStarted) and facts[0].caller_name == "Bob Impatient"
    assert isinstance(facts[-1], CallHungUp) and facts[-1].cause == 16


def test_d1_no_answer_goes_back_on_hold() -> None:
    _, facts = replay("d1")
    assert kinds(facts) == [
        "CallStarted",
        "CallerHeld",
        "AgentDialed",
        "RouteResult",
        "CallerHeld",
        "CallHungUp",
    ]
    assert facts[3] == RouteResult(facts[3].at, "1795824838.12", "1050", "NOANSWER")


def test_d2_busy() -> None:
    _, facts = replay("d2")
    assert kinds(facts) == [
        "CallStarted",
        "CallerHeld",
        "AgentDialed",
        "RouteResult",
        "CallerHeld",
        "CallHungUp",
    ]
    route = facts[3]
    assert isinstance(route, RouteResult) and (route.agent, route.dial_status) == ("1060", "BUSY")


def test_f2_fifty_calls() -> None:
    _, facts = replay("f2")
    counts = Counter(kinds(facts))
    assert counts == {"CallStarted": 50, "CallerHeld": 50, "CallHungUp": 50}
    per_call: dict[str, list[str]] = {}
    for f in facts:
        per_call.setdefault(f.uniqueid, []).append(type(f).__name__)
    assert len(per_call) == 50
    assert all(v == ["CallStarted", "CallerHeld", "CallHungUp"] for v in per_call.values())


def test_f1_holds_without_incoming_are_not_calls() -> None:
    # f1 originates straight into cc-hold: no channel ever runs cc-incoming.
    tracker, facts = replay("f1")
    assert facts == []
    assert tracker.ignored > 0


def test_context_is_a_parameter() -> None:
    # e1 runs its callers through 'queue-test'; with that as the incoming context they are calls.
    _, facts = replay("e1", CallTracker(incoming_context="queue-test"))
    counts = Counter(kinds(facts))
    assert counts["CallStarted"] == 2 and counts["CallHungUp"] == 2


def test_live_channel_table_mid_call() -> None:
    tracker = CallTracker()
    blocks = [b for b in load_transcript(PATHS["b1"]).received if not b.is_banner]
    for block in blocks:
        msg = block.message()
        tracker.feed(msg, T0)
        if msg.name == "UserEvent" and msg["UserEvent"] == "CcHold":
            break
    callers = tracker.callers()
    assert [c.uniqueid for c in callers] == ["1795824801.2"]
    assert callers[0].context == "cc-hold"
    assert tracker.channels["1795824801.3"].name == "Local/s@cc-caller-00000001;2"
    assert tracker.linked["1795824801.2"] == {"1795824801.2", "1795824801.3"}


def ev(name: str, **fields: str) -> Message:
    return Message.build(("Event", name), [(k.replace("_", "-"), v) for k, v in fields.items()])


def test_missing_header_is_a_counted_drop() -> None:
    tracker = CallTracker()
    assert tracker.feed(ev("Newexten", Channel="PJSIP/x-1", Context="cc-incoming"), T0) == []
    assert tracker.dropped == 1
    assert tracker.last_drops == [("Newexten", "Uniqueid")]
    assert tracker.channels == {}


def test_mixed_case_spellings_and_unknown_channel() -> None:
    # A channel first seen mid-call (after a reconnect) is created from the event's snapshot.
    tracker = CallTracker()
    facts = tracker.feed(
        Message(
            [
                ("Event", "Newexten"),
                ("Channel", "PJSIP/trunk-1"),
                ("UniqueID", "9.1"),
                ("LinkedID", "9.1"),
                ("CONTEXT", "cc-incoming"),
                ("Exten", "12345"),
                ("CallerIDnum", "13800138000"),
                ("CallerIDName", "张三 市民"),
            ]
        ),
        T0,
    )
    assert facts == [CallStarted(T0, "9.1", "9.1", "PJSIP/trunk-1", "13800138000", "张三 市民")]
    hung = tracker.feed(ev("Hangup", Channel="PJSIP/trunk-1", Uniqueid="9.1", Cause="x", Cause_txt="?"), T0)
    assert hung == [CallHungUp(T0, "9.1", "9.1", 0, "?")]
    assert tracker.channels == {}


def test_cdr_after_hangup_does_not_bring_a_channel_back() -> None:
    tracker = CallTracker()
    new = ev("Newchannel", Channel="PJSIP/a-1", Uniqueid="1.1", Linkedid="1.1", Context="cc-incoming")
    assert kinds(tracker.feed(new, T0)) == ["CallStarted"]
    tracker.feed(ev("Hangup", Channel="PJSIP/a-1", Uniqueid="1.1", Cause="16"), T0)
    tracker.feed(ev("Cdr", Channel="PJSIP/a-1", UniqueID="1.1"), T0)
    tracker.feed(ev("CEL", Channel="PJSIP/a-1", UniqueID="1.1", EventName="LINKEDID_END"), T0)
    assert tracker.channels == {}


def test_newchannel_in_incoming_context_starts_a_call_once() -> None:
    tracker = CallTracker()
    nc = ev("Newchannel", Channel="PJSIP/a-1", Uniqueid="1.1", Linkedid="1.1", Context="cc-incoming")
    nx = ev("Newexten", Channel="PJSIP/a-1", Uniqueid="1.1", Linkedid="1.1", Context="cc-incoming", Exten="s")
    assert kinds(tracker.feed(nc, T0)) == ["CallStarted"]
    assert tracker.feed(nx, T0) == []


def test_facts_need_aware_time() -> None:
    with pytest.raises(ValueError):
        CallerHeld(datetime(2026, 1, 1), "1.1", "PJSIP/a-1")  # naive on purpose
    with pytest.raises(ValueError):
        CallerHeld(T0, "", "PJSIP/a-1")


def test_handler_table_names_real_methods() -> None:
    for name, meth in CallTracker.HANDLERS.items():
        assert callable(getattr(CallTracker, meth)), name
