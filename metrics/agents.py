"""Agent time from state changes: pure arithmetic, no I/O, no clock.

The engine emits `AgentStateChanged(agent_id, old, new, reason, at)` on every change; `AgentTimeline`
turns that stream into closed intervals (`AgentInterval`), which the daemon stores (records/agentlog.py)
so that after-call work, occupancy and not-ready reasons are recomputable after a restart.

- after-call work (ACW, 话后整理) = time in `wrap_up`.
- occupancy = (on_call + wrap_up) / (ready + reserved + on_call + wrap_up): the share of the time agents
  were available to the ACD that they spent handling calls. Not-ready and logged-out time is left out.
- not-ready time by reason (e.g. missed, break, training).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from metrics.kpi import rate
from records.agent import AgentInterval

BUSY_STATES = ("on_call", "wrap_up")
AVAILABLE_STATES = ("ready", "reserved", "on_call", "wrap_up")


class AgentTimeline:
    """Feeds on state changes; `change` returns the interval it closed (None for an agent's first state)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, str, datetime]] = {}

    def change(self, agent_id: str, new_state: str, reason: str, at: datetime) -> AgentInterval | None:
        prev = self._open.get(agent_id)
        self._open[agent_id] = (new_state, reason, at)
        if prev is None:
            return None
        state, old_reason, since = prev
        if at < since:  # a late event: keep the newer start, close nothing
            self._open[agent_id] = (state, old_reason, since)
            return None
        if at == since:  # zero length (login then ready at once): nothing to keep; starts stay unique
            return None
        return AgentInterval(agent_id, state, old_reason, since, at)

    def open_intervals(self, now: datetime) -> list[AgentInterval]:
        """The current state of each agent as an interval up to `now` (still open; the daemon stores
        them at a clean stop). Zero-length ones are left out."""
        return [AgentInterval(a, s, r, since, now) for a, (s, r, since) in sorted(self._open.items()) if now > since]


@dataclass(slots=True)
class AgentTime:
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # by state
    not_ready_reasons: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # by reason

    @property
    def wrap_up(self) -> float:
        return float(self.seconds["wrap_up"])

    @property
    def occupancy(self) -> float | None:
        busy = sum(self.seconds[s] for s in BUSY_STATES)
        available = sum(self.seconds[s] for s in AVAILABLE_STATES)
        return rate(busy, available)

    @property
    def staffed_seconds(self) -> float:
        """Logged in and not on a not-ready reason: the time an agent counted as 'ready to work'."""
        return float(sum(self.seconds[s] for s in AVAILABLE_STATES))


def agent_time(intervals: Iterable[AgentInterval], since: datetime, until: datetime,
               agent: str | None = None) -> AgentTime:
    """Seconds per state (and per not-ready reason) within [since, until), clipped to the window."""
    out = AgentTime()
    for iv in intervals:
        if agent is not None and iv.agent_id != agent:
            continue
        s = iv.seconds_within(since, until)
        if s <= 0:
            continue
        out.seconds[iv.state] += s
        if iv.state == "not_ready":
            out.not_ready_reasons[iv.reason or "unknown"] += s
    return out


def by_agent(intervals: Iterable[AgentInterval], since: datetime, until: datetime) -> dict[str, AgentTime]:
    out: dict[str, AgentTime] = {}
    for iv in intervals:
        s = iv.seconds_within(since, until)
        if s <= 0:
            continue
        t = out.setdefault(iv.agent_id, AgentTime())
        t.seconds[iv.state] += s
        if iv.state == "not_ready":
            t.not_ready_reasons[iv.reason or "unknown"] += s
    return dict(sorted(out.items()))


def agents_available(intervals: Iterable[AgentInterval], since: datetime, until: datetime) -> float:
    """Average number of agents available to the ACD (ready/ringing/on call/wrap-up) over the window."""
    span = (until - since).total_seconds()
    if span <= 0:
        return 0.0
    return agent_time(intervals, since, until).staffed_seconds / span
