"""A seeded simulated month of call records and agent state intervals: pure and fast (no sockets).

The live simulator (asterisk/sim) plays a PBX call by call over TCP, which is right for tests of the
daemon but takes hours of wall time for a month. The reports need a month, so this generator runs
the same centre (the config's queues, agents, shift roster and breaks) through a small
first-come-first-served model in simulated time:

- arrivals: Poisson per hour following a 12345 day profile, weekends lighter, plus a few seeded
  incidents: a surge of calls (a storm, a policy announcement), an agent off sick (fewer agents than
  the roster planned), a day of long calls, and agents pulled into a meeting (not ready, reason
  `meeting`);
- an agent on duty (the roster, off their breaks, not absent) takes the longest-waiting call of a
  queue it serves; a caller whose patience runs out first abandons (in the queue, or while ringing);
- each answered call rings 2-8 s, talks a log-normal time and leaves the agent in wrap-up for the
  queue's `wrapup_seconds`.

The result is what the daemon would have written: `CallRecordData` (valid by construction) and
`AgentInterval`s. Same config, month and seed: the same records, to the second.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agents.shifts import Roster
from callcenter.engine_config import roster_from
from config.models import Config
from records.agent import AgentInterval
from records.model import CallRecordData, Outcome

# Calls per hour on a weekday (local time) for the example centre's size; weekends x0.8.
HOURLY = (8, 5, 3, 3, 3, 5, 10, 20, 36, 42, 40, 34, 24, 28, 36, 36, 33, 30, 24, 20, 17, 15, 12, 10)
QUEUE_WEIGHTS = {"general": 0.70, "complaints": 0.20, "dialect": 0.07, "english": 0.03}
IVR_ABANDON = 0.04
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str  # surge | absence | long_calls | meeting
    day: date
    start_hour: int = 0
    end_hour: int = 24
    factor: float = 1.0  # surge: arrival multiplier; long_calls: talk multiplier
    agents: tuple[str, ...] = ()  # absence / meeting: who


@dataclass
class SimulatedMonth:
    year: int
    month: int
    tz: str
    records: list[CallRecordData] = field(default_factory=list)
    intervals: list[AgentInterval] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)


def month_bounds(year: int, month: int, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def on_duty(roster: Roster, agent: str, at: datetime) -> bool:
    """The roster plans `agent` at `at` (on a shift, off its breaks)."""
    for s in roster.shifts_around(agent, at):
        if s.start <= at < s.end:
            return not any(b0 <= at < b1 for b0, b1 in s.breaks)
    return False


def duty_spans(roster: Roster, agent: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The agent's planned working spans (shifts minus breaks) within [start, end), in order."""
    spans: list[tuple[datetime, datetime]] = []
    seen: set[tuple[datetime, datetime]] = set()
    day = start
    while day < end + timedelta(days=1):
        for s in roster.shifts_around(agent, day):
            if (s.start, s.end) in seen:
                continue
            seen.add((s.start, s.end))
            cuts = sorted(s.breaks)
            t = s.start
            for b0, b1 in cuts:
                if b0 > t:
                    spans.append((t, b0))
                t = max(t, b1)
            if s.end > t:
                spans.append((t, s.end))
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted((max(a, start), min(b, end)) for a, b in spans if b > start and a < end):
        if merged and a <= merged[-1][1]:  # the same shift seen from two days, or back-to-back shifts
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def incidents_for(year: int, month: int, agents: list[str], rng: random.Random) -> list[Incident]:
    days = [date(year, month, d) for d in range(1, 29)]
    picks = rng.sample(days[7:], 4)  # leave the first week as "usual" history
    return [
        Incident("surge", picks[0], 9, 12, factor=1.8),
        Incident("absence", picks[1], 0, 24, agents=tuple(rng.sample(agents, 2))),
        Incident("long_calls", picks[2], 8, 18, factor=1.6),
        Incident("meeting", picks[3], 14, 16, agents=tuple(rng.sample(agents, 2))),
    ]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _arrivals(rng: random.Random, start: datetime, end: datetime, tz: ZoneInfo,
              incidents: list[Incident]) -> Iterator[datetime]:
    hour = start
    while hour < end:
        local = hour.astimezone(tz)
        rate_h = HOURLY[local.hour] * (0.8 if local.weekday() >= 5 else 1.0)
        for inc in incidents:
            if inc.kind == "surge" and inc.day == local.date() and inc.start_hour <= local.hour < inc.end_hour:
                rate_h *= inc.factor
        t = 0.0
        while True:
            t += rng.expovariate(rate_h / 3600.0)
            if t >= 3600:
                break
            yield hour + timedelta(seconds=round(t, 3))
        hour += timedelta(hours=1)


