"""The call-state table (queueing/callstate.py): every (state, input) pair, on the table and in the engine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queueing import (
    AgentSpec,
    CallEnded,
    CallInput,
    CallLeft,
    CallQueued,
    CallState,
    IllegalCallTransition,
    OfferAnswered,
    OfferFailed,
    QueueSpec,
    WrongCallState,
    allows,
    next_call_state,
)
from queueing.callstate import TRANSITIONS
from queueing.engine import Engine
from queueing.events import Event
from tests.engine_kit import make, ready, t

S, I = CallState, CallInput  # noqa: E741


@given(st.sampled_from(list(CallState)), st.sampled_from(list(CallInput)))
def test_every_pair_is_a_row_or_a_typed_error(state: CallState, inp: CallInput) -> None:
    if (state, inp) in TRANSITIONS:
        assert allows(state, inp)
        assert next_call_state("c1", state, inp) is TRANSITIONS[(state, inp)]
    else:
        assert not allows(state, inp)
        with pytest.raises(IllegalCallTransition) as err:
            next_call_state("c1", state, inp)
        assert err.value.state is state and err.value.input is inp and "c1" in str(err.value)


def test_every_call_can_end_and_ended_is_final() -> None:
    for state in CallState:
        if state is not S.ENDED:
            assert allows(state, I.HANG_UP)
    assert not any(allows(S.ENDED, inp) for inp in CallInput)


def test_the_resync_names_the_same_states() -> None:
    assert S.OFFERED is S.RINGING and S.RINGING == "ringing"  # an alias, not a second state


# ---------------------------------------------------------------- the engine follows the table


def _engine_at(state: CallState) -> Engine:
    """An engine holding call c1 in ``state`` (WAITING, RINGING or TALKING) at agent a1."""
    h = make([QueueSpec("q")], [AgentSpec("a1", ("q",))])
    if state is S.WAITING:
        h.send(CallQueued(t(1), "c1", "q"))
        return h.engine
    ready(h, "a1")
    h.send(CallQueued(t(1), "c1", "q"))
    if state is S.TALKING:
        h.send(OfferAnswered(t(2), "c1", "a1"))
    assert h.engine.call_state("c1") is state
    return h.engine


#: the engine's events that move a call, with the input each stands for
EVENTS: dict[CallInput, Event] = {
    I.ANSWER: OfferAnswered(t(5), "c1", "a1"),
    I.RING_FAILED: OfferFailed(t(5), "c1", "a1", "noanswer"),
    I.TALK_ENDED: CallEnded(t(5), "c1"),
    I.LEAVE: CallLeft(t(5), "c1"),
}


@given(st.sampled_from([S.WAITING, S.RINGING, S.TALKING]), st.sampled_from(list(EVENTS)))
def test_engine_moves_a_call_only_along_the_table(state: CallState, inp: CallInput) -> None:
    engine = _engine_at(state)
    if state is S.TALKING and inp is I.LEAVE:
        inp = I.TALK_ENDED  # the caller hanging up on the agent ends the talk
    before = (engine.call_state("c1"), engine.agent_state("a1"), engine.queue_length("q"))
    if not allows(state, inp):
        with pytest.raises(WrongCallState):
            engine.handle(EVENTS[inp])
        assert (engine.call_state("c1"), engine.agent_state("a1"), engine.queue_length("q")) == before
        return
    engine.handle(EVENTS[inp])
    after = TRANSITIONS[(state, inp)]
    # The engine forgets a call once it is over for the ACD (talk ended, or its one outcome written).
    expected = None if after in (S.AFTER, S.ENDED) else after
    assert engine.call_state("c1") == expected


def test_a_repeated_queue_fact_keeps_the_waiting_call_in_place() -> None:
    engine = _engine_at(S.WAITING)
    assert engine.handle(CallQueued(t(3), "c1", "q")) == []
    assert engine.call_state("c1") is S.WAITING and engine.waiting_calls("q") == ["c1"]


# ---------------------------------------------------------------- one outcome enum


def test_one_outcome_enum_serves_the_acd_and_the_records() -> None:
    from queueing import OUTCOMES
    from queueing.callstate import ACD_OUTCOMES
    from records.model import RECORD_OUTCOMES, Outcome

    assert OUTCOMES is ACD_OUTCOMES and set(ACD_OUTCOMES) | set(RECORD_OUTCOMES) == set(Outcome)
    # the stored strings did not change
    assert [o.value for o in RECORD_OUTCOMES] == ["answered", "abandoned_ivr", "abandoned_queue",
                                                  "abandoned_ringing", "failed", "fallback"]


def test_a_record_refuses_an_outcome_only_the_acd_gives() -> None:
    from records.model import Outcome, RecordError
    from records.testing import make_record

    t0 = t(0)
    assert make_record("c1", "fallback", entered_at=t0).outcome is Outcome.FALLBACK
    with pytest.raises(RecordError, match="ACD"):
        make_record("c2", Outcome.OVERFLOWED, entered_at=t0)
