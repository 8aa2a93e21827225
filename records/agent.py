"""One closed interval of an agent's state: the pure record that metrics/agents.py computes from state
changes and records/agentlog.py stores. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class AgentTimeError(ValueError):
    """An interval that ends before it starts, or a naive time."""


@dataclass(frozen=True, slots=True)
class AgentInterval:
    agent_id: str
    state: str  # ready | reserved | on_call | wrap_up | not_ready | logged_out
    reason: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if t.tzinfo is None:
                raise AgentTimeError("interval times must be timezone-aware")
        if self.end < self.start:
            raise AgentTimeError(f"interval of {self.agent_id} ends before it starts")

    def seconds_within(self, since: datetime, until: datetime) -> float:
        lo, hi = max(self.start, since), min(self.end, until)
        return max(0.0, (hi - lo).total_seconds())