def simulate_month(cfg: Config, year: int, month: int, seed: int = 1) -> SimulatedMonth:
    tz_name = cfg.centre.timezone
    tz = ZoneInfo(tz_name)
    rng = random.Random(f"month:{seed}:{year}-{month:02d}")
    start, end = month_bounds(year, month, tz_name)
    roster = roster_from(cfg)
    agents = [str(a.id) for a in cfg.agents]
    serves = {str(a.id): set(a.queues) for a in cfg.agents}
    wrapup = {q.name: float(q.wrapup_seconds) for q in cfg.queues}
    queue_names = [q.name for q in cfg.queues]
    weights = [QUEUE_WEIGHTS.get(q, 0.05) for q in queue_names]
    incidents = incidents_for(year, month, agents, rng)
    out = SimulatedMonth(year, month, tz_name, incidents=incidents)

    # Working spans per agent: planned duty minus absences and meetings (those become not-ready time).
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for a in agents:
        planned = duty_spans(roster, a, start, end)
        blocked: list[tuple[datetime, datetime, str]] = []
        for inc in incidents:
            if inc.kind in ("absence", "meeting") and a in inc.agents:
                b0 = datetime.combine(inc.day, time(inc.start_hour), tzinfo=tz).astimezone(UTC)
                b1 = b0 + timedelta(hours=inc.end_hour - inc.start_hour)
                blocked.append((b0, b1, "sick" if inc.kind == "absence" else "meeting"))
        working: list[tuple[datetime, datetime]] = []
        for p0, p1 in planned:
            pieces = [(p0, p1)]
            for b0, b1, reason in blocked:
                nxt = []
                for s0, s1 in pieces:
                    if b1 <= s0 or b0 >= s1:
                        nxt.append((s0, s1))
                        continue
                    if reason == "meeting":
                        out.intervals.append(AgentInterval(a, "not_ready", "meeting", max(s0, b0), min(s1, b1)))
                    if s0 < b0:
                        nxt.append((s0, b0))
                    if b1 < s1:
                        nxt.append((b1, s1))
                pieces = nxt
            working += pieces
        spans[a] = sorted(working)
        # Breaks inside a shift are not-ready time with reason 'break'.
        for (_, e0), (s1, _) in itertools.pairwise(planned):
            if timedelta(0) < s1 - e0 <= timedelta(hours=2):
                out.intervals.append(AgentInterval(a, "not_ready", "break", e0, s1))

    # Spans are sorted and do not overlap, so their ends are sorted too: the span holding `t`, or the next
    # one, is the first that ends after `t` (a binary search: the month's calls ask this ~150k times).
    span_ends = {a: [s1 for _, s1 in spans[a]] for a in agents}

    def span_at(a: str, t: datetime) -> tuple[datetime, datetime] | None:
        i = bisect.bisect_right(span_ends[a], t)
        return spans[a][i] if i < len(spans[a]) else None

    free_at = dict.fromkeys(agents, start)
    busy: dict[str, list[tuple[datetime, datetime, str]]] = {a: [] for a in agents}  # (start, end, state)
    n = 0
    for arrival in _arrivals(rng, start, end, tz, incidents):
        n += 1
        call_id = f"{seed}-{year}{month:02d}-{n:06d}"
        caller = f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"
        local = arrival.astimezone(tz)
        ivr = round(rng.uniform(6, 25), 3)
        queued_at = arrival + timedelta(seconds=ivr)
        base = {"call_id": call_id, "linkedid": call_id, "caller_number": caller,
                "caller_name": rng.choice(SURNAMES) + "先生" if rng.random() < 0.3 else "",
                "channel": f"PJSIP/trunk-{n:08x}", "language": "zh", "entered_at": arrival}
        if rng.random() < IVR_ABANDON:
            out.records.append(CallRecordData(
                **base, ivr_path="welcome>main", queue=None, agent_id=None, queued_at=None,  # type: ignore[arg-type]
                offered_at=None, answered_at=None, ended_at=queued_at, wait_seconds=None, talk_seconds=None,
                offers=0, outcome=Outcome.ABANDONED_IVR, hangup_cause=16))
            continue
        queue = rng.choices(queue_names, weights=weights)[0]
        patience = max(5.0, _lognormal(rng, 150.0, 0.6))
        talk_factor = 1.0
        for inc in incidents:
            if inc.kind == "long_calls" and inc.day == local.date() and inc.start_hour <= local.hour < inc.end_hour:
                talk_factor = inc.factor
        talk = round(max(20.0, _lognormal(rng, 150.0 * talk_factor, 0.5)), 3)
        ring = round(rng.uniform(2, 8), 3)
        # The agent who can start soonest (first come, first served).
        best: tuple[datetime, str] | None = None
        for a in agents:
            if queue not in serves[a]:
                continue
            t = max(free_at[a], queued_at)
            sp = span_at(a, t)
            if sp is None:
                continue
            t = max(t, sp[0])
            if t + timedelta(seconds=ring) >= sp[1]:  # nearly at the end of the span: next span
                later = span_at(a, sp[1])
                if later is None:
                    continue
                t = max(t, later[0])
            # The soonest start, then the longest idle.
            if best is None or t < best[0] or (t == best[0] and free_at[a] < free_at[best[1]]):
                best = (t, a)
        give_up = queued_at + timedelta(seconds=patience)
        ivr_path = f"welcome>main:{queue_names.index(queue) + 1}"
        common = {**base, "ivr_path": ivr_path, "queue": queue, "queued_at": queued_at, "hangup_cause": 16}
        if best is None or best[0] >= give_up:
            out.records.append(CallRecordData(
                **common, agent_id=None, offered_at=None, answered_at=None, ended_at=give_up,  # type: ignore[arg-type]
                wait_seconds=(give_up - queued_at).total_seconds(), talk_seconds=None, offers=0,
                outcome=Outcome.ABANDONED_QUEUE))
            continue
        offer_at, agent = best
        answer_at = offer_at + timedelta(seconds=ring)
        if answer_at > give_up:  # hung up while the phone rang
            free_at[agent] = give_up
            busy[agent].append((offer_at, give_up, "reserved"))
            out.records.append(CallRecordData(
                **common, agent_id=None, offered_at=offer_at, answered_at=None, ended_at=give_up,  # type: ignore[arg-type]
                wait_seconds=(give_up - queued_at).total_seconds(), talk_seconds=None, offers=1,
                outcome=Outcome.ABANDONED_RINGING))
            continue
        ended = answer_at + timedelta(seconds=talk)
        done = ended + timedelta(seconds=wrapup[queue])
        free_at[agent] = done
        busy[agent] += [(offer_at, answer_at, "reserved"), (answer_at, ended, "on_call"), (ended, done, "wrap_up")]
        out.records.append(CallRecordData(
            **common, agent_id=agent, offered_at=offer_at, answered_at=answer_at, ended_at=ended,  # type: ignore[arg-type]
            wait_seconds=(answer_at - queued_at).total_seconds(), talk_seconds=talk, offers=1,
            outcome=Outcome.ANSWERED))
    # A call that runs into a break or a meeting delays its start: not-ready time begins after the call.
    ends = {a: sorted((b0, b1) for b0, b1, _ in busy[a]) for a in agents}
    # An agent's busy periods do not overlap, so their ends are sorted: start at the first that ends after it.
    busy_ends = {a: [b1 for _, b1 in ends[a]] for a in agents}
    moved = []
    for iv in out.intervals:
        begin = iv.start
        first = bisect.bisect_right(busy_ends[iv.agent_id], begin)
        for b0, b1 in itertools.islice(ends[iv.agent_id], first, None):
            if b0 > begin:
                break
            if b0 <= begin < b1:
                begin = b1
        if begin < iv.end:
            moved.append(AgentInterval(iv.agent_id, iv.state, iv.reason, begin, iv.end))
    out.intervals = moved
    # Busy periods as they happened; ready time = the working spans minus them.
    for a in agents:
        periods = sorted(busy[a])
        out.intervals += [AgentInterval(a, state, "", b0, b1) for b0, b1, state in periods if b1 > b0]
        i = 0
        for s0, s1 in spans[a]:
            t = s0
            while i < len(periods) and periods[i][1] <= s0:
                i += 1
            j = i
            while j < len(periods) and periods[j][0] < s1:
                if periods[j][0] > t:
                    out.intervals.append(AgentInterval(a, "ready", "", t, periods[j][0]))
                t = max(t, periods[j][1])
                j += 1
            if s1 > t:
                out.intervals.append(AgentInterval(a, "ready", "", t, s1))
    out.records.sort(key=lambda r: (r.ended_at, r.call_id))
    out.intervals.sort(key=lambda i: (i.start, i.agent_id))
    return out
