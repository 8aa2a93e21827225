"""The queues' indexes, under the engine: who waits where and in what order, who is ready for which queue.

``Routing`` holds the engine's bookkeeping of calls and agents and the queries on it (positions, expected
waits, the wallboard's lists); the engine (queueing/engine.py) subclasses it and does everything that
changes a call or an agent. Sans-IO like the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agents.state import AgentState

from .callstate import CallState
from .config import EngineConfig, QueueSpec, Strategy
from .errors import UnknownAgent, UnknownCall, UnknownQueue
from .index import ReadyAgents, WaitingCalls
from .records import AgentRecord, CallRecord

WAITING = CallState.WAITING


class Routing:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.queues: dict[str, QueueSpec] = {q.name: q for q in config.queues}
        self._agents: dict[str, AgentRecord] = {
            a.id: AgentRecord(a.id, a.queues, a.skills) for a in config.agents
        }
        self._members: dict[str, list[str]] = {q: [] for q in self.queues}
        for a in config.agents:
            for q in a.queues:
                self._members[q].append(a.id)
        self._ready: dict[str, ReadyAgents] = {q: ReadyAgents() for q in self.queues}
        self._waiting: dict[str, WaitingCalls] = {q: WaitingCalls() for q in self.queues}
        self._waiting_count: dict[str, int] = dict.fromkeys(self.queues, 0)
        self._handle_time: dict[str, float] = dict.fromkeys(self.queues, 180.0)  # moving average, s
        self._calls: dict[str, CallRecord] = {}
        self._tz = ZoneInfo(config.timezone)
        self._day_end = float("-inf")  # when "calls today" resets next (UTC timestamp)

    def _call(self, call_id: str) -> CallRecord:
        c = self._calls.get(call_id)
        if c is None:
            raise UnknownCall(f"unknown call {call_id!r}")
        return c

    def _add_ready(self, a: AgentRecord) -> None:
        """The agent is ready: into each of its queues' ready index, in that queue's strategy order."""
        for q in a.queues:
            spec = self.queues[q]
            s = spec.strategy
            if s is Strategy.LONGEST_IDLE:
                self._ready[q].add(a.id, a.idle_since, 0.0)
            elif s is Strategy.FEWEST_CALLS:
                self._ready[q].add(a.id, a.calls_today, a.idle_since)
            elif s is Strategy.ROUND_ROBIN:
                self._ready[q].add(a.id, a.last_offer.get(q, 0), a.idle_since)
            else:
                self._ready[q].add(a.id, -a.skills.get(spec.rank_skill, 0), a.idle_since)

    def _set_queues(self, a: AgentRecord, queues: tuple[str, ...]) -> None:
        """The agent serves ``queues`` from now on: memberships and ready indexes follow."""
        indexed = any(a.id in self._ready[q] for q in a.queues)
        if indexed:
            self._unindex(a)
        for q in a.queues:
            self._members[q].remove(a.id)
        a.queues = queues
        for q in queues:
            self._members[q].append(a.id)
        if indexed:
            self._add_ready(a)

    def agent_queues(self, agent_id: str) -> tuple[str, ...]:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}")
        return a.queues

    def call_priority(self, call_id: str) -> int:
        return -self._call(call_id).key[0]

    def queue_length(self, queue: str) -> int:
        return self._waiting_count[queue]

    def waiting_calls(self, queue: str) -> list[str]:
        """The queue's waiting calls in order (for wallboards and tests; O(n log n))."""
        self._queue_spec(queue)
        return [cid for _, cid in sorted(self._queue_entries(queue))]

    def ready_agents(self, queue: str) -> list[str]:
        """Ready agents that may get an offer now, in the queue's strategy order."""
        return list(self._ready[self._queue_spec(queue).name])

    def position(self, call_id: str) -> int:
        """1 = next in its queue. O(calls in the queue): for announcements, not for routing."""
        c = self._call(call_id)
        if c.state != WAITING:
            return 0
        return 1 + sum(1 for key, _ in self._queue_entries(c.queue) if key < c.key)

    def expected_wait(self, call_id: str) -> float:
        """Seconds: place x average handle time / agents staffing the queue."""
        c = self._call(call_id)
        if c.state != WAITING:
            return 0.0
        staffed = sum(
            1
            for aid in self._members[c.queue]
            if self._agents[aid].state not in (AgentState.LOGGED_OUT, AgentState.NOT_READY)
        )
        return self.position(call_id) * self._handle_time[c.queue] / max(1, staffed)

    def _unindex(self, a: AgentRecord) -> None:
        for q in a.queues:
            self._ready[q].remove(a.id)

    def _wait(self, c: CallRecord) -> None:
        """Put the waiting call in its queue's index at its own place (kept from its first entry)."""
        c.agent = None
        c.version += 1
        self._waiting_count[c.queue] += 1
        if c.preferred is None:
            self._waiting[c.queue].push(c.skills, c.key, c.id, c.version)

    def _unwait(self, c: CallRecord) -> None:
        c.version += 1  # its heap entry is stale from now on
        self._waiting_count[c.queue] -= 1

    def _is_live(self, call_id: str, version: int) -> bool:
        c = self._calls.get(call_id)
        return c is not None and c.version == version and c.state == WAITING

    def _queue_entries(self, queue: str) -> list[tuple[tuple[int, float, int], str]]:
        entries = list(self._waiting[queue].live(self._is_live))
        entries += [
            (c.key, c.id)
            for c in self._calls.values()
            if c.queue == queue and c.state == WAITING and c.preferred is not None
        ]
        return entries

    def _new_day(self, at: datetime) -> None:
        local = at.astimezone(self._tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self._tz) + timedelta(days=1)
        self._day_end = midnight.timestamp()
        for a in self._agents.values():
            a.calls_today = 0
        for q, spec in self.queues.items():
            if spec.strategy is Strategy.FEWEST_CALLS:
                ready = self._ready[q]
                for aid in list(ready):
                    ready.add(aid, 0, self._agents[aid].idle_since)

    def _queue_spec(self, name: str) -> QueueSpec:
        spec = self.queues.get(name)
        if spec is None:
            raise UnknownQueue(f"unknown queue {name!r}")
        return spec
