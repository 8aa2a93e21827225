"""From stored records to a staffing plan: forecast per queue, Erlang-A need per interval (the queues
pooled, since every agent of the example centre serves `general` and two more), the roster, and the proof
by simulation of the current and the suggested roster."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from agents.shifts import Roster, ShiftRules
from staffing.erlang import erlang_a
from staffing.forecast import Model, backtest, fit
from staffing.history import SLOTS, QueueHistory, daily_matrix, kaplan_meier_median
from staffing.requirements import Targets, agents_needed, scheduled
from staffing.roster import RosterPlan, Template, solve
from staffing.simulate import TRAFFIC, Traffic, rates_by_slot, simulate, utc_midnight


@dataclass
class QueueForecast:
    queue: str
    calls: NDArray[np.float64]  # days x SLOTS
    aht_s: float
    patience_s: float
    km_median_s: float | None
    model: Model


@dataclass
class Plan:
    first: date
    days: int
    queues: list[QueueForecast]
    calls: NDArray[np.float64]  # pooled, days x SLOTS
    aht_s: float
    patience_s: float
    need: NDArray[np.int64]  # agents on duty per interval (after shrinkage), days x SLOTS
    predicted_rate: NDArray[np.float64]  # Erlang-A connection rate at `need`
    targets: Targets
    extra: dict[str, Any] = field(default_factory=dict)


def forecast_queues(history: dict[str, QueueHistory], hist_first: date, hist_days: int, first: date,
                    days: int, default_aht: float = 200.0) -> list[QueueForecast]:
    out = []
    for q, h in sorted(history.items()):
        matrix = np.array(daily_matrix(h.offered, hist_first, hist_days))
        model = fit(matrix, hist_first)
        calls = model.forecast([first + timedelta(days=i) for i in range(days)])
        p = h.patience()
        out.append(QueueForecast(q, calls, h.aht_s or default_aht, p.mean_s, p.km_median_s, model))
    return out


def pooled(queues: list[QueueForecast], history: dict[str, QueueHistory]) -> tuple[NDArray[np.float64], float, float]:
    calls = sum((q.calls for q in queues), start=np.zeros_like(queues[0].calls))
    weight = np.array([q.calls.sum() for q in queues])
    aht = float(np.dot(weight, [q.aht_s for q in queues]) / max(weight.sum(), 1e-9))
    return calls, aht, planning_patience(*pooled_patience(history))


def pooled_patience(history: dict[str, QueueHistory]) -> tuple[float, float | None]:
    """(exponential MLE of the mean patience, Kaplan-Meier median) over every queue's waits."""
    lost = sum(h.patience().abandoned for h in history.values())
    exposure = sum(h.patience().exposure_s for h in history.values())
    waits = [w for h in history.values() for w in h.waits]
    return (exposure / lost if lost else 3600.0), kaplan_meier_median(waits)


def planning_patience(mle_mean: float, km_median: float | None) -> float:
    """The mean patience Erlang-A plans with: the exponential MLE, but no longer than the exponential whose
    median is Kaplan-Meier's. Most recorded waits are short, so the MLE reads the early, low hazard of
    callers who hang up later and later as they wait; staffing leaner makes waits longer than the history's,
    where that hazard is higher. The median match keeps the plan on the safe side."""
    if km_median is None:
        return mle_mean
    return min(mle_mean, km_median / math.log(2))


def make_plan(history: dict[str, QueueHistory], hist_first: date, hist_days: int, first: date, days: int,
              targets: Targets) -> Plan:
    queues = forecast_queues(history, hist_first, hist_days, first, days)
    calls, aht, patience = pooled(queues, history)
    on_phones, figs = agents_needed(calls.ravel(), 1800.0, aht, patience, targets)
    need = scheduled(on_phones, targets.shrinkage).reshape(days, SLOTS)
    return Plan(first, days, queues, calls, aht, patience, need, figs.connection_rate.reshape(days, SLOTS), targets)


def accuracy_table(history: dict[str, QueueHistory], hist_first: date, hist_days: int,
                   weeks: int = 3) -> list[dict[str, object]]:
    """Backtest on the pooled offered calls (what the staffing plan uses)."""
    total = sum((np.array(daily_matrix(h.offered, hist_first, hist_days)) for h in history.values()),
                start=np.zeros((hist_days, SLOTS)))
    return backtest(total, hist_first, weeks)


STAGGER_HOURS = (-2, 0, 2)


def templates_from(cfg: Any, stagger: tuple[int, ...] = STAGGER_HOURS) -> list[Template]:
    """The config's shift templates, each also staggered by whole hours (same length, break moved with it):
    a staggered start is how a centre follows its intraday curve without new kinds of shift."""
    out = []
    for s in cfg.shifts:
        b = s.breaks[0] if s.breaks else None
        for h in stagger:
            name = s.name if h == 0 else f"{s.name}{h:+d}h"
            out.append(Template(name, _shift(s.start, h), _shift(s.end, h), _shift(b.start, h) if b else None,
                                b.minutes if b else 0, b.waves if b else 1))
    return out


def _shift(t: time, hours: int) -> time:
    return time((t.hour + hours) % 24, t.minute)


