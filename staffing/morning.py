"""The morning answer, per 30-minute interval: forecast against actual offered calls, planned against
actually ready agents, and the one cause that cost the most connection rate, in words.

The cause is found by replaying the interval in Erlang-A step by step from the plan to what happened:

    planned:   forecast calls, planned agents, usual handle time         -> rate r0
    calls:     actual calls,   planned agents, usual handle time         -> r1   (r0 - r1: too many calls)
    agents:    actual calls,   agents on duty, usual handle time         -> r2   (r1 - r2: too few agents)
    ready:     actual calls,   agents ready,   usual handle time         -> r3   (r2 - r3: agents not ready)
    handle:    actual calls,   agents ready,   the interval's handle time -> r4   (r3 - r4: long handle times)

and what is left between r4 and the rate the interval really got is put down to ring-no-answer when
offers went unanswered in it. The largest step is the cause. Pure: the caller passes records and agent
intervals (metrics.agents.AgentInterval) and the planned head count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from metrics.agents import AgentInterval
from records.model import CallRecordData, Outcome
from staffing.erlang import erlang_a
from staffing.history import SLOT_MINUTES, SLOTS

SLOT_S = SLOT_MINUTES * 60
CAUSES = ("calls", "agents", "not_ready", "handle_time", "ring_no_answer", "none")
WORDS = {
    "zh": {"calls": "来电过多（预测 {f:.0f}，实际 {o}）", "agents": "在岗坐席不足（排班 {p:.1f}，在岗 {s:.1f}）",
           "not_ready": "坐席示忙未就绪（在岗 {s:.1f}，就绪 {r:.1f}）",
           "handle_time": "处理时长偏长（{h:.0f}秒，平常 {u:.0f}秒）",
           "ring_no_answer": "振铃未接（{n} 次）", "none": "未发现单一原因"},
    "en": {"calls": "too many calls (forecast {f:.0f}, came {o})",
           "agents": "too few agents (planned {p:.1f}, on duty {s:.1f})",
           "not_ready": "agents not ready (on duty {s:.1f}, ready {r:.1f})",
           "handle_time": "long handle times ({h:.0f} s, usually {u:.0f} s)",
           "ring_no_answer": "ring-no-answer ({n} offers)", "none": "no single cause found"},
}
ON_DUTY = ("ready", "reserved", "on_call", "wrap_up", "not_ready")
READY = ("ready", "reserved", "on_call", "wrap_up")
PLANNED = frozenset({"break"})
SMALL = 0.01  # a step under one point of rate explains nothing: chance, not a cause


@dataclass(frozen=True, slots=True)
class IntervalRow:
    start: datetime  # local
    forecast: float
    offered: int
    answered: int
    planned: float  # agents the roster planned (average over the interval)
    on_duty: float  # agents logged in (any state but logged out)
    ready: float  # agents available to the ACD (ready, ringing, on a call, wrap-up)
    aht: float | None
    no_answer: int  # offers that rang out
    cause: str | None  # one of CAUSES, None when the interval met the target (or had no calls)
    words: str

    @property
    def rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "forecast": round(self.forecast, 1), "offered": self.offered,
                "answered": self.answered, "connection_rate": self.rate, "planned_agents": round(self.planned, 2),
                "on_duty_agents": round(self.on_duty, 2), "ready_agents": round(self.ready, 2),
                "aht": self.aht, "ring_no_answer": self.no_answer, "cause": self.cause, "why": self.words}


def _agents_in(intervals: Sequence[AgentInterval], a: datetime, b: datetime, states: tuple[str, ...]) -> float:
    """Average agents in `states` over [a, b); a planned break is not time on duty (the roster plans it)."""
    return sum(i.seconds_within(a, b) for i in intervals
               if i.state in states and not (i.state == "not_ready" and i.reason in PLANNED)) / (b - a).total_seconds()


def _rate(calls: float, agents: float, aht: float, patience: float) -> float:
    n = round(agents)
    if calls <= 0:
        return 1.0
    if n <= 0:
        return 0.0
    return float(erlang_a(calls / SLOT_S, 1.0 / aht, 1.0 / patience, n).connection_rate[0])


def interval_rows(day: date, tz: str, records: Sequence[CallRecordData], agent_intervals: Sequence[AgentInterval],
                  forecast: Sequence[float], planned: Callable[[datetime, datetime], float], usual_aht: float,
                  patience: float, target: float, language: str, wrapup: dict[str, float]) -> list[IntervalRow]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    by_slot: list[list[CallRecordData]] = [[] for _ in range(SLOTS)]
    for r in records:
        if r.queue is None or r.queued_at is None:
            continue
        local = r.queued_at.astimezone(zone)
        if local.date() == day:
            by_slot[(local.hour * 60 + local.minute) // SLOT_MINUTES].append(r)
    rows = []
    for s in range(SLOTS):
        a = start + timedelta(minutes=SLOT_MINUTES * s)
        a_utc, b_utc = a.astimezone(UTC), (a + timedelta(minutes=SLOT_MINUTES)).astimezone(UTC)
        calls = by_slot[s]
        answered = [r for r in calls if r.outcome is Outcome.ANSWERED]
        handle = [(r.talk_seconds or 0.0) + wrapup.get(r.queue or "", 0.0) for r in answered]
        aht = float(np.mean(handle)) if handle else None
        no_answer = sum(max(0, r.offers - 1) for r in calls) + sum(
            1 for r in calls if r.outcome is Outcome.ABANDONED_RINGING)
        row = dict(start=a, forecast=float(forecast[s]), offered=len(calls), answered=len(answered),
                   planned=planned(a_utc, b_utc), on_duty=_agents_in(agent_intervals, a_utc, b_utc, ON_DUTY),
                   ready=_agents_in(agent_intervals, a_utc, b_utc, READY), aht=aht, no_answer=no_answer)
        cause = None
        if calls and len(answered) / len(calls) < target:
            cause = _cause(row, usual_aht, patience)  # type: ignore[arg-type]
        rows.append(IntervalRow(**row, cause=cause, words=_words(cause, row, usual_aht, language)))  # type: ignore[arg-type]
    return rows


def _cause(row: dict[str, float], usual_aht: float, patience: float) -> str:
    r0 = _rate(row["forecast"], row["planned"], usual_aht, patience)
    r1 = _rate(row["offered"], row["planned"], usual_aht, patience)
    r2 = _rate(row["offered"], row["on_duty"], usual_aht, patience)
    r3 = _rate(row["offered"], row["ready"], usual_aht, patience)
    r4 = _rate(row["offered"], row["ready"], row["aht"] or usual_aht, patience)
    actual = row["answered"] / row["offered"]
    steps = {"calls": r0 - r1, "agents": r1 - r2, "not_ready": r2 - r3, "handle_time": r3 - r4,
             "ring_no_answer": (r4 - actual) if row["no_answer"] else 0.0}
    best = max(steps, key=lambda k: steps[k])
    return best if steps[best] >= SMALL else "none"


def _words(cause: str | None, row: dict[str, float], usual_aht: float, language: str) -> str:
    if cause is None:
        return ""
    w = WORDS["zh" if language == "zh" else "en"][cause]
    return w.format(f=row["forecast"], o=int(row["offered"]), p=row["planned"], s=row["on_duty"], r=row["ready"],
                    h=row["aht"] or 0.0, u=usual_aht, n=int(row["no_answer"]))


def load_rows(cfg: object, day: date, store: object, agent_log: object | None,
              planned: Callable[[datetime, datetime], float], history_days: int = 91) -> list[IntervalRow]:
    """The day's rows from the store: the forecast is fitted on the `history_days` before `day`, the usual
    handle time and the patience on the same history. Empty when the store holds no history."""
    from staffing.history import read_history
    from staffing.plan import centre_model

    c = cfg  # duck-typed config (config.models.Config)
    tz = c.centre.timezone  # type: ignore[attr-defined]
    zone = ZoneInfo(tz)
    first = day - timedelta(days=history_days)
    since = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    day0 = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    day1 = day0 + timedelta(days=1)
    wrapup = {q.name: float(q.wrapup_seconds) for q in c.queues}  # type: ignore[attr-defined]
    found = centre_model(read_history(store.records(since, day0), zone, wrapup),  # type: ignore[attr-defined]
                         first, history_days)
    if found is None:
        return []
    forecast = found.model.forecast([day])[0]
    records = store.records(day0, day1 + timedelta(hours=2))  # type: ignore[attr-defined]
    ivs = agent_log.intervals(day0, day1) if agent_log is not None else []  # type: ignore[attr-defined]
    return interval_rows(day, tz, records, ivs, forecast, planned, found.aht_s, found.patience_s,
                         c.centre.connection_rate_target, c.centre.language, wrapup)  # type: ignore[attr-defined]
