"""Commands the engine returns: the shell carries them out (ring an agent, start a timer, record)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.state import AgentState
from records.model import Outcome

from .callstate import ACD_OUTCOMES
from .timerkeys import TimerKey

# Terminal outcomes of a call in the ACD; each call gets exactly one (of the one Outcome enum, records/model.py).
OUTCOMES = ACD_OUTCOMES


@dataclass(frozen=True, slots=True)
class OfferCall:
    """Ring ``agent_id`` with the waiting caller ``call_id``."""

    call_id: str
    agent_id: str
    queue: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PlaceCallback:
    """A virtual-hold call reached an agent: reserve the agent, dial the citizen back."""

    call_id: str
    agent_id: str
    queue: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StartTimer:
    key: TimerKey
    due: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """Audit trail: one per change of an agent's state or not-ready reason."""

    agent_id: str
    old: AgentState
    new: AgentState
    reason: str
    at: datetime
    by: str = "system"  # "agent", "system" or the supervisor's id


@dataclass(frozen=True, slots=True)
class CallOutcome:
    call_id: str
    outcome: Outcome
    at: datetime
    queue: str = ""
    agent_id: str | None = None
    waited: float = 0.0  # seconds from entry (entered_at) to this outcome


@dataclass(frozen=True, slots=True)
class CallMoved:
    """A waiting call changed queue (escalation overflow, fallback to a queue, or a supervisor)."""

    call_id: str
    old_queue: str
    new_queue: str
    reason: str
    at: datetime
    by: str = "system"


@dataclass(frozen=True, slots=True)
class AgentQueuesChanged:
    """A supervisor changed the queues an agent serves."""

    agent_id: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell the caller the place (1 = next) and the expected wait in seconds."""

    call_id: str
    position: int
    expected_wait: float


Command = (
    OfferCall
    | PlaceCallback
    | StartTimer
    | CancelTimer
    | AgentStateChanged
    | CallOutcome
    | CallMoved
    | AgentQueuesChanged
    | Announce
)
