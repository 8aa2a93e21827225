"""The engine's typed errors; the web and AMI edges map them to their own (slug, status)."""

from __future__ import annotations

from agents.state import IllegalTransition


class EngineError(Exception):
    """Base of the ACD's errors (besides IllegalTransition, which the agent table raises)."""

    slug = "engine_error"


class UnknownAgent(EngineError):
    slug = "unknown_agent"


class UnknownCall(EngineError):
    slug = "unknown_call"


class UnknownQueue(EngineError):
    slug = "unknown_queue"


class DuplicateCall(EngineError):
    slug = "duplicate_call"


class WrongCallState(EngineError):
    """The event does not fit where the call is (e.g. OfferAnswered for a call ringing elsewhere)."""

    slug = "wrong_call_state"


class WrongAgentState(EngineError):
    """The event does not fit the agent's state (e.g. more wrap-up time for an agent not in wrap-up)."""

    slug = "wrong_agent_state"


class NotOnShift(EngineError):
    slug = "agent_not_on_shift"


class UnknownEvent(EngineError):
    slug = "unknown_event"


__all__ = [
    "DuplicateCall",
    "EngineError",
    "IllegalTransition",
    "NotOnShift",
    "UnknownAgent",
    "UnknownCall",
    "UnknownEvent",
    "UnknownQueue",
    "WrongAgentState",
    "WrongCallState",
]
