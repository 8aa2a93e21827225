"""Seeded calls (the PBX simulator's ``CallScript`` list) replayed through a queue model and the detector,
with or without an announcement: what bench/surge.py measures and the tests check (pure, no I/O).

The queue: first come first served over the agents on shift in each hour (sized to the ordinary load:
offered Erlangs / 0.85 occupancy, plus one), a caller leaves when their patience runs out; abandoned
callers take no agent, so serving calls in order to the earliest free agent is exact for FCFS.
The signals: the IVR's topic when the caller leaves the menu (arrival + menu time), and the agent's first
ticket fields a minute after an answered call starts (topic again, and the place the caller named).
The announcement: from ``announce_at`` callers who choose its topic hear it (``ANNOUNCE_SECONDS``);
surge callers press 2 for an agent with probability ``press2``, everyone else about that topic always
(their matter is not the outage), the others hang up informed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asterisk.sim.config import CallScript
from incidents.detect import CandidateNews, Detector, Signal

MENU_SECONDS = 8.0  # the main menu prompt before a key
ANNOUNCE_SECONDS = 15.0
TYPE_SECONDS = 60.0  # the agent types the first ticket fields within the first minute
WRAPUP = 20.0


@dataclass(frozen=True, slots=True)
class Outcome:
    arrival: datetime
    surge: bool
    offered: bool  # reached the queue
    answered: bool
    informed: bool  # heard the announcement and hung up without an agent
    wait: float


@dataclass
class Replay:
    start: datetime
    topics: dict[str, str]  # menu digit -> topic
    places: Sequence[str]  # ordinary callers name one of these half of the time
    agents_by_hour: Callable[[int], int]
    outcomes: list[Outcome] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)

    def run(self, calls: Sequence[CallScript], *, seed: int, announce_at: datetime | None = None,
            announce_topic: str = "", press2: float = 0.3) -> None:
        rng = random.Random(f"replay:{seed}")
        free: list[tuple[float, int]] = [(0.0, i) for i in range(max(self.agents_by_hour(h) for h in range(24)))]
        heapq.heapify(free)
        self.outcomes, self.signals = [], []
        for n, call in enumerate(sorted(calls, key=lambda c: c.arrival)):
            topic = self.topics.get(call.dtmf[0], "") if call.dtmf else ""
            at = self.start + timedelta(seconds=call.arrival)
            menu = MENU_SECONDS + call.dtmf_delay
            surge = bool(call.place)
            cid = f"{seed}-{n}"
            self.signals.append(Signal(cid, at + timedelta(seconds=menu), topic=topic))
            if announce_at is not None and topic == announce_topic and at + timedelta(seconds=menu) >= announce_at:
                menu += ANNOUNCE_SECONDS
                if surge and rng.random() >= press2:
                    self.outcomes.append(Outcome(at, surge, False, False, True, 0.0))
                    continue
            queued = call.arrival + menu
            answer = self._serve(free, queued, max(1.0, call.patience - menu), call.talk)
            if answer is None:
                self.outcomes.append(Outcome(at, surge, True, False, False, call.patience - menu))
                continue
            self.outcomes.append(Outcome(at, surge, True, True, False, answer - queued))
            place = call.place or (rng.choice(self.places) if self.places and rng.random() < 0.5 else "")
            self.signals.append(Signal(cid, self.start + timedelta(seconds=answer + TYPE_SECONDS), topic=topic,
                                       places=(place,) if place else (), source="ticket"))
        self.signals.sort(key=lambda s: s.at)

    def _serve(self, free: list[tuple[float, int]], queued: float, patience: float, talk: float) -> float | None:
        """When the earliest free agent on shift picks this caller up, or None if the caller left first."""
        while True:
            t, agent = free[0]
            start = max(t, queued)
            on_at = self._next_on_shift(agent, start)
            if on_at == start:
                break
            heapq.heapreplace(free, (on_at, agent))
        if start - queued > patience:
            return None
        heapq.heapreplace(free, (start + talk + WRAPUP, agent))
        return start

    def _next_on_shift(self, agent: int, t: float) -> float:
        for _ in range(48):
            hour = (self.start + timedelta(seconds=t)).hour
            if agent < self.agents_by_hour(hour):
                return t
            t = math.floor(t / 3600 + 1) * 3600.0 + 1e-6
        return t

    def connection_rate(self, since: datetime, until: datetime) -> tuple[float, int, int, int]:
        """(answered / offered, offered, answered, informed) for callers arriving in [since, until)."""
        inside = [o for o in self.outcomes if since <= o.arrival < until]
        offered = sum(o.offered for o in inside)
        answered = sum(o.answered for o in inside)
        return (answered / offered if offered else 1.0), offered, answered, sum(o.informed for o in inside)


def staffing(hourly_rate: Sequence[float], talk_mean: float) -> Callable[[int], int]:
    """Agents on shift each hour: offered Erlangs / 0.85 occupancy, rounded up, plus one."""
    agents = [math.ceil(r * (talk_mean + WRAPUP) / 3600 / 0.85) + 1 for r in hourly_rate]
    return lambda hour: agents[hour]


def detect(detector: Detector, signals: Sequence[Signal],
           every: timedelta = timedelta(minutes=1)) -> list[CandidateNews]:
    """Feed signals in time order, ticking the detector each minute; every piece of news."""
    news: list[CandidateNews] = []
    next_tick = signals[0].at + every if signals else None
    for s in signals:
        while next_tick is not None and next_tick <= s.at:
            news += detector.tick(next_tick)
            next_tick += every
        news += detector.handle(s)
    return news
