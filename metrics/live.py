"""Live figures for the wallboard and Prometheus: incremental counters, no rescan per snapshot.

Fed by the daemon: `add_record` for each ended call (and, at start, for today's records loaded
from the store, so a restart changes no figure), `set_waiting`/`clear_waiting`,
`set_agent_state`, `set_ami_connected`. Pure: time arrives as arguments (`since`, `now`).
KPI definitions are those of metrics/kpi.py.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metrics.agents import AVAILABLE_STATES, BUSY_STATES
from metrics.kpi import (
    DEFAULT_TZ,
    NATIONAL_STANDARD_24H,
    SERVICE_LEVEL_SECONDS,
    Tally,
    interval_start,
    is_offered,
    rate,
)
from records.agent import AgentInterval
from records.model import ABANDONED_STAGES, CallRecordData, Outcome

AGENT_STATES = ("ready", "reserved", "on_call", "wrap_up", "not_ready", "logged_out")
WINDOWS = {"1h": 60, "24h": 24 * 60}  # rolling windows, in minutes
CENTRE = "_all"
NO_QUEUE = "_none"  # label for calls that never reached a queue (IVR hang-ups)
WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)


class LiveStatsError(ValueError):
    """Bad input from the daemon (unknown agent state, naive datetime)."""


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise LiveStatsError(f"{what} must be timezone-aware")
    return at


@dataclass(slots=True)
class _Day:
    """Counters for one local day."""

    centre: Tally
    queues: dict[str, Tally] = field(default_factory=dict)
    agent_seconds: dict[str, float] = field(default_factory=dict)  # state -> seconds (closed intervals)
    answered_by_agent: Counter[str] = field(default_factory=Counter)
    hours: dict[datetime, list[int]] = field(default_factory=dict)  # local hour start -> [offered, answered]
    call_ids: set[str] = field(default_factory=set)  # a record added twice counts once


@dataclass(slots=True)
class Totals:
    """Since this LiveStats was made (today's records loaded at start plus every ended call since):
    the Prometheus counters."""

    offered: Counter[str] = field(default_factory=Counter)  # by queue
    answered: Counter[str] = field(default_factory=Counter)
    abandoned: Counter[tuple[str, str]] = field(default_factory=Counter)  # (queue, stage)
    # queue -> calls per wait bucket (per bucket, not cumulative; the last is +Inf)
    wait_buckets: dict[str, list[int]] = field(default_factory=dict)
    wait_sum: dict[str, float] = field(default_factory=dict)
    wait_count: Counter[str] = field(default_factory=Counter)
    short_abandoned: Counter[str] = field(default_factory=Counter)
    talk_sum: dict[str, float] = field(default_factory=dict)
    agent_seconds: dict[str, float] = field(default_factory=dict)  # by state, closed intervals


class LiveStats:
    def __init__(self, target: float = 0.97, tz: str = DEFAULT_TZ,
                 queues: Sequence[tuple[str, str]] = (), *, short_abandon_seconds: float = 0.0,
                 sl_seconds: float = SERVICE_LEVEL_SECONDS,
                 agent_queues: dict[str, Sequence[str]] | None = None) -> None:
        self.target = target
        self.short_abandon_seconds = short_abandon_seconds
        self.sl_seconds = sl_seconds
        self.agent_queues: dict[str, tuple[str, ...]] = {a: tuple(q) for a, q in (agent_queues or {}).items()}
        self.tz_name = tz
        self.tz = ZoneInfo(tz)
        self.queues: dict[str, str] = dict(queues)  # name -> label, in configured order
        self.totals = Totals()
        self.ami_connected = False
        # The next hour's expected connection rate (callcenter/staffing_live.py sets it; None: no forecast).
        self.next_hour_rate: float | None = None
        self._days: dict[date, _Day] = {}
        # minute (epoch // 60) -> queue -> [offered, answered]: the rolling windows.
        self._minutes: dict[int, dict[str, list[int]]] = {}
        self._waiting: dict[str, tuple[str, datetime]] = {}  # call_id -> (queue, since)
        self._agents: dict[str, str] = {}
        self._agent_counts: Counter[str] = Counter()
        # Every configured agent is on the board from the start, logged out until a state arrives: the
        # agent tiles add up to the agents configured (an agent under manual control, who has not logged
        # in yet, once fell off the board).
        for agent in self.agent_queues:
            self.set_agent_state(agent, "logged_out")
        # Answered calls still in talk: call_id -> a record as if the call ended now (see `set_answered`).
        self._talking: dict[str, CallRecordData] = {}

    def _tally(self) -> Tally:
        return Tally(sl_seconds=self.sl_seconds, short_abandon_seconds=self.short_abandon_seconds)

    def _day(self, d: date) -> _Day:
        day = self._days.get(d)
        if day is None:
            day = self._days[d] = _Day(centre=self._tally())
        return day

    # -- input ----------------------------------------------------------------------------

    def add_record(self, rec: CallRecordData) -> bool:
        """Count one ended call; False (and nothing counted) if its call id was already counted."""
        at = rec.attributed_at
        day = self._day(at.astimezone(self.tz).date())
        if rec.call_id in day.call_ids:
            return False
        day.call_ids.add(rec.call_id)
        self._waiting.pop(rec.call_id, None)
        self._talking.pop(rec.call_id, None)
        day.centre.add(rec)
        queue = rec.queue if rec.queue is not None else NO_QUEUE
        if rec.queue is not None:
            day.queues.setdefault(queue, self._tally()).add(rec)
        if rec.reached_queue and not is_offered(rec, self.short_abandon_seconds):
            self.totals.short_abandoned[queue] += 1
            return True
        stage = ABANDONED_STAGES.get(rec.outcome)
        if stage is not None:
            self.totals.abandoned[(queue, stage)] += 1
        if not rec.reached_queue:
            return True
        answered = rec.outcome is Outcome.ANSWERED
        if answered and rec.agent_id:
            day.answered_by_agent[rec.agent_id] += 1
            self.totals.talk_sum[queue] = self.totals.talk_sum.get(queue, 0.0) + (rec.talk_seconds or 0.0)
        hour = day.hours.setdefault(interval_start(at, 60, self.tz), [0, 0])
        hour[0] += 1
        hour[1] += answered
        minute = self._minutes.setdefault(int(at.timestamp()) // 60, {})
        for key in (queue, CENTRE):
            counts = minute.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += answered
        self.totals.offered[queue] += 1
        self.totals.answered[queue] += answered
        wait = rec.wait_seconds or 0.0
        buckets = self.totals.wait_buckets.setdefault(queue, [0] * (len(WAIT_BUCKETS) + 1))
        buckets[next((i for i, b in enumerate(WAIT_BUCKETS) if wait <= b), len(WAIT_BUCKETS))] += 1
        self.totals.wait_sum[queue] = self.totals.wait_sum.get(queue, 0.0) + wait
        self.totals.wait_count[queue] += 1
        return True

    def add_records(self, records: Iterable[CallRecordData]) -> int:
        return sum(self.add_record(r) for r in records)

    def set_waiting(self, queue: str, call_id: str, since: datetime) -> None:
        self._waiting[call_id] = (queue, _aware(since, "since"))

    def clear_waiting(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)

    def set_answered(self, call_id: str, queue: str, agent_id: str, queued_at: datetime,
                     answered_at: datetime) -> None:
        """An agent answered a call that is still in talk. Until its record arrives (`add_record`), it
        counts today as offered and answered, as its record will: so the board never shows agents on
        calls while 呼入量 is 0 (the record of a call is only made when it ends)."""
        queued, answered = (_aware(t, what).astimezone(UTC) for t, what in
                            ((queued_at, "queued_at"), (answered_at, "answered_at")))
        answered = max(answered, queued)
        self._talking[call_id] = CallRecordData(
            call_id=call_id, linkedid=call_id, caller_number="", caller_name="", channel="", ivr_path="",
            language="", queue=queue, agent_id=agent_id, entered_at=queued, queued_at=queued,
            offered_at=queued, answered_at=answered, ended_at=answered,
            wait_seconds=(answered - queued).total_seconds(), talk_seconds=0.0, offers=1,
            outcome=Outcome.ANSWERED)

    def _today_with_talking(self, today: _Day, date_: date) -> _Day:
        """Today's counters plus the answered calls still in talk that are attributed today (a copy)."""
        talking = [r for r in self._talking.values() if r.attributed_at.astimezone(self.tz).date() == date_
                   and r.call_id not in today.call_ids]
        if not talking:
            return today

        def copy(t: Tally) -> Tally:
            return dataclasses.replace(t, abandoned_by_stage=dict(t.abandoned_by_stage))

        out = _Day(centre=copy(today.centre), queues={q: copy(t) for q, t in today.queues.items()},
                   agent_seconds=today.agent_seconds, answered_by_agent=Counter(today.answered_by_agent),
                   hours={h: list(v) for h, v in today.hours.items()}, call_ids=today.call_ids)
        for rec in talking:
            out.centre.add(rec)
            assert rec.queue is not None and rec.agent_id is not None
            out.queues.setdefault(rec.queue, self._tally()).add(rec)
            out.answered_by_agent[rec.agent_id] += 1
            hour = out.hours.setdefault(interval_start(rec.attributed_at, 60, self.tz), [0, 0])
            hour[0] += 1
            hour[1] += 1
        return out

    def set_agent_state(self, agent_id: str, state: str | enum.Enum) -> None:
        name = state.value if isinstance(state, enum.Enum) else state
        if name not in AGENT_STATES:
            raise LiveStatsError(f"unknown agent state {name!r}")
        old = self._agents.get(agent_id)
        if old is not None:
            self._agent_counts[old] -= 1
        self._agents[agent_id] = name
        self._agent_counts[name] += 1

    def add_agent_interval(self, iv: AgentInterval) -> None:
        """A closed agent state interval (from the daemon, or loaded from the agent log at start),
        split over the local days it spans."""
        self.totals.agent_seconds[iv.state] = (self.totals.agent_seconds.get(iv.state, 0.0)
                                               + (iv.end - iv.start).total_seconds())
        d = iv.start.astimezone(self.tz).date()
        while True:
            lo = datetime.combine(d, datetime.min.time(), tzinfo=self.tz).astimezone(UTC)
            hi = datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=self.tz).astimezone(UTC)
            s = iv.seconds_within(lo, hi)
            if s > 0:
                secs = self._day(d).agent_seconds
                secs[iv.state] = secs.get(iv.state, 0.0) + s
            if hi >= iv.end:
                break
            d += timedelta(days=1)

    def ready_by_queue(self) -> dict[str, int]:
        """queue -> agents in state ready that serve it (from the configured memberships)."""
        out = dict.fromkeys(self.queues, 0)
        for agent, state in self._agents.items():
            if state == "ready":
                for q in self.agent_queues.get(agent, ()):
                    out[q] = out.get(q, 0) + 1
        return out

    def set_ami_connected(self, connected: bool) -> None:
        self.ami_connected = bool(connected)

    # -- output ---------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        """Forget days before yesterday and minutes older than the longest window."""
        today = now.astimezone(self.tz).date()
        for d in [d for d in self._days if d < today - timedelta(days=1)]:
            del self._days[d]
        oldest = int(now.timestamp()) // 60 - max(WINDOWS.values())
        for m in [m for m in self._minutes if m < oldest]:
            del self._minutes[m]
        # A call whose record never came (lost in a restart) stops counting once out of every window.
        for call_id in [c for c, r in self._talking.items() if int(r.attributed_at.timestamp()) // 60 < oldest]:
            del self._talking[call_id]

    def window_rates(self, now: datetime) -> dict[str, dict[str, float | None]]:
        """queue (and '_all') -> window ('1h', '24h') -> connection rate of calls queued in
        (now - window, now]."""
        current = int(_aware(now, "now").timestamp()) // 60
        sums: dict[str, dict[str, list[int]]] = {}
        for window, minutes in WINDOWS.items():
            for m in range(current - minutes + 1, current + 1):
                for queue, (offered, answered) in self._minutes.get(m, {}).items():
                    s = sums.setdefault(queue, {}).setdefault(window, [0, 0])
                    s[0] += offered
                    s[1] += answered
            for rec in self._talking.values():  # answered, still in talk: counted as their records will be
                if current - minutes < int(rec.attributed_at.timestamp()) // 60 <= current:
                    for queue in (str(rec.queue), CENTRE):
                        s = sums.setdefault(queue, {}).setdefault(window, [0, 0])
                        s[0] += 1
                        s[1] += 1
        out: dict[str, dict[str, float | None]] = {}
        for queue in [CENTRE, *self.queues, *sums]:
            per = sums.get(queue, {})
            out[queue] = {w: rate(per.get(w, [0, 0])[1], per.get(w, [0, 0])[0]) for w in WINDOWS}
        return out

    def waiting_by_queue(self, now: datetime) -> dict[str, tuple[int, float | None]]:
        """queue -> (calls waiting, longest wait now in seconds)."""
        out: dict[str, tuple[int, float | None]] = {}
        for queue, since in self._waiting.values():
            n, longest = out.get(queue, (0, None))
            wait = max(0.0, (now - since).total_seconds())
            out[queue] = (n + 1, wait if longest is None or wait > longest else longest)
        return out

    def agent_counts(self) -> dict[str, int]:
        return {s: self._agent_counts[s] for s in AGENT_STATES}

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """The wallboard's JSON (see docs: the shape is a contract)."""
        _aware(now, "now")
        self.prune(now)
        local_now = now.astimezone(self.tz)
        today = self._today_with_talking(self._days.get(local_now.date()) or _Day(centre=self._tally()),
                                         local_now.date())
        rates = self.window_rates(now)
        waiting = self.waiting_by_queue(now)
        longest_now = max((w for _, w in waiting.values() if w is not None), default=None)
        # Today's longest wait includes a call still waiting now (if it started waiting today).
        day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        longest_today = today.centre.longest_wait
        for _, since in self._waiting.values():
            if since >= day_start:
                wait = max(0.0, (now - since).total_seconds())
                longest_today = wait if longest_today is None or wait > longest_today else longest_today
        centre = today.centre
        secs = today.agent_seconds
        wrap = secs.get("wrap_up", 0.0)
        queue_names = [*self.queues, *sorted(set(today.queues) - set(self.queues))]
        queues = []
        ready = self.ready_by_queue()
        for name in queue_names:
            tally = today.queues.get(name) or self._tally()
            n_waiting, q_longest = waiting.get(name, (0, None))
            queues.append({
                "name": name,
                "label": self.queues.get(name, name),
                "waiting": n_waiting,
                "longest_wait_now": q_longest,
                "offered": tally.offered,
                "answered": tally.answered,
                "abandoned": tally.abandoned,
                "connection_rate": tally.connection_rate,
                "agents_ready": ready.get(name, 0),
                "service_level": tally.service_level,
                "asa": tally.asa,
            })
        intervals = []
        hour = day_start
        current_hour = interval_start(now, 60, self.tz)
        while hour <= current_hour:
            offered, answered = today.hours.get(hour, (0, 0))
            intervals.append({"start": hour.isoformat(), "offered": offered, "answered": answered,
                              "connection_rate": rate(answered, offered)})
            # Step in UTC so a day with a DST change still gets each real hour once.
            hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(self.tz)
        return {
            "now": local_now.isoformat(),
            "tz": self.tz_name,
            "target": self.target,
            "standard_24h": NATIONAL_STANDARD_24H,
            "sl_seconds": self.sl_seconds,
            "short_abandon_seconds": self.short_abandon_seconds,
            "centre": {
                "offered": centre.offered,
                "answered": centre.answered,
                "abandoned": centre.abandoned,
                "connection_rate": centre.connection_rate,
                "connection_rate_1h": rates[CENTRE]["1h"],
                "connection_rate_24h": rates[CENTRE]["24h"],
                "asa": centre.asa,
                "answered_15s_rate": centre.service_level,  # the service level (older key)
                "service_level": centre.service_level,
                "answered_in_time_rate": centre.answered_in_time_rate,
                "short_abandoned": centre.short_abandoned,
                "abandoned_ivr": centre.abandoned_by_stage["ivr"],
                "abandoned_queue": centre.abandoned_by_stage["queue"],
                "abandoned_ringing": centre.abandoned_by_stage["ringing"],
                "avg_talk": rate(centre.talk_sum, centre.answered),
                "acw": rate(wrap, centre.answered),
                "aht": rate(centre.talk_sum + wrap, centre.answered),
                "occupancy": rate(sum(secs.get(s, 0.0) for s in BUSY_STATES),
                                  sum(secs.get(s, 0.0) for s in AVAILABLE_STATES)),
                "calls_per_agent": rate(centre.answered, len(today.answered_by_agent)),
                "longest_wait_today": longest_today,
                "longest_wait_now": longest_now,
                "waiting": len(self._waiting),
                # Only once a forecast exists (staffing): the shape without it stays the documented one.
                **({"next_hour_rate": self.next_hour_rate} if self.next_hour_rate is not None else {}),
            },
            "queues": queues,
            "agents": self.agent_counts(),
            "intervals": intervals,
            "ami_connected": self.ami_connected,
        }