def predicted_rate(coverage: NDArray[np.int64], calls: NDArray[np.float64], aht: float,
                   patience: float) -> NDArray[np.float64]:
    """Erlang-A connection rate per interval with `coverage` agents on the phones."""
    c = calls.ravel()
    n = np.maximum(coverage.ravel(), 0)
    out = np.ones(c.size)
    live = (c > 1e-9) & (n > 0)
    if live.any():
        f = erlang_a(c[live] / 1800.0, 1.0 / aht, 1.0 / patience, n[live])
        out[live] = f.connection_rate
    out[(c > 1e-9) & (n == 0)] = 0.0
    return out.reshape(calls.shape)


def roster_coverage(roster: Roster, first: date, days: int, queue: str | None = None) -> NDArray[np.int64]:
    """Agents on duty (off their breaks) per interval, from a Roster."""
    from datetime import UTC, datetime

    tz = ZoneInfo(roster.timezone)
    agents = sorted({a for t in roster.teams for a in t.agents
                     if queue is None or queue in roster.agent_queues.get(a, ())})
    out = np.zeros((days, SLOTS), dtype=np.int64)
    for d in range(days):
        for s in range(SLOTS):
            at = (datetime.combine(first + timedelta(days=d), time(0), tzinfo=tz)
                  + timedelta(minutes=30 * s + 15)).astimezone(UTC)
            for a in agents:
                for sh in roster.shifts_around(a, at):
                    if sh.start <= at < sh.end and not any(b0 <= at < b1 for b0, b1 in sh.breaks):
                        out[d, s] += 1
                        break
    return out


def roster_hours(roster: Roster, first: date, days: int) -> float:
    total = 0.0
    for t in roster.teams:
        for a in t.agents:
            for d in range(days):
                for sh in roster.starting_on(a, first + timedelta(days=d)):
                    total += (sh.end - sh.start).total_seconds() / 3600
    return total


@dataclass
class Proof:
    rate: NDArray[np.float64]  # simulated connection rate per interval (replications pooled)
    offered: NDArray[np.float64]
    predicted: NDArray[np.float64]
    overall: float

    def share_at_or_above(self, target: float) -> float:
        live = self.offered > 0
        return float(np.mean(self.rate[live] >= target - 1e-12)) if live.any() else 1.0


def prove(engine_config: Any, rules: ShiftRules, plan: Plan, coverage: NDArray[np.int64], tz: str,
          replications: int = 10, seed: int = 1, traffic: Traffic = TRAFFIC,
          ring_timeout: dict[str, float] | None = None) -> Proof:
    """Play the planned days `replications` times through the engine with `rules`' roster."""
    start = utc_midnight(plan.first, tz)
    offered = np.zeros((plan.days, SLOTS))
    answered = np.zeros((plan.days, SLOTS))
    rates = {q.queue: q.calls for q in plan.queues}
    for r in range(replications):
        res = simulate(engine_config, rules, start, rates, seed=seed * 1000 + r, traffic=traffic,
                       ring_timeout=ring_timeout)
        o, a = rates_by_slot(res.records, start, plan.days, tz)
        offered += o
        answered += a
    rate = np.where(offered > 0, answered / np.maximum(offered, 1), 1.0)
    return Proof(rate, offered, predicted_rate(coverage, plan.calls, plan.aht_s, plan.patience_s),
                 float(answered.sum() / max(offered.sum(), 1)))


def suggest(plan: Plan, templates: list[Template], roster: Roster, available: int) -> RosterPlan:
    day_calls = plan.calls.sum(axis=1)
    return solve(plan.need, plan.first, templates, lambda p, d: roster.calendar.runs_on(p, d), available, day_calls)


def scaled_rota(roster: Roster, plan: Plan, most: int = 40) -> dict[str, Any]:
    """The current rota with every team grown (or shrunk) alike: the smallest team size whose agents on
    duty meet the plan's need in every interval, and its agent-hours (the like-for-like comparison)."""
    from agents.shifts import Team

    size = max((len(t.agents) for t in roster.teams), default=0)
    for k in range(1, most + 1):
        teams = tuple(Team(t.name, tuple(f"{t.name}-{i}" for i in range(k)), t.rotation) for t in roster.teams)
        grown = Roster(roster.shifts, teams, roster.anchor, roster.timezone, roster.calendar)
        if np.all(roster_coverage(grown, plan.first, plan.days) >= plan.need):
            return {"team_size": k, "configured_team_size": size, "agents": k * len(teams),
                    "agent_hours": roster_hours(grown, plan.first, plan.days)}
    return {"team_size": None, "configured_team_size": size}


@dataclass(frozen=True, slots=True)
class CentreModel:
    """The pooled forecast model of the centre with its usual handle time and planning patience."""

    model: Model
    aht_s: float
    patience_s: float


def centre_model(history: dict[str, QueueHistory], first: date, days: int) -> CentreModel | None:
    """Fitted on every queue's offered calls together; None when the history holds no call."""
    total = sum((np.array(daily_matrix(h.offered, first, days)) for h in history.values()),
                start=np.zeros((days, SLOTS)))
    if total.sum() <= 0:
        return None
    answered = sum(h.answered for h in history.values())
    aht = sum(h.handle_sum for h in history.values()) / answered if answered else 200.0
    return CentreModel(fit(total, first), aht, planning_patience(*pooled_patience(history)))
