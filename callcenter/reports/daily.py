"""The morning report: yesterday's connection rate against the target, hour by hour, and for each
hour that fell short, why.

Pure: `build_daily` takes the records and agent intervals it needs (see `load_daily` for the store
side) and returns a `DailyReport`; render.py turns it into text, HTML or PNG.

Why an hour fell short (each test is independent; an hour may show several, or none):
- volume: more calls offered than the same weekday's usual for that hour (mean of the previous
  `history_weeks` weeks) by more than 15 % and at least 3 calls;
- staffing: fewer agents available to the ACD (ready, ringing, on a call or in wrap-up; the
  average over the hour) than the roster planned (on shift, off their breaks) by more than 10 %;
- handle time: AHT (talk + after-call work) more than 15 % above the same weekday's usual;
- not ready: agents spent more than 10 % of the planned agent time not ready for unplanned
  reasons (planned breaks are excluded), listed with minutes per reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metrics.agents import agent_time
from metrics.kpi import NATIONAL_STANDARD_24H, Kpi, intervals, kpi, rate
from records.agent import AgentInterval
from records.model import CallRecordData

VOLUME_FACTOR = 1.15
STAFFING_FACTOR = 0.90
HANDLE_FACTOR = 1.15
NOT_READY_SHARE = 0.10
PLANNED_REASONS = frozenset({"break"})


@dataclass(frozen=True, slots=True)
class Reason:
    kind: str  # volume | staffing | handle_time | not_ready
    actual: float
    usual: float
    detail: dict[str, float] = field(default_factory=dict)  # not_ready: reason -> minutes


@dataclass(frozen=True, slots=True)
class HourRow:
    start: datetime  # local
    kpi: Kpi
    aht: float | None
    usual_offered: float | None
    usual_aht: float | None
    planned_agents: float
    available_agents: float
    not_ready_minutes: dict[str, float]
    short: bool  # offered > 0 and the rate under the target
    reasons: tuple[Reason, ...]

    @property
    def connection_rate(self) -> float | None:
        return self.kpi.connection_rate


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    tz: str
    language: str
    centre_name: str
    target: float
    short_abandon_seconds: float
    day_kpi: Kpi
    aht: float | None
    acw: float | None
    occupancy: float | None
    hours: tuple[HourRow, ...]
    history_days: tuple[date, ...]
    # Per 30-minute interval: forecast vs offered, planned vs ready agents, the cause (staffing/morning.py).
    intervals: tuple[Any, ...] = ()

    @property
    def standard_24h(self) -> float:
        return NATIONAL_STANDARD_24H

    @property
    def met_target(self) -> bool | None:
        r = self.day_kpi.connection_rate
        return None if r is None else r >= self.target

    @property
    def short_hours(self) -> list[HourRow]:
        return [h for h in self.hours if h.short]

    def to_dict(self) -> dict[str, Any]:
        k = self.day_kpi
        return {
            "date": self.day.isoformat(), "tz": self.tz, "target": self.target,
            "short_abandon_seconds": self.short_abandon_seconds,
            "offered": k.offered, "answered": k.answered, "abandoned": k.abandoned,
            "fallback_answered": k.fallback_answered,
            "short_abandoned": k.short_abandoned, "connection_rate": k.connection_rate,
            "service_level": k.service_level, "answered_in_time_rate": k.answered_in_time_rate, "asa": k.asa,
            "aht": self.aht, "acw": self.acw, "occupancy": self.occupancy,
            "hours": [{
                "start": h.start.isoformat(), "offered": h.kpi.offered, "answered": h.kpi.answered,
                "connection_rate": h.connection_rate, "short": h.short, "usual_offered": h.usual_offered,
                "aht": h.aht, "usual_aht": h.usual_aht, "planned_agents": h.planned_agents,
                "available_agents": h.available_agents, "not_ready_minutes": h.not_ready_minutes,
                "reasons": [r.kind for r in h.reasons],
            } for h in self.hours],
            "intervals": [row.to_dict() for row in self.intervals],
        }


def day_span(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def history_days(day: date, weeks: int) -> list[date]:
    return [day - timedelta(weeks=w) for w in range(1, weeks + 1)]


def _hour_aht(k: Kpi, ivs: Sequence[AgentInterval], since: datetime, until: datetime) -> float | None:
    return k.aht(agent_time(ivs, since, until).wrap_up)


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def build_daily(
    day: date,
    records: Sequence[CallRecordData],
    agent_intervals: Sequence[AgentInterval],
    *,
    history: Mapping[date, tuple[Sequence[CallRecordData], Sequence[AgentInterval]]] | None = None,
    planned_agents: Callable[[datetime, datetime], float] = lambda a, b: 0.0,
    tz: str = "Asia/Shanghai",
    target: float = 0.97,
    short_abandon_seconds: float = 0.0,
    sl_seconds: float = 15.0,
    language: str = "zh",
    centre_name: str = "",
) -> DailyReport:
    """`records` and `agent_intervals` may hold more than the day; only the day's are counted.
    `history` maps earlier days (the same weekday) to their records and intervals."""
    start, end = day_span(day, tz)
    history = history or {}
    opts = {"sl_seconds": sl_seconds, "short_abandon_seconds": short_abandon_seconds, "tz": tz}
    day_rows = intervals(records, start, end, 60, **opts)  # type: ignore[arg-type]
    hist_rows = {d: (intervals(recs, *day_span(d, tz), 60, **opts), ivs)  # type: ignore[arg-type]
                 for d, (recs, ivs) in history.items()}
    hours: list[HourRow] = []
    for i, row in enumerate(day_rows):
        h0, h1 = row.start.astimezone(UTC), row.end.astimezone(UTC)
        k = row.kpi
        aht = _hour_aht(k, agent_intervals, h0, h1)
        usual_offered = usual_aht = None
        if hist_rows:
            offered_h, aht_h = [], []
            for rows, ivs in hist_rows.values():
                if i < len(rows):
                    r = rows[i]
                    offered_h.append(float(r.kpi.offered))
                    aht_h.append(_hour_aht(r.kpi, ivs, r.start.astimezone(UTC), r.end.astimezone(UTC)))
            usual_offered, usual_aht = _mean(offered_h), _mean(aht_h)
        span = (h1 - h0).total_seconds()
        t = agent_time(agent_intervals, h0, h1)
        available = t.staffed_seconds / span
        planned = planned_agents(h0, h1)
        not_ready = {r: s / 60 for r, s in sorted(t.not_ready_reasons.items()) if r not in PLANNED_REASONS}
        short = k.offered > 0 and (k.connection_rate or 0.0) < target
        reasons: list[Reason] = []
        if short:
            if usual_offered is not None and k.offered > usual_offered * VOLUME_FACTOR \
                    and k.offered - usual_offered >= 3:
                reasons.append(Reason("volume", k.offered, usual_offered))
            if planned > 0 and available < planned * STAFFING_FACTOR:
                reasons.append(Reason("staffing", available, planned))
            if aht is not None and usual_aht is not None and aht > usual_aht * HANDLE_FACTOR:
                reasons.append(Reason("handle_time", aht, usual_aht))
            unplanned = sum(not_ready.values()) * 60
            if planned > 0 and unplanned > NOT_READY_SHARE * planned * span:
                reasons.append(Reason("not_ready", unplanned / 60, 0.0, dict(not_ready)))
        hours.append(HourRow(row.start, k, aht, usual_offered, usual_aht, round(planned, 2), round(available, 2),
                             not_ready, short, tuple(reasons)))
    day_records = [r for r in records if start <= r.attributed_at < end]
    k = kpi(day_records, sl_seconds, short_abandon_seconds)
    t = agent_time(agent_intervals, start, end)
    return DailyReport(
        day=day, tz=tz, language=language, centre_name=centre_name, target=target,
        short_abandon_seconds=short_abandon_seconds, day_kpi=k, aht=k.aht(t.wrap_up),
        acw=rate(t.wrap_up, k.answered), occupancy=t.occupancy, hours=tuple(hours),
        history_days=tuple(sorted(history)),
    )


# --- the store side -------------------------------------------------------------------------------

def records_attributed(store: Any, start: datetime, end: datetime) -> list[CallRecordData]:
    """Records of calls attributed to [start, end): those ended from `start` up to a day after `end`
    (a call ends after it is attributed), filtered on `attributed_at`."""
    return [r for r in store.records(start, end + timedelta(days=1)) if start <= r.attributed_at < end]


def load_daily(cfg: Any, day: date, store: Any, agent_log: Any | None, *, history_weeks: int = 4) -> DailyReport:
    """Read the day and the same weekday of the previous weeks from the store, then build the report."""
    tz = cfg.centre.timezone
    start, end = day_span(day, tz)

    def ivs(a: datetime, b: datetime) -> list[AgentInterval]:
        return agent_log.intervals(a, b) if agent_log is not None else []

    history = {}
    for d in history_days(day, history_weeks):
        h0, h1 = day_span(d, tz)
        recs = records_attributed(store, h0, h1)
        if recs:
            history[d] = (recs, ivs(h0, h1))
    planned = planned_agents_fn(cfg)
    rep = build_daily(
        day, records_attributed(store, start, end), ivs(start, end), history=history,
        planned_agents=planned, tz=tz, target=cfg.centre.connection_rate_target,
        short_abandon_seconds=cfg.centre.short_abandon_seconds, sl_seconds=cfg.centre.service_level_seconds,
        language=cfg.centre.language, centre_name=cfg.centre.name,
    )
    from dataclasses import replace

    from staffing.morning import load_rows

    return replace(rep, intervals=tuple(load_rows(cfg, day, store, agent_log, planned)))


def planned_agents_fn(cfg: Any, step_minutes: int = 5) -> Callable[[datetime, datetime], float]:
    """Average agents the roster plans over [a, b) (on shift, off breaks), sampled every `step_minutes`.
    Without shifts in the config every configured agent counts as planned."""
    if not cfg.shifts:
        n = float(len(cfg.agents))
        return lambda a, b: n
    from callcenter.engine_config import roster_from
    from callcenter.reports.month import on_duty

    roster = roster_from(cfg)
    agents = [str(a.id) for a in cfg.agents if a.team]
    unbound = len(cfg.agents) - len(agents)

    def planned(a: datetime, b: datetime) -> float:
        samples, total = 0, 0
        t = a
        while t < b:
            total += sum(on_duty(roster, x, t) for x in agents) + unbound
            samples += 1
            t += timedelta(minutes=step_minutes)
        return total / samples if samples else 0.0

    return planned
