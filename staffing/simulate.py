"""Play days of calls through the ACD engine (queueing.Engine, sans-IO) with a roster: the proof that a
staffing plan holds, and the generator of seeded history.

A small discrete-event loop plays the shell's part, as bench/engine.py does: callers arrive per queue and
30-minute interval (Poisson at the given rates), ring an agent 2-8 s (a few rings go unanswered), talk a
log-normal time and hang up impatiently (log-normal patience: deliberately not the exponential that
Erlang-A assumes, so the comparison is fair). Agents log in when the roster's shift starts, go on their
break wave, come back, and are logged out by the engine's shift rules. The records are `CallRecordData`
as the daemon writes them, and agent state intervals as metrics/agents.py builds them.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.shifts import ShiftRules
from metrics.agents import AgentInterval, AgentTimeline
from queueing import (
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallLeft,
    CallOutcome,
    CallQueued,
    CancelTimer,
    Engine,
    EngineConfig,
    EngineError,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    StartTimer,
    TimerFired,
)
from queueing.timerkeys import TimerKey
from records.model import CallRecordData, Outcome
from staffing.history import SLOT_MINUTES, SLOTS

SLOT_S = SLOT_MINUTES * 60


@dataclass(frozen=True, slots=True)
class Traffic:
    """How callers and agents behave (the month seeder's figures)."""

    talk_median: float = 150.0
    talk_sigma: float = 0.5
    patience_median: float = 150.0
    patience_sigma: float = 0.6
    ring: tuple[float, float] = (2.0, 8.0)
    no_answer: float = 0.02  # an offer the agent does not pick up (ring-no-answer)
    ivr: tuple[float, float] = (6.0, 25.0)
    ivr_abandon: float = 0.04


TRAFFIC = Traffic()


@dataclass
class _Call:
    id: str
    queue: str
    entered: datetime
    queued: datetime
    offered: datetime | None = None
    answered: datetime | None = None
    agent: str | None = None
    offers: int = 0
    talk: float = 0.0


@dataclass
class SimResult:
    records: list[CallRecordData] = field(default_factory=list)
    intervals: list[AgentInterval] = field(default_factory=list)
    refused: int = 0  # events the engine refused (e.g. a login outside the shift)


class _Loop:
    def __init__(self, engine: Engine, start: datetime, rng: random.Random, traffic: Traffic,
                 ring_timeout: dict[str, float]) -> None:
        self.engine, self.start, self.rng, self.traffic = engine, start, rng, traffic
        self.ring_timeout = ring_timeout
        self.heap: list[tuple[float, int, str, object]] = []
        self.seq = count()
        self.timers: dict[TimerKey, int] = {}
        self.calls: dict[str, _Call] = {}
        self.ringing: dict[str, str] = {}
        self.timeline = AgentTimeline()
        self.out = SimResult()

    def at(self, ts: float) -> datetime:
        return self.start + timedelta(seconds=ts)

    def push(self, ts: float, kind: str, data: object) -> None:
        heapq.heappush(self.heap, (ts, next(self.seq), kind, data))

    def handle(self, event: object, ts: float) -> None:
        try:
            out = self.engine.handle(event)  # type: ignore[arg-type]
        except (EngineError, IllegalTransition):
            self.out.refused += 1
            return
        for cmd in out:
            if isinstance(cmd, StartTimer):
                gen = next(self.seq)
                self.timers[cmd.key] = gen
                self.push((cmd.due - self.start).total_seconds(), "timer", (cmd.key, gen))
            elif isinstance(cmd, CancelTimer):
                self.timers.pop(cmd.key, None)
            elif isinstance(cmd, OfferCall):
                self._offer(cmd, ts)
            elif isinstance(cmd, CallOutcome):
                self._outcome(cmd, ts)
            elif isinstance(cmd, AgentStateChanged):
                iv = self.timeline.change(cmd.agent_id, cmd.new.value, cmd.reason, cmd.at)
                if iv is not None and iv.end > iv.start:
                    self.out.intervals.append(iv)
                if cmd.new is AgentState.NOT_READY and cmd.reason == "missed":
                    self.push(ts + 20, "ready", cmd.agent_id)

    def _offer(self, cmd: OfferCall, ts: float) -> None:
        c = self.calls[cmd.call_id]
        c.offers += 1
        c.offered = c.offered or self.at(ts)
        self.ringing[cmd.call_id] = cmd.agent_id
        if self.rng.random() < self.traffic.no_answer:
            self.push(ts + self.ring_timeout.get(c.queue, 15.0), "noanswer", (cmd.call_id, cmd.agent_id))
        else:
            self.push(ts + self.rng.uniform(*self.traffic.ring), "answer", (cmd.call_id, cmd.agent_id))

    def _outcome(self, cmd: CallOutcome, ts: float) -> None:
        c = self.calls[cmd.call_id]  # keeps the queue it entered: the forecast counts arrivals per queue
        if cmd.outcome == "answered":
            c.answered, c.agent = self.at(ts), cmd.agent_id
            return
        self.ringing.pop(cmd.call_id, None)
        outcome = Outcome.ABANDONED_RINGING if cmd.outcome == "abandoned_ringing" else Outcome.ABANDONED_QUEUE
        self._record(c, self.at(ts), outcome)

    def _record(self, c: _Call, ended: datetime, outcome: Outcome) -> None:
        del self.calls[c.id]
        answered = outcome is Outcome.ANSWERED
        wait_end = c.answered if answered and c.answered else ended
        self.out.records.append(CallRecordData(
            call_id=c.id, linkedid=c.id, caller_number=f"138{abs(hash(c.id)) % 10**8:08d}", caller_name="",
            channel=f"PJSIP/trunk-{c.id}", ivr_path="welcome>main", language="zh", queue=c.queue,
            agent_id=c.agent if answered else None, entered_at=c.entered, queued_at=c.queued,
            offered_at=c.offered,
            answered_at=c.answered if answered else None, ended_at=ended,
            wait_seconds=(wait_end - c.queued).total_seconds(), talk_seconds=c.talk if answered else None,
            offers=c.offers, outcome=outcome, hangup_cause=16))

    def step(self, ts: float, kind: str, data: Any) -> None:
        if kind == "arrive":
            cid, queue = data
            self.handle(CallQueued(self.at(ts), cid, queue), ts)
            t = self.traffic
            self.push(ts + max(3.0, t.patience_median * math.exp(self.rng.gauss(0, t.patience_sigma))), "abandon", cid)
        elif kind == "abandon":
            if data in self.calls and self.calls[data].answered is None:
                self.handle(CallLeft(self.at(ts), data), ts)
        elif kind == "answer":
            cid, aid = data
            if self.ringing.get(cid) == aid:
                del self.ringing[cid]
                self.handle(OfferAnswered(self.at(ts), cid, aid), ts)
                t = self.traffic
                talk = max(20.0, t.talk_median * math.exp(self.rng.gauss(0, t.talk_sigma)))
                self.calls[cid].talk = talk
                self.push(ts + talk, "end", cid)
        elif kind == "noanswer":
            cid, aid = data
            if self.ringing.get(cid) == aid:
                del self.ringing[cid]
                self.handle(OfferFailed(self.at(ts), cid, aid, "noanswer"), ts)
        elif kind == "end":
            c = self.calls[data]
            self.handle(CallEnded(self.at(ts), c.id), ts)
            self._record(c, self.at(ts), Outcome.ANSWERED)
        elif kind == "timer":
            key, gen = data
            if self.timers.get(key) == gen:
                del self.timers[key]
                self.handle(TimerFired(self.at(ts), key), ts)
        else:
            self._agent_step(ts, kind, data)

    def _agent_step(self, ts: float, kind: str, aid: str) -> None:
        state = self.engine.agent_state(aid)[0]
        if kind == "login":
            if state is AgentState.LOGGED_OUT:
                self.handle(AgentLoggedIn(self.at(ts), aid), ts)
            self.handle(AgentReady(self.at(ts), aid), ts)
        elif kind == "break" and state is AgentState.READY:
            self.handle(AgentNotReady(self.at(ts), aid, "break"), ts)
        elif kind in ("back", "ready") and state is AgentState.NOT_READY:
            self.handle(AgentReady(self.at(ts), aid), ts)


def simulate(engine_config: EngineConfig, rules: ShiftRules, start: datetime, rates: dict[str, NDArray[np.float64]],
             seed: int = 1, traffic: Traffic | None = None, ring_timeout: dict[str, float] | None = None) -> SimResult:
    """Play the days of `rates` (per queue, days x SLOTS expected offered calls per interval) from `start`
    (UTC, a local midnight) with the roster of `rules`."""
    traffic = traffic or TRAFFIC
    rng = random.Random(f"staffing-sim:{seed}")
    nprng = np.random.default_rng(rng.randrange(2**32))
    loop = _Loop(Engine(engine_config, rules), start, rng, traffic, ring_timeout or {})
    days = max(r.shape[0] for r in rates.values())
    _schedule_agents(loop, rules, [a.id for a in engine_config.agents], start, days)
    n = 0
    for q, matrix in sorted(rates.items()):
        counts = nprng.poisson(np.maximum(matrix, 0.0))
        for d in range(counts.shape[0]):
            for s in range(SLOTS):
                for _ in range(int(counts[d, s])):
                    ts = (d * SLOTS + s) * SLOT_S + rng.uniform(0, SLOT_S)
                    n += 1
                    cid = f"s{seed}-{n:07d}"
                    ivr = rng.uniform(*traffic.ivr)
                    at = loop.at(ts)
                    loop.calls[cid] = _Call(cid, q, at - timedelta(seconds=ivr), at)
                    loop.push(ts, "arrive", (cid, q))
    # IVR hang-ups never reach a queue: records only (they count neither as offered nor as lost).
    for i in range(int(n * traffic.ivr_abandon)):
        ts = rng.uniform(0, days * 86400.0)
        at = loop.at(ts)
        loop.out.records.append(CallRecordData(
            call_id=f"s{seed}-ivr{i:06d}", linkedid=f"s{seed}-ivr{i:06d}", caller_number="13800000000",
            caller_name="", channel="PJSIP/trunk-ivr", ivr_path="welcome", language="zh", queue=None,
            agent_id=None, entered_at=at, queued_at=None, offered_at=None, answered_at=None,
            ended_at=at + timedelta(seconds=rng.uniform(*traffic.ivr)), wait_seconds=None, talk_seconds=None,
            offers=0, outcome=Outcome.ABANDONED_IVR, hangup_cause=16))
    while loop.heap:
        ts, _, kind, data = heapq.heappop(loop.heap)
        loop.step(ts, kind, data)
    loop.out.records.sort(key=lambda r: (r.ended_at, r.call_id))
    loop.out.intervals.sort(key=lambda i: (i.start, i.agent_id))
    return loop.out


def _schedule_agents(loop: _Loop, rules: ShiftRules, agents: list[str], start: datetime, days: int) -> None:
    roster = rules.roster
    first = start.astimezone(roster.tz).date()
    end = start + timedelta(days=days)
    for aid in agents:
        if not roster.has_agent(aid):
            continue
        for d in range(-1, days + 1):
            for s in roster.starting_on(aid, first + timedelta(days=d)):
                if s.end <= start or s.start >= end:
                    continue
                # Agents go ready a little before their shift (shift_rules.ready_grace_minutes allows it),
                # so the incoming shift covers the outgoing one's last minutes without offers.
                early = rules.ready_grace.total_seconds() * loop.rng.uniform(0.3, 1.0)
                loop.push(max(0.0, (s.start - start).total_seconds() - early), "login", aid)
                for b0, b1 in s.breaks:
                    if start <= b0 < end:
                        loop.push((b0 - start).total_seconds(), "break", aid)
                        loop.push((b1 - start).total_seconds(), "back", aid)


def rates_by_slot(records: list[CallRecordData], start: datetime, days: int,
                  tz_name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(offered, answered) per interval (days x SLOTS) over every queue: offered = queued calls."""
    from zoneinfo import ZoneInfo

    from staffing.history import slot_of

    tz = ZoneInfo(tz_name)
    first = start.astimezone(tz).date()
    offered = np.zeros((days, SLOTS))
    answered = np.zeros((days, SLOTS))
    for r in records:
        if r.queued_at is None:
            continue
        day, slot = slot_of(r.queued_at, tz)
        i = (day - first).days
        if 0 <= i < days:
            offered[i, slot] += 1
            answered[i, slot] += r.outcome is Outcome.ANSWERED
    return offered, answered


def utc_midnight(day: object, tz_name: str) -> datetime:
    from datetime import date, time
    from zoneinfo import ZoneInfo

    assert isinstance(day, date)
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz_name)).astimezone(UTC)
