"""Engine: agent states, offers, ring failures, wrap-up, strategies, priorities, skills."""

from __future__ import annotations

from datetime import datetime

import pytest

from queueing import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentSpec,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallLeft,
    CallOutcome,
    CallQueued,
    CallTransferred,
    CancelTimer,
    EventError,
    ForceAgentState,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    QueueSpec,
    StartTimer,
    Strategy,
    TimerFired,
    UnknownAgent,
    WrapUpTimer,
    WrongCallState,
)
from queueing.harness import Harness
from tests.engine_kit import make, ready, t


def offers(cmds: list) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in cmds if isinstance(c, OfferCall)]


def outcomes(cmds: list) -> list[tuple[str, str]]:
    return [(c.call_id, c.outcome) for c in cmds if isinstance(c, CallOutcome)]


def basic(n: int = 2, **qkw: object) -> Harness:
    q = QueueSpec("q", **qkw)  # type: ignore[arg-type]
    return make([q], [AgentSpec(f"a{i}", ("q",)) for i in range(1, n + 1)])


def test_events_reject_naive_time() -> None:
    with pytest.raises(EventError):
        AgentReady(datetime(2026, 1, 1), "a1")


def test_login_is_not_ready_then_ready_gets_a_call() -> None:
    h = basic(1)
    out = h.send(AgentLoggedIn(t(0), "a1"))
    S = AgentState
    assert out == [AgentStateChanged("a1", S.LOGGED_OUT, S.NOT_READY, "login", t(0), "agent")]
    assert offers(h.send(CallQueued(t(1), "c1", "q"))) == []
    assert offers(h.send(AgentReady(t(2), "a1"))) == [("c1", "a1")]
    assert h.engine.agent_state("a1") == (AgentState.RESERVED, "")
    out = h.send(OfferAnswered(t(5), "c1", "a1"))
    assert outcomes(out) == [("c1", "answered")]
    assert h.engine.agent_state("a1")[0] is AgentState.ON_CALL


def test_illegal_transition_changes_nothing() -> None:
    h = basic(1)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    before = h.engine.agent_state("a1")
    with pytest.raises(IllegalTransition):
        h.send(AgentLoggedOut(t(3), "a1"))
    with pytest.raises(IllegalTransition):
        h.send(AgentNotReady(t(3), "a1", "break"))
    assert h.engine.agent_state("a1") == before
    assert h.engine.call_state("c1") == "talking"


def test_unknown_agent_is_a_typed_error() -> None:
    h = basic(1)
    with pytest.raises(UnknownAgent):
        h.send(AgentLoggedIn(t(0), "nobody"))


def test_ring_no_answer_makes_agent_missed_and_call_keeps_its_place() -> None:
    h = basic(2)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))  # rings a1
    h.send(CallQueued(t(2), "c2", "q"))  # waits
    h.send(CallQueued(t(3), "c3", "q"))
    out = h.send(OfferFailed(t(20), "c1", "a1", "noanswer"))
    assert h.engine.agent_state("a1") == (AgentState.NOT_READY, "missed")
    assert offers(out) == []
    assert h.engine.waiting_calls("q") == ["c1", "c2", "c3"]
    out = h.send(AgentLoggedIn(t(21), "a2")) + h.send(AgentReady(t(21), "a2"))
    assert offers(out) == [("c1", "a2")]


def test_busy_gives_not_ready_busy() -> None:
    h = basic(1)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferFailed(t(2), "c1", "a1", "busy"))
    assert h.engine.agent_state("a1") == (AgentState.NOT_READY, "busy")


def test_offer_answered_by_wrong_agent_is_rejected() -> None:
    h = basic(2)
    ready(h, "a1", "a2")
    h.send(CallQueued(t(1), "c1", "q"))
    agent = h.engine.call_agent("c1")
    other = "a2" if agent == "a1" else "a1"
    with pytest.raises(WrongCallState):
        h.send(OfferAnswered(t(2), "c1", other))


