"""A call's states and every legal transition, in one table in one file.

Everything that decides whether a call may move from one stage of its life to another lives here (the
shape of agents/state.py and h11's ``_state.py``). Three readers share it:

- the ACD engine (queueing/engine.py) holds a call in WAITING, RINGING or TALKING and asks
  ``next_call_state`` before it changes anything, so an illegal pair raises and leaves the engine untouched;
- the daemon's ledger (callcenter/ledger.py) keeps a call's facts as timestamps; ``CallEntry.state`` reads
  them back as one of these states and its methods ask ``allows`` before they move a call on;
- the resync (callcenter/resync/) compares that state with where Asterisk has the channel.

How a call ended is the one ``Outcome`` enum of records/model.py (the records are the lowest layer, so the
enum lives there); the engine gives the ``ACD_OUTCOMES`` below, a call record holds ``RECORD_OUTCOMES``.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from records.model import Outcome

from .errors import WrongCallState


class CallState(StrEnum):
    """Where a call is. A StrEnum: the values are what ``Engine.call_state`` always returned."""

    IVR = "ivr"  # in the menu, not in a queue yet
    WAITING = "waiting"  # on hold in a queue
    RINGING = "ringing"  # the ACD chose an agent; their phone rings (or is about to)
    OFFERED = "ringing"  # the resync's name for RINGING (an alias: the same member)
    TALKING = "talking"
    AFTER = "after"  # the talk is over (survey, transfer away); the record is written at the hang-up
    ENDED = "ended"  # hung up, or out of the ACD for good: the call has its one outcome


class CallInput(Enum):
    QUEUE = "queue"  # the caller is put on hold in a queue (CcHold, CallQueued)
    OFFER = "offer"  # the ACD rings an agent
    ANSWER = "answer"
    RING_FAILED = "ring_failed"  # no answer, busy, unreachable: back to the old place in the queue
    TALK_ENDED = "talk_ended"  # the agent leg is gone (hang-up, transfer away)
    LEAVE = "leave"  # the caller hangs up, or the ACD gives the call up (a fallback)
    HANG_UP = "hang_up"  # the caller channel is gone: the record is written


S = CallState
I = CallInput  # noqa: E741 - the table below reads better with short names

# (state, input) -> new state. A pair that is not here is illegal.
# A waiting call that changes queue or priority stays WAITING (no transition); the one outcome is written
# when the call leaves WAITING or RINGING for ENDED, or at ANSWER.
TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (S.IVR, I.QUEUE): S.WAITING,
    (S.IVR, I.LEAVE): S.ENDED,
    (S.IVR, I.HANG_UP): S.ENDED,
    (S.WAITING, I.OFFER): S.RINGING,
    (S.WAITING, I.LEAVE): S.ENDED,
    (S.WAITING, I.HANG_UP): S.ENDED,
    (S.RINGING, I.ANSWER): S.TALKING,
    (S.RINGING, I.RING_FAILED): S.WAITING,
    (S.RINGING, I.LEAVE): S.ENDED,
    (S.RINGING, I.HANG_UP): S.ENDED,
    (S.TALKING, I.TALK_ENDED): S.AFTER,
    (S.TALKING, I.HANG_UP): S.ENDED,
    (S.AFTER, I.HANG_UP): S.ENDED,
}


#: the outcomes the ACD engine gives a call (``CallOutcome``); each call gets exactly one
ACD_OUTCOMES: frozenset[Outcome] = frozenset({
    Outcome.ANSWERED, Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING, Outcome.OVERFLOWED,
    Outcome.FALLBACK_VOICEMAIL, Outcome.FALLBACK_CALLBACK,
})
#: a queue's fallback kind -> the outcome the ACD gives the call it hands out
FALLBACK_OUTCOMES: dict[str, Outcome] = {"callback": Outcome.FALLBACK_CALLBACK, "overflow": Outcome.OVERFLOWED}


class IllegalCallTransition(WrongCallState):
    """An input that does not fit where the call is; nothing was changed."""

    def __init__(self, call_id: str, state: CallState, input: CallInput) -> None:
        super().__init__(f"call {call_id!r}: {input.value!r} is not allowed in state {state.value!r}")
        self.call_id = call_id
        self.state = state
        self.input = input


def allows(state: CallState, input: CallInput) -> bool:
    return (state, input) in TRANSITIONS


def next_call_state(call_id: str, state: CallState, input: CallInput) -> CallState:
    """The state after ``input``; raises IllegalCallTransition (and is pure, so nothing changed)."""
    try:
        return TRANSITIONS[(state, input)]
    except KeyError:
        raise IllegalCallTransition(call_id, state, input) from None
