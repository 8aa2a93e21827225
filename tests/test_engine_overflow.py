"""Engine: escalation, max length / max wait fallbacks, announcements, virtual hold, preferred agent,
supervisor moves and priorities."""

from __future__ import annotations

from queueing import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSpec,
    Announce,
    CallbackRequested,
    CallLeft,
    CallMoved,
    CallOutcome,
    CallQueued,
    EscalationStep,
    Fallback,
    MoveCall,
    OfferAnswered,
    OfferFailed,
    PlaceCallback,
    QueueSpec,
    SetCallPriority,
)
from tests.engine_kit import make, ready, t


def outcomes(cmds: list) -> list[tuple[str, str]]:
    return [(c.call_id, c.outcome) for c in cmds if isinstance(c, CallOutcome)]


def test_escalation_relaxes_skill_level() -> None:
    q = QueueSpec("q", escalation=(EscalationStep(30, relax_levels=1), EscalationStep(60, relax_levels=1)))
    h = make([q], [AgentSpec("a1", ("q",), {"tax": 1})])
    ready(h, "a1")
    h.send(CallQueued(t(0), "c1", "q", skills=(("tax", 3),)))
    h.advance(t(29))
    assert h.engine.call_state("c1") == "waiting"
    h.advance(t(30))  # needs tax>=2 now: still waiting
    assert h.engine.call_state("c1") == "waiting"
    h.advance(t(60))  # tax>=1
    assert h.engine.call_agent("c1") == "a1"


def test_escalation_overflows_to_another_queue() -> None:
    q = QueueSpec("q", escalation=(EscalationStep(20, overflow_to="backup"),))
    h = make([q, QueueSpec("backup")], [AgentSpec("b1", ("backup",))])
    ready(h, "b1")
    h.send(AgentNotReady(t(0), "b1", "break"))
    h.send(CallQueued(t(1), "c1", "q"))
    out = h.advance(t(21))
    assert [type(c) for c in out if isinstance(c, CallMoved)] == [CallMoved]
    assert h.engine.call_queue("c1") == "backup"
    h.send(AgentReady(t(22), "b1"))
    assert h.engine.call_agent("c1") == "b1"


def test_max_length_sends_to_voicemail() -> None:
    h = make([QueueSpec("q", max_length=2)], [AgentSpec("a1", ("q",))])
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(CallQueued(t(2), "c2", "q"))
    out = h.send(CallQueued(t(3), "c3", "q"))
    assert outcomes(out) == [("c3", "fallback_voicemail")]
    assert h.engine.waiting_calls("q") == ["c1", "c2"]


def test_max_wait_fallback_to_queue_then_callback_offer() -> None:
    qa = QueueSpec("a", max_wait=60, fallback=Fallback("queue", "b"))
    qb = QueueSpec("b", max_wait=30, fallback=Fallback("callback"))
    h = make([qa, qb], [AgentSpec("x", ("a",))])
    h.send(CallQueued(t(0), "c1", "a"))
    out = h.advance(t(60))
    assert h.engine.call_queue("c1") == "b"
    assert outcomes(out) == []
    out = h.advance(t(90))
    assert outcomes(out) == [("c1", "fallback_callback")]


def test_announce_position_and_expected_wait() -> None:
    h = make([QueueSpec("q", announce=True)], [AgentSpec("a1", ("q",)), AgentSpec("a2", ("q",))])
    h.send(AgentLoggedIn(t(0), "a1"))
    h.send(AgentLoggedIn(t(0), "a2"))
    h.send(CallQueued(t(1), "c1", "q"))
    out = h.send(CallQueued(t(2), "c2", "q"))
    ann = [c for c in out if isinstance(c, Announce)]
    assert ann[0].call_id == "c2" and ann[0].position == 2
    assert ann[0].expected_wait > 0
    h.send(CallLeft(t(3), "c1"))
    assert h.engine.position("c2") == 1


def test_virtual_hold_keeps_place_and_places_callback() -> None:
    h = make([QueueSpec("q", max_wait=60)], [AgentSpec("a1", ("q",))])
    h.send(CallQueued(t(0), "c1", "q"))
    h.send(CallQueued(t(1), "c2", "q"))
    h.send(CallbackRequested(t(5), "c1"))
    assert h.send(CallLeft(t(6), "c1")) == []  # the caller hangs up on purpose
    h.advance(t(61))  # c2 hits max wait, c1 (virtual) does not
    assert h.engine.call_state("c1") == "waiting"
    assert h.engine.call_state("c2") is None
    h.send(AgentLoggedIn(t(70), "a1"))
    out = h.send(AgentReady(t(70), "a1"))
    assert [(c.call_id, c.agent_id) for c in out if isinstance(c, PlaceCallback)] == [("c1", "a1")]
    assert outcomes(h.send(OfferAnswered(t(80), "c1", "a1"))) == [("c1", "answered")]


def test_preferred_agent_until_deadline() -> None:
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",)), AgentSpec("last", ("q",))])
    ready(h, "a1")
    h.send(AgentLoggedIn(t(0), "last"))
    h.send(CallQueued(t(1), "c1", "q", preferred_agent="last", prefer_until=t(31)))
    assert h.engine.call_state("c1") == "waiting"  # a1 is ready but c1 waits for "last"
    h.send(AgentReady(t(10), "last"))
    assert h.engine.call_agent("c1") == "last"


def test_preference_expires_then_anyone() -> None:
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",)), AgentSpec("last", ("q",))])
    ready(h, "a1")
    h.send(AgentLoggedIn(t(0), "last"))
    h.send(CallQueued(t(1), "c1", "q", preferred_agent="last", prefer_until=t(31)))
    h.advance(t(31))
    assert h.engine.call_agent("c1") == "a1"


def test_preferred_agent_logging_out_releases_call() -> None:
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",)), AgentSpec("last", ("q",))])
    ready(h, "a1")
    h.send(AgentLoggedIn(t(0), "last"))
    h.send(CallQueued(t(1), "c1", "q", preferred_agent="last", prefer_until=t(300)))
    h.send(AgentLoggedOut(t(2), "last"))
    assert h.engine.call_agent("c1") == "a1"


def test_failed_ring_at_preferred_agent_drops_preference() -> None:
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",)), AgentSpec("last", ("q",))])
    ready(h, "last")
    h.send(CallQueued(t(1), "c1", "q", preferred_agent="last", prefer_until=t(300)))
    h.send(OfferFailed(t(20), "c1", "last", "noanswer"))
    ready(h, "a1", at=21)
    assert h.engine.call_agent("c1") == "a1"


def test_supervisor_moves_call_and_raises_priority() -> None:
    h = make([QueueSpec("q"), QueueSpec("vip")], [AgentSpec("a1", ("q",))])
    h.send(CallQueued(t(0), "c1", "q"))
    h.send(CallQueued(t(1), "c2", "q"))
    h.send(CallQueued(t(2), "c3", "vip"))
    h.send(SetCallPriority(t(3), "c2", 9, "sup"))
    assert h.engine.waiting_calls("q") == ["c2", "c1"]
    out = h.send(MoveCall(t(4), "c3", "q", "sup"))
    moved = [(c.old_queue, c.new_queue, c.by) for c in out if isinstance(c, CallMoved)]
    assert moved == [("vip", "q", "sup")]
    assert h.engine.waiting_calls("q") == ["c2", "c1", "c3"]


def test_preferred_agent_logged_out_is_not_waited_for() -> None:
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",)), AgentSpec("last", ("q",))])
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q", preferred_agent="last", prefer_until=t(300)))
    assert h.engine.call_agent("c1") == "a1"