def test_wrapup_per_queue_then_ready_and_next_call() -> None:
    h = basic(1, wrapup_seconds=30)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    out = h.send(CallEnded(t(100), "c1"))
    timers = [c for c in out if isinstance(c, StartTimer)]
    assert [c.due for c in timers] == [t(130)]
    assert h.engine.agent_state("a1")[0] is AgentState.WRAP_UP
    h.send(CallQueued(t(110), "c2", "q"))
    assert h.engine.call_state("c2") == "waiting"
    out = h.advance(t(130))
    assert offers(out) == [("c2", "a1")]


def test_wrapup_zero_goes_straight_back_to_ready() -> None:
    h = basic(1)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    h.send(CallEnded(t(3), "c1"))
    assert h.engine.agent_state("a1")[0] is AgentState.READY


def test_agent_ending_wrapup_early_cancels_the_timer() -> None:
    h = basic(1, wrapup_seconds=30)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    h.send(CallEnded(t(3), "c1"))
    out = h.send(AgentReady(t(5), "a1"))
    assert any(isinstance(c, CancelTimer) for c in out)
    stale = h.engine.handle(TimerFired(t(33), WrapUpTimer("a1", 999)))
    assert stale == []


def test_wrapup_survives_transfer_and_uses_call_queue() -> None:
    h = make(
        [QueueSpec("q", wrapup_seconds=20), QueueSpec("other", wrapup_seconds=90)],
        [AgentSpec("a1", ("q",)), AgentSpec("a2", ("other",))],
    )
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    ready(h, "a2", at=3)
    out = h.send(CallTransferred(t(10), "c1", "a2"))
    assert h.engine.agent_state("a1")[0] is AgentState.WRAP_UP
    assert h.engine.agent_state("a2")[0] is AgentState.ON_CALL
    assert [c.due for c in out if isinstance(c, StartTimer)] == [t(30)]
    out = h.send(CallEnded(t(50), "c1"))
    assert [c.due for c in out if isinstance(c, StartTimer)] == [t(70)]  # q's wrap-up, not other's


def test_caller_hangs_up_while_ringing() -> None:
    h = basic(1)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    out = h.send(CallLeft(t(4), "c1"))
    assert outcomes(out) == [("c1", "abandoned_ringing")]
    assert h.engine.agent_state("a1")[0] is AgentState.READY
    assert h.engine.call_state("c1") is None


def test_caller_hangs_up_while_waiting() -> None:
    h = basic(1)
    h.send(CallQueued(t(1), "c1", "q"))
    assert outcomes(h.send(CallLeft(t(4), "c1"))) == [("c1", "abandoned_queue")]
    assert h.engine.queue_length("q") == 0


def test_supervisor_forces_state() -> None:
    h = basic(1)
    h.send(CallQueued(t(1), "c1", "q"))
    out = h.send(ForceAgentState(t(2), "a1", AgentState.READY, "", "sup1"))
    changes = [c for c in out if isinstance(c, AgentStateChanged)]
    assert changes[0].by == "sup1" and changes[0].new is AgentState.READY
    assert offers(out) == [("c1", "a1")]
    with pytest.raises(IllegalTransition):
        h.send(ForceAgentState(t(3), "a1", AgentState.LOGGED_OUT, "", "sup1"))  # ringing


def test_priority_first_then_fifo() -> None:
    h = basic(1)
    h.send(CallQueued(t(1), "low1", "q"))
    h.send(CallQueued(t(2), "high", "q", priority=5))
    h.send(CallQueued(t(3), "low2", "q"))
    assert h.engine.waiting_calls("q") == ["high", "low1", "low2"]
    ready(h, "a1", at=4)
    assert h.engine.call_agent("high") == "a1"


def test_entered_at_keeps_place_after_restart() -> None:
    h = basic(1)
    h.send(CallQueued(t(10), "new", "q"))
    h.send(CallQueued(t(11), "old", "q", entered_at=t(0)))
    assert h.engine.waiting_calls("q") == ["old", "new"]


def test_agent_in_several_queues_takes_oldest_highest_priority() -> None:
    h = make([QueueSpec("x"), QueueSpec("y")], [AgentSpec("a1", ("x", "y"))])
    h.send(CallQueued(t(1), "x1", "x"))
    h.send(CallQueued(t(2), "y1", "y"))
    h.send(CallQueued(t(3), "y2", "y", priority=1))
    ready(h, "a1", at=4)
    assert h.engine.call_agent("y2") == "a1"
    h.send(OfferAnswered(t(5), "y2", "a1"))
    h.send(CallEnded(t(6), "y2"))
    assert h.engine.call_agent("x1") == "a1"


