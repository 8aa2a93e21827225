"""Events the engine receives: frozen dataclasses named as domain nouns, validated on creation.

Every event carries ``at``, a timezone-aware UTC datetime: the engine never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from agents.state import NOT_READY_REASONS, RING_FAILURE_REASONS, AgentState

from .timerkeys import TIMER_KEYS, TimerKey

Skills = tuple[tuple[str, int], ...]


class EventError(ValueError):
    """An event built with a value the engine cannot accept."""


_ZERO = timedelta(0)


def _check_at(name: str, at: Any) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() != _ZERO:
        raise EventError(f"{name} must be a timezone-aware UTC datetime, got {at!r}")


def _check_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise EventError(f"{name} must be a non-empty string, got {value!r}")


def normalize_skills(skills: Any) -> Skills:
    """(skill, min_level) pairs (or a dict) -> a sorted tuple; one entry per skill."""
    pairs = skills.items() if isinstance(skills, dict) else skills
    out: dict[str, int] = {}
    for pair in pairs:
        name, level = pair
        if not isinstance(name, str) or not name or not isinstance(level, int) or level < 0:
            raise EventError(f"skill requirement {pair!r}: expected (name, level >= 0)")
        out[name] = max(level, out.get(name, 0))
    return tuple(sorted(out.items()))


# Fields checked on every event by name: the time it happened, and the ids that must be non-empty strings.
_TIME_FIELDS = ("at",)
_ID_FIELDS = ("agent_id", "call_id", "queue", "by")
_CHECKED: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


@dataclass(frozen=True, slots=True)
class _Event:
    """Checks the common fields by name, then the event's own rules in ``_check``."""

    def __post_init__(self) -> None:
        names = _CHECKED.get(type(self))
        if names is None:
            own = {f.name for f in fields(self)}
            names = _CHECKED[type(self)] = (tuple(n for n in _TIME_FIELDS if n in own),
                                            tuple(n for n in _ID_FIELDS if n in own))
        for name in names[0]:
            _check_at(name, getattr(self, name))
        for name in names[1]:
            _check_id(name, getattr(self, name))
        self._check()

    def _check(self) -> None:
        """An event's own rules beyond the common fields."""


@dataclass(frozen=True, slots=True)
class AgentLoggedIn(_Event):
    at: datetime
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReady(_Event):
    at: datetime
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentNotReady(_Event):
    at: datetime
    agent_id: str
    reason: str = "other"

    def _check(self) -> None:
        if self.reason not in NOT_READY_REASONS:
            raise EventError(f"not_ready reason {self.reason!r}: one of {sorted(NOT_READY_REASONS)}")


@dataclass(frozen=True, slots=True)
class AgentLoggedOut(_Event):
    at: datetime
    agent_id: str


@dataclass(frozen=True, slots=True)
class CallQueued(_Event):
    """A caller starts waiting in ``queue``. ``entered_at`` is the original entry time (after a daemon
    restart, or a callback's retry) and decides the call's place; ``preferred_agent`` gets the call first until
    ``prefer_until`` (a returning caller with an open ticket)."""

    at: datetime
    call_id: str
    queue: str
    priority: int = 0
    skills: Skills = ()
    caller: str = ""
    entered_at: datetime | None = None
    preferred_agent: str | None = None
    prefer_until: datetime | None = None
    callback: bool = False  # a callback to dial (the caller is not on the line): placed, never offered

    def _check(self) -> None:
        if not isinstance(self.priority, int):
            raise EventError(f"priority must be an int, got {self.priority!r}")
        object.__setattr__(self, "skills", normalize_skills(self.skills))
        if self.entered_at is not None:
            _check_at("entered_at", self.entered_at)
            if self.entered_at > self.at:
                raise EventError("entered_at must not be after at")
        if (self.preferred_agent is None) != (self.prefer_until is None):
            raise EventError("preferred_agent and prefer_until go together")
        if self.prefer_until is not None:
            _check_at("prefer_until", self.prefer_until)
            _check_id("preferred_agent", self.preferred_agent)


@dataclass(frozen=True, slots=True)
class CallLeft(_Event):
    """The caller hung up while waiting or ringing (after a callback request this is expected and kept)."""

    at: datetime
    call_id: str


