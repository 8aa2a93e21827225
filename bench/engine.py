"""ACD benchmark: a seeded simulated day through the engine alone (no I/O), plus routing-decision timing.

    .venv/bin/python bench/engine.py                 # 100,000 calls, 1,000 agents, 20 queues, 4 strategies
    .venv/bin/python bench/engine.py --json out.json # also write the figures as JSON

The bench plays the daemon's part with a discrete-event loop (a heap of due times): callers arrive,
ring, talk, hang up impatiently; agents log in for three shifts and are logged out by the shift rules.
It prints figures; it asserts nothing (speed belongs here, not in tests).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.shifts import Roster, ShiftRules, ShiftTemplate, Team
from queueing import (
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    AgentSpec,
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
    EscalateTimer,
    EscalationStep,
    Fallback,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    PlaceCallback,
    QueueSpec,
    StartTimer,
    Strategy,
    TimerFired,
    TimerKey,
    WrapUpTimer,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 4)  # an ordinary Wednesday
DAY0 = datetime.combine(DAY, dtime(0), tzinfo=TZ).astimezone(UTC)
SHIFTS = (("early", 0, 8, 0.22), ("day", 8, 16, 0.44), ("late", 16, 0, 0.34))  # name, start, end, share
CALL_SHARE = (0.10, 0.55, 0.35)  # calls in each shift's hours


@dataclass
class Setup:
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentSpec, ...]
    roster: Roster
    weights: list[float]


def build(n_agents: int, n_queues: int, strategy: Strategy, seed: int) -> Setup:
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_queues)]  # a few busy queues, a long tail
    names = [f"q{i:02d}" for i in range(n_queues)]
    queues = tuple(
        QueueSpec(
            name,
            strategy=strategy,
            wrapup_seconds=10,
            max_wait=600,
            fallback=Fallback("voicemail"),
            escalation=(EscalationStep(60, relax_levels=1),),
            skill=name,
        )
        for name in names
    )
    agents = []
    for i in range(n_agents):
        member: set[int] = set()
        while len(member) < 3:
            member.add(rng.choices(range(n_queues), weights)[0])
        skills = {names[q]: rng.choice((1, 1, 2, 2, 3)) for q in member}
        agents.append(AgentSpec(f"a{i:04d}", tuple(names[q] for q in sorted(member)), skills))
    templates = tuple(ShiftTemplate(name, dtime(start), dtime(end)) for name, start, end, _ in SHIFTS)
    teams, start = [], 0
    for name, _, _, share in SHIFTS:
        size = round(n_agents * share)
        teams.append(Team(name, tuple(a.id for a in agents[start : start + size]), (name,)))
        start += size
    anchor = DAY - timedelta(days=DAY.weekday())
    roster = Roster(templates, tuple(teams), anchor, agent_queues={a.id: a.queues for a in agents})
    return Setup(queues, tuple(agents), roster, weights)


@dataclass
class DayResult:
    strategy: str
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    answered_15s: int = 0
    longest_wait: float = 0.0
    wall: float = 0.0
    events: int = 0
    handle_ns: list[int] = field(default_factory=list)
    decision_ns: list[int] = field(default_factory=list)
    busy: dict[str, float] = field(default_factory=dict)
    staffed: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    max_waiting: int = 0

    def figures(self) -> dict[str, object]:
        occ = [self.busy.get(a, 0.0) / s for a, s in self.staffed.items() if s > 0]
        answered = self.outcomes.get("answered", 0)
        return {
            "strategy": self.strategy,
            "calls": self.calls,
            "outcomes": dict(sorted(self.outcomes.items())),
            "connection_rate": round(answered / self.calls, 4),
            "answered_within_15s_rate": round(self.answered_15s / self.calls, 4),
            "longest_wait_s": round(self.longest_wait, 1),
            "occupancy_mean": round(statistics.fmean(occ), 3),
            "occupancy_stdev": round(statistics.pstdev(occ), 3),
            "occupancy_min": round(min(occ), 3),
            "occupancy_max": round(max(occ), 3),
            "wall_s": round(self.wall, 2),
            "lifecycles_per_s": round(self.calls / self.wall),
            "events": self.events,
            "handle_p50_us": pct(self.handle_ns, 50),
            "handle_p99_us": pct(self.handle_ns, 99),
            "decision_p50_us": pct(self.decision_ns, 50),
            "decision_p99_us": pct(self.decision_ns, 99),
            "max_waiting": self.max_waiting,
            "refused_events": self.refused,
        }


def pct(values: list[int], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return round(s[min(len(s) - 1, int(len(s) * p / 100))] / 1000, 1)


def arrival_times(rng: random.Random, n_calls: int) -> list[float]:
    """Seconds after local midnight, by the shift shares, a little peaked inside each span."""
    out = []
    for i, share in enumerate(CALL_SHARE):
        for _ in range(round(n_calls * share)):
            out.append(i * 8 * 3600 + min(8 * 3600 - 1, rng.triangular(0, 8 * 3600, 4 * 3600)))
    out.sort()
    return out[:n_calls]


def run_day(setup: Setup, strategy: Strategy, n_calls: int, seed: int) -> DayResult:
    rng = random.Random(seed)
    engine = Engine(EngineConfig(setup.queues, setup.agents), ShiftRules(setup.roster))
    res = DayResult(strategy.value)
    heap: list[tuple[float, int, str, object]] = []
    seq = count()
    timer_gen: dict[TimerKey, int] = {}
    ringing: dict[str, str] = {}  # call -> agent
    answered_at: dict[str, float] = {}
    login_at: dict[str, float] = {}
    agent_of: dict[str, str] = {}
    queues = [q.name for q in setup.queues]
    waiting = 0

    def push(ts: float, kind: str, data: object) -> None:
        heapq.heappush(heap, (ts, next(seq), kind, data))

    for when in arrival_times(rng, n_calls):
        push(when, "arrive", None)
    for team in setup.roster.teams:
        tpl = next(s for s in setup.roster.shifts if s.name == team.rotation[0])
        start = tpl.start.hour * 3600 - 300
        for aid in team.agents:
            push(start + rng.uniform(0, 240), "login", aid)

    def at_of(ts: float) -> datetime:
        return DAY0 + timedelta(seconds=ts)

    def handle(event: object, ts: float, decision: bool) -> None:
        nonlocal waiting
        t0 = time.perf_counter_ns()
        try:
            out = engine.handle(event)  # type: ignore[arg-type]
        except (EngineError, IllegalTransition):
            res.refused += 1
            return
        dt = time.perf_counter_ns() - t0
        res.events += 1
        res.handle_ns.append(dt)
        if decision:
            res.decision_ns.append(dt)
        for cmd in out:
            if isinstance(cmd, StartTimer):
                gen = next(seq)
                timer_gen[cmd.key] = gen
                push((cmd.due - DAY0).total_seconds(), "timer", (cmd.key, gen))
            elif isinstance(cmd, CancelTimer):
                timer_gen.pop(cmd.key, None)
            elif isinstance(cmd, (OfferCall, PlaceCallback)):
                waiting -= 1
                ringing[cmd.call_id] = cmd.agent_id
                if rng.random() < 0.03:
                    push(ts + 15, "noanswer", (cmd.call_id, cmd.agent_id))
                else:
                    push(ts + rng.uniform(2, 6), "answer", (cmd.call_id, cmd.agent_id))
            elif isinstance(cmd, CallOutcome):
                res.outcomes[cmd.outcome] = res.outcomes.get(cmd.outcome, 0) + 1
                res.longest_wait = max(res.longest_wait, cmd.waited)
                if cmd.outcome == "answered":
                    res.answered_15s += cmd.waited <= 15
                else:
                    ringing.pop(cmd.call_id, None)
                    if cmd.outcome != "abandoned_ringing":
                        waiting -= 1
            elif isinstance(cmd, AgentStateChanged):
                if cmd.old is AgentState.LOGGED_OUT:
                    login_at[cmd.agent_id] = ts
                elif cmd.new is AgentState.LOGGED_OUT:
                    res.staffed[cmd.agent_id] = (
                        res.staffed.get(cmd.agent_id, 0.0) + ts - login_at.pop(cmd.agent_id)
                    )
                elif cmd.new is AgentState.NOT_READY and cmd.reason == "missed":
                    push(ts + 20, "ready", cmd.agent_id)

    n = 0
    started = time.perf_counter()
    while heap:
        ts, _, kind, data = heapq.heappop(heap)
        if kind == "arrive":
            cid = f"c{n}"
            n += 1
            q = rng.choices(queues, setup.weights)[0]
            level = rng.choices((0, 1, 2), (0.5, 0.35, 0.15))[0]
            skills = ((q, level),) if level else ()
            waiting += 1
            res.max_waiting = max(res.max_waiting, waiting)
            handle(CallQueued(at_of(ts), cid, q, priority=int(rng.random() < 0.05), skills=skills), ts, True)
            push(ts + rng.expovariate(1 / 150), "abandon", cid)
        elif kind == "abandon":
            if data not in answered_at and engine.call_state(data) is not None:  # type: ignore[arg-type]
                handle(CallLeft(at_of(ts), data), ts, True)  # type: ignore[arg-type]
        elif kind == "answer":
            cid, aid = data  # type: ignore[misc]
            if ringing.get(cid) == aid:
                del ringing[cid]
                answered_at[cid] = ts
                agent_of[cid] = aid
                handle(OfferAnswered(at_of(ts), cid, aid), ts, False)
                push(ts + rng.lognormvariate(math.log(150), 0.5), "end", cid)
        elif kind == "noanswer":
            cid, aid = data  # type: ignore[misc]
            if ringing.get(cid) == aid:
                del ringing[cid]
                waiting += 1
                handle(OfferFailed(at_of(ts), cid, aid, "noanswer"), ts, True)
        elif kind == "end":
            start_ts = answered_at.pop(data)  # type: ignore[call-overload]
            aid = agent_of.pop(data)  # type: ignore[call-overload]
            res.busy[aid] = res.busy.get(aid, 0.0) + ts - start_ts
            handle(CallEnded(at_of(ts), data), ts, False)  # type: ignore[arg-type]
        elif kind == "timer":
            key: TimerKey = data[0]  # type: ignore[index]
            gen: int = data[1]  # type: ignore[index]
            if timer_gen.get(key) == gen:
                del timer_gen[key]
                handle(TimerFired(at_of(ts), key), ts, isinstance(key, (WrapUpTimer, EscalateTimer)))
        elif kind == "login":
            handle(AgentLoggedIn(at_of(ts), data), ts, False)  # type: ignore[arg-type]
            handle(AgentReady(at_of(ts), data), ts, True)  # type: ignore[arg-type]
        elif kind == "ready":
            if engine.agent_state(data)[0] is AgentState.NOT_READY:  # type: ignore[arg-type]
                handle(AgentReady(at_of(ts), data), ts, True)  # type: ignore[arg-type]
    res.wall = time.perf_counter() - started
    res.calls = n
    for aid, since in login_at.items():  # still logged in at the end of the day
        res.staffed[aid] = res.staffed.get(aid, 0.0) + 24 * 3600 + 600 - since
    return res


def decisions_with_backlog(setup: Setup, waiting: int, rounds: int, seed: int) -> dict[str, float]:
    """Routing decisions with ``waiting`` calls queued and every agent logged in: an agent going ready
    picks a call across its queues; a new caller keeps the backlog; then a caller arriving picks among
    ready agents (with the backlog out of their reach)."""
    rng = random.Random(seed)
    queues = [q.name for q in setup.queues]
    engine = Engine(EngineConfig(setup.queues, setup.agents))
    at = DAY0
    for a in setup.agents:
        engine.handle(AgentLoggedIn(at, a.id))
    n = count()

    def new_call(ts: datetime, skills: tuple[tuple[str, int], ...] = ()) -> CallQueued:
        q = rng.choices(queues, setup.weights)[0]
        return CallQueued(ts, f"b{next(n)}", q, priority=int(rng.random() < 0.05), skills=skills or ((q, 1),))

    for _ in range(waiting):
        engine.handle(new_call(at))
    agent_side: list[int] = []
    call_side: list[int] = []
    agents = [a.id for a in setup.agents]

    def timed(event: object, into: list[int]) -> list[object]:
        t0 = time.perf_counter_ns()
        out = engine.handle(event)  # type: ignore[arg-type]
        into.append(time.perf_counter_ns() - t0)
        return out  # type: ignore[return-value]

    for r in range(rounds):
        ts = at + timedelta(seconds=r + 1)
        aid = agents[r % len(agents)]
        out = timed(AgentReady(ts, aid), agent_side)
        offer = next((c for c in out if isinstance(c, OfferCall)), None)
        if offer is not None:
            engine.handle(OfferAnswered(ts, offer.call_id, aid))
            engine.handle(new_call(ts))
            engine.handle(CallEnded(ts, offer.call_id))  # wrap-up 10 s: the agent is out of the way
        else:  # nothing it may take: step back so that the next round decides again
            engine.handle(AgentNotReady(ts, aid, "other"))
    # Call side: the backlog needs a skill nobody has; agents are ready; callers arrive and leave.
    engine2 = Engine(EngineConfig(setup.queues, setup.agents))
    for a in setup.agents:
        engine2.handle(AgentLoggedIn(at, a.id))
    for i in range(waiting):
        engine2.handle(CallQueued(at, f"z{i}", queues[i % len(queues)], skills=(("unheld", 1),)))
    for a in setup.agents:
        engine2.handle(AgentReady(at, a.id))
    engine = engine2
    for r in range(rounds):
        ts = at + timedelta(seconds=r + 1)
        out = timed(new_call(ts, ((rng.choice(queues), rng.choice((1, 2, 3))),)), call_side)
        for c in out:
            if isinstance(c, OfferCall):  # the caller leaves while ringing: the agent is ready again
                engine.handle(CallLeft(ts, c.call_id))
    return {
        "waiting": waiting,
        "agents": len(setup.agents),
        "agent_ready_p50_us": pct(agent_side, 50),
        "agent_ready_p99_us": pct(agent_side, 99),
        "call_arrival_p50_us": pct(call_side, 50),
        "call_arrival_p99_us": pct(call_side, 99),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--agents", type=int, default=1_000)
    p.add_argument("--queues", type=int, default=20)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--strategies", default=",".join(s.value for s in Strategy))
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = p.parse_args(argv)
    strategies = [Strategy(s) for s in args.strategies.split(",")]

    figures: dict[str, object] = {"calls": args.calls, "agents": args.agents, "queues": args.queues}
    setup = build(args.agents, args.queues, Strategy.LONGEST_IDLE, args.seed)
    figures["decisions_500_waiting"] = dec = decisions_with_backlog(setup, 500, 20_000, args.seed)
    print(f"routing decisions with {dec['waiting']} calls waiting, {dec['agents']} agents:")
    sides = (
        ("agent goes ready -> picks a call", "agent_ready"),
        ("call arrives -> picks an agent", "call_arrival"),
    )
    for label, side in sides:
        print(f"  {label}: p50 {dec[side + '_p50_us']} us, p99 {dec[side + '_p99_us']} us")

    days = []
    for strategy in strategies:
        setup = build(args.agents, args.queues, strategy, args.seed)
        days.append(run_day(setup, strategy, args.calls, args.seed).figures())
    figures["days"] = days
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print(f"\nsimulated day: {args.calls:,} calls, {args.agents:,} agents in 3 shifts, {args.queues} queues")
    rows: list[tuple[str, Callable[[dict[str, object]], object]]] = [
        ("wall time (s)", lambda d: d["wall_s"]),
        ("call lifecycles/s", lambda d: d["lifecycles_per_s"]),
        ("engine events", lambda d: d["events"]),
        ("handle() p50 / p99 (us)", lambda d: f"{d['handle_p50_us']} / {d['handle_p99_us']}"),
        ("decision p50 / p99 (us)", lambda d: f"{d['decision_p50_us']} / {d['decision_p99_us']}"),
        ("most calls waiting", lambda d: d["max_waiting"]),
        ("connection rate", lambda d: f"{d['connection_rate']:.1%}"),
        ("answered within 15 s", lambda d: f"{d['answered_within_15s_rate']:.1%}"),
        ("longest wait (s)", lambda d: d["longest_wait_s"]),
        ("occupancy mean", lambda d: f"{d['occupancy_mean']:.1%}"),
        ("occupancy stdev", lambda d: f"{d['occupancy_stdev']:.3f}"),
        ("occupancy min..max", lambda d: f"{d['occupancy_min']:.0%}..{d['occupancy_max']:.0%}"),
        ("refused events", lambda d: d["refused_events"]),
    ]
    print(f"{'':26}" + "".join(f"{d['strategy']!s:>16}" for d in days))
    for label, get in rows:
        print(f"{label:26}" + "".join(f"{get(d)!s:>16}" for d in days))
    print(f"{'outcomes':26}" + "".join(f"{'':>16}" for _ in days))
    names = sorted({k for d in days for k in d["outcomes"]})  # type: ignore[attr-defined]
    for name in names:
        print(f"  {name:24}" + "".join(f"{d['outcomes'].get(name, 0):>16}" for d in days))  # type: ignore[attr-defined]
    print(f"\npeak memory (max RSS of the process): {figures['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