def test_required_skills_with_levels() -> None:
    h = make(
        [QueueSpec("q")],
        [AgentSpec("low", ("q",), {"tax": 1}), AgentSpec("high", ("q",), {"tax": 3, "en": 1})],
    )
    ready(h, "low")
    h.send(CallQueued(t(1), "c1", "q", skills=(("tax", 2),)))
    assert h.engine.call_state("c1") == "waiting"
    h.send(CallQueued(t(2), "c2", "q"))
    assert h.engine.call_agent("c2") == "low"  # c1 needs tax>=2, c2 needs nothing
    ready(h, "high", at=3)
    assert h.engine.call_agent("c1") == "high"


def test_longest_idle_first() -> None:
    h = basic(3)
    ready(h, "a2", at=0)
    ready(h, "a1", at=1)
    ready(h, "a3", at=2)
    h.send(CallQueued(t(3), "c1", "q"))
    assert h.engine.call_agent("c1") == "a2"


def test_fewest_calls_today() -> None:
    h = basic(2, strategy=Strategy.FEWEST_CALLS)
    ready(h, "a1", "a2")
    h.send(CallQueued(t(1), "c1", "q"))
    first = h.engine.call_agent("c1")
    assert first is not None
    h.send(OfferAnswered(t(2), "c1", first))
    h.send(CallEnded(t(3), "c1"))  # first is ready again, idle shortest but anyway one call more
    h.send(CallQueued(t(4), "c2", "q"))
    assert h.engine.call_agent("c2") != first


def test_fewest_calls_prefers_idle_agent_with_fewer_calls_even_if_idle_shorter() -> None:
    h = basic(2, strategy=Strategy.FEWEST_CALLS)
    ready(h, "a1", at=0)
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    h.send(CallEnded(t(3), "c1"))  # a1 ready since 3 with 1 call
    ready(h, "a2", at=10)  # a2 ready since 10 with 0 calls
    h.send(CallQueued(t(11), "c2", "q"))
    assert h.engine.call_agent("c2") == "a2"


def test_round_robin_cycles() -> None:
    h = basic(3, strategy=Strategy.ROUND_ROBIN)
    ready(h, "a1", "a2", "a3")
    got = []
    for i in range(6):
        cid = f"c{i}"
        h.send(CallQueued(t(10 + i * 10), cid, "q"))
        agent = h.engine.call_agent(cid)
        assert agent is not None
        got.append(agent)
        h.send(OfferAnswered(t(11 + i * 10), cid, agent))
        h.send(CallEnded(t(12 + i * 10), cid))
    assert got[:3] == got[3:] and sorted(got[:3]) == ["a1", "a2", "a3"]


def test_highest_skill_first() -> None:
    h = make(
        [QueueSpec("q", strategy=Strategy.HIGHEST_SKILL, skill="tax")],
        [AgentSpec("a1", ("q",), {"tax": 1}), AgentSpec("a2", ("q",), {"tax": 5}), AgentSpec("a3", ("q",))],
    )
    ready(h, "a1", "a2", "a3")
    h.send(CallQueued(t(1), "c1", "q"))
    assert h.engine.call_agent("c1") == "a2"


def test_not_ready_agent_is_not_offered() -> None:
    h = basic(1)
    ready(h, "a1")
    h.send(AgentNotReady(t(1), "a1", "meal"))
    assert offers(h.send(CallQueued(t(2), "c1", "q"))) == []
    assert h.engine.agent_state("a1") == (AgentState.NOT_READY, "meal")


def test_every_state_change_is_audited() -> None:
    h = basic(1, wrapup_seconds=5)
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    h.send(OfferAnswered(t(2), "c1", "a1"))
    h.send(CallEnded(t(3), "c1"))
    h.advance(t(10))
    path = [(c.old.value, c.new.value) for c in h.log if isinstance(c, AgentStateChanged)]
    assert path == [
        ("logged_out", "not_ready"),
        ("not_ready", "ready"),
        ("ready", "reserved"),
        ("reserved", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "ready"),
    ]