@dataclass(frozen=True, slots=True)
class OfferAnswered(_Event):
    at: datetime
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed(_Event):
    at: datetime
    call_id: str
    agent_id: str
    reason: str = "noanswer"  # noanswer | busy | congestion | failed

    def _check(self) -> None:
        if self.reason not in RING_FAILURE_REASONS:
            raise EventError(f"offer failure reason {self.reason!r}: one of {sorted(RING_FAILURE_REASONS)}")


@dataclass(frozen=True, slots=True)
class CallEnded(_Event):
    """Talk is over: the agent goes to wrap-up."""

    at: datetime
    call_id: str


@dataclass(frozen=True, slots=True)
class CallTransferred(_Event):
    """A talking call moves to ``agent_id``: the first agent wraps up, the call keeps its queue (and so
    the queue's wrap-up time follows it)."""

    at: datetime
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class TimerFired(_Event):
    at: datetime
    key: TimerKey

    def _check(self) -> None:
        if not isinstance(self.key, TIMER_KEYS):
            raise EventError(f"timer key must be one of queueing/timerkeys.py, got {self.key!r}")


@dataclass(frozen=True, slots=True)
class ForceAgentState(_Event):
    """A supervisor sets an agent's state: ready, not_ready (with reason) or logged_out."""

    at: datetime
    agent_id: str
    state: AgentState
    reason: str
    by: str

    def _check(self) -> None:
        if not isinstance(self.state, AgentState):
            try:
                object.__setattr__(self, "state", AgentState(self.state))
            except ValueError:
                raise EventError(f"unknown agent state {self.state!r}") from None
        if self.state is AgentState.NOT_READY and self.reason not in NOT_READY_REASONS:
            raise EventError(f"not_ready reason {self.reason!r}: one of {sorted(NOT_READY_REASONS)}")


@dataclass(frozen=True, slots=True)
class ExtendWrapUp(_Event):
    """The agent asks for more wrap-up time: the wrap-up now ends ``seconds`` from ``at``."""

    at: datetime
    agent_id: str
    seconds: float

    def _check(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float) or not 0 < self.seconds <= 3600:
            raise EventError(f"wrap-up extension must be 0 < seconds <= 3600, got {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class MoveCall(_Event):
    at: datetime
    call_id: str
    queue: str
    by: str


@dataclass(frozen=True, slots=True)
class SetCallPriority(_Event):
    at: datetime
    call_id: str
    priority: int
    by: str

    def _check(self) -> None:
        if not isinstance(self.priority, int):
            raise EventError(f"priority must be an int, got {self.priority!r}")


@dataclass(frozen=True, slots=True)
class SetAgentQueues(_Event):
    """A supervisor moves an agent between queues: ``queues`` is the agent's whole new list (at least one)."""

    at: datetime
    agent_id: str
    queues: tuple[str, ...]
    by: str

    def _check(self) -> None:
        queues = tuple(self.queues) if isinstance(self.queues, (list, tuple)) else None
        if not queues or not all(isinstance(q, str) and q for q in queues):
            raise EventError(f"queues must be a non-empty list of queue names, got {self.queues!r}")
        object.__setattr__(self, "queues", tuple(dict.fromkeys(queues)))


@dataclass(frozen=True, slots=True)
class CallbackRequested(_Event):
    """Virtual hold: the caller hangs up and keeps the place; at the head the engine places a callback."""

    at: datetime
    call_id: str


@dataclass(frozen=True, slots=True)
class AgentDeviceChanged(_Event):
    """The agent's phone is busy (in use, ringing, on hold) or free, whoever placed its call: the PBX's
    device state. A busy phone gets no offer; the agent's own state (ready, wrap-up, ...) is untouched."""

    at: datetime
    agent_id: str
    busy: bool

    def _check(self) -> None:
        if not isinstance(self.busy, bool):
            raise EventError(f"busy must be a bool, got {self.busy!r}")


Event = (
    AgentLoggedIn
    | AgentReady
    | AgentNotReady
    | AgentLoggedOut
    | CallQueued
    | CallLeft
    | OfferAnswered
    | OfferFailed
    | CallEnded
    | CallTransferred
    | TimerFired
    | ForceAgentState
    | ExtendWrapUp
    | MoveCall
    | SetCallPriority
    | SetAgentQueues
    | CallbackRequested
    | AgentDeviceChanged
)
