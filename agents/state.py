"""Agent states and every legal transition, in one table in one file.

Everything that decides whether an agent may move from one state to another lives here (the shape of
h11's ``_state.py``). The engine asks ``next_state(state, input)`` before it changes anything, so an
illegal pair raises ``IllegalTransition`` and leaves the engine untouched.
"""

from __future__ import annotations

from enum import Enum


class AgentState(Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"  # an offer is ringing at the agent
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"  # carries a reason code kept beside the state


class AgentInput(Enum):
    LOGIN = "login"
    READY = "ready"
    NOT_READY = "not_ready"
    LOGOUT = "logout"
    OFFER = "offer"  # the engine rings the agent
    ANSWER = "answer"
    RING_FAILED = "ring_failed"  # no answer, busy, congestion: the agent goes not_ready(missed/busy/...)
    CALLER_LEFT = "caller_left"  # the caller hung up while the agent's phone rang
    CALL_ENDED = "call_ended"  # talk over (or transferred away): wrap-up starts
    WRAPUP_DONE = "wrapup_done"
    TRANSFER_IN = "transfer_in"  # a call is transferred to this agent
    FORCE_READY = "force_ready"  # supervisor
    FORCE_NOT_READY = "force_not_ready"  # supervisor
    FORCE_LOGOUT = "force_logout"  # supervisor


S = AgentState
I = AgentInput  # noqa: E741 - the table below reads better with short names

# (state, input) -> new state. A pair that is not here is illegal.
# Offers are only made to READY agents; a call in progress is never cut, so nothing but the call's own
# end leaves ON_CALL; RESERVED is left only through the offer's outcome.
TRANSITIONS: dict[tuple[AgentState, AgentInput], AgentState] = {
    (S.LOGGED_OUT, I.LOGIN): S.NOT_READY,
    (S.LOGGED_OUT, I.FORCE_NOT_READY): S.NOT_READY,
    (S.LOGGED_OUT, I.FORCE_READY): S.READY,
    (S.NOT_READY, I.READY): S.READY,
    (S.NOT_READY, I.NOT_READY): S.NOT_READY,  # a new reason code
    (S.NOT_READY, I.LOGOUT): S.LOGGED_OUT,
    (S.NOT_READY, I.TRANSFER_IN): S.ON_CALL,
    (S.NOT_READY, I.FORCE_READY): S.READY,
    (S.NOT_READY, I.FORCE_NOT_READY): S.NOT_READY,
    (S.NOT_READY, I.FORCE_LOGOUT): S.LOGGED_OUT,
    (S.READY, I.READY): S.READY,  # repeated ready is harmless; the engine emits nothing for it
    (S.READY, I.NOT_READY): S.NOT_READY,
    (S.READY, I.LOGOUT): S.LOGGED_OUT,
    (S.READY, I.OFFER): S.RESERVED,
    (S.READY, I.TRANSFER_IN): S.ON_CALL,
    (S.READY, I.FORCE_READY): S.READY,
    (S.READY, I.FORCE_NOT_READY): S.NOT_READY,
    (S.READY, I.FORCE_LOGOUT): S.LOGGED_OUT,
    (S.RESERVED, I.ANSWER): S.ON_CALL,
    (S.RESERVED, I.RING_FAILED): S.NOT_READY,
    (S.RESERVED, I.CALLER_LEFT): S.READY,
    (S.ON_CALL, I.CALL_ENDED): S.WRAP_UP,
    (S.WRAP_UP, I.WRAPUP_DONE): S.READY,
    (S.WRAP_UP, I.READY): S.READY,  # the agent ends wrap-up early
    (S.WRAP_UP, I.NOT_READY): S.NOT_READY,
    (S.WRAP_UP, I.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, I.FORCE_READY): S.READY,
    (S.WRAP_UP, I.FORCE_NOT_READY): S.NOT_READY,
    (S.WRAP_UP, I.FORCE_LOGOUT): S.LOGGED_OUT,
}

# A supervisor's ForceAgentState names a target state; this is the input it stands for.
FORCE_INPUTS: dict[AgentState, AgentInput] = {
    S.READY: I.FORCE_READY,
    S.NOT_READY: I.FORCE_NOT_READY,
    S.LOGGED_OUT: I.FORCE_LOGOUT,
}

# Why a ring failed -> the not_ready reason code the agent gets.
RING_FAILURE_REASONS: dict[str, str] = {
    "noanswer": "missed",
    "busy": "busy",
    "congestion": "unreachable",
    "failed": "unreachable",
}

# Codes an agent (or supervisor) may give for not_ready. "missed", "busy", "unreachable" come from the
# engine after a failed offer; "login" is the state right after logging in; "desk_offline" the daemon gives
# when the agent's desk page stops sending heartbeats (callcenter/desk.py).
NOT_READY_REASONS: frozenset[str] = frozenset(
    {"break", "meal", "training", "meeting", "missed", "busy", "unreachable", "login", "shift", "desk_offline",
     "other"}
)


class AgentError(Exception):
    """Base of the agent layer's errors."""


class IllegalTransition(AgentError):
    def __init__(self, agent_id: str, state: AgentState, input: AgentInput) -> None:
        super().__init__(f"agent {agent_id!r}: {input.value!r} is not allowed in state {state.value!r}")
        self.agent_id = agent_id
        self.state = state
        self.input = input


def next_state(agent_id: str, state: AgentState, input: AgentInput) -> AgentState:
    """The state after ``input``; raises IllegalTransition (and is pure, so nothing changed)."""
    try:
        return TRANSITIONS[(state, input)]
    except KeyError:
        raise IllegalTransition(agent_id, state, input) from None
