"""Offered calls per 30-minute interval: a multiplicative model by day kind and intraday profile, with the
Chinese calendar, and its accuracy on held-back weeks against seasonal-naive (the same slot a week before).

    calls(day, slot) = level × factor[kind(day)] × profile[group(day)][slot]

- kind: the weekday, or, from the `holidays` package's Chinese calendar, a public holiday, an adjusted
  working day (调休, a weekend day worked), the last working day before a holiday (节前) or the first
  working day after one (节后);
- level: the median de-seasonalised daily total of the last four weeks (a surge day moves a median little);
- factor: the median of day total / its week's level over the history, per kind (kinds never seen fall back:
  a holiday to Sunday, an eve to its weekday, an adjusted day to Tuesday, the day after to Monday);
- profile: the mean share of the day's calls per slot over the last eight weeks, per group (Monday,
  other working days, days off), days far above their expectation left out.

Why not a forecasting library here: a seasonal library (statsforecast's MSTL/AutoETS, statsmodels' ETS)
sees a weekly and a daily season but not the Chinese calendar unless fed it as regressors, and the day kinds
are what move a 12345 line; see docs/staffing.md for what installs and the comparison.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from staffing.history import SLOTS

WEEKDAY_KINDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FALLBACK = {"holiday": "sun", "adjusted": "tue", "after": "mon"}
LEVEL_WEEKS = 4
PROFILE_WEEKS = 8


@lru_cache(maxsize=32)
def _cn(year: int) -> object:
    import holidays

    return holidays.country_holidays("CN", years=year)


def is_holiday(day: date) -> bool:
    return day in _cn(day.year)  # type: ignore[operator]


def is_workday(day: date) -> bool:
    return bool(_cn(day.year).is_working_day(day))  # type: ignore[attr-defined]


def day_kind(day: date) -> str:
    """holiday | adjusted | eve | after | mon..sun."""
    if not is_workday(day):
        return "holiday" if is_holiday(day) else WEEKDAY_KINDS[day.weekday()]
    if day.weekday() >= 5:
        return "adjusted"
    if is_holiday(day + timedelta(days=1)) or (day.weekday() == 4 and is_holiday(day + timedelta(days=3))):
        return "eve"
    if is_holiday(day - timedelta(days=1)) or (day.weekday() == 0 and is_holiday(day - timedelta(days=3))):
        return "after"
    return WEEKDAY_KINDS[day.weekday()]


def profile_group(day: date) -> str:
    kind = day_kind(day)
    if kind in ("holiday", "sat", "sun"):
        return "off"
    return "mon" if kind in ("mon", "after") else "work"


@dataclass
class Model:
    level: float
    factors: dict[str, float]
    profiles: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def factor(self, day: date) -> float:
        kind = day_kind(day)
        if kind in self.factors:
            return self.factors[kind]
        if kind == "eve":
            return self.factors.get(WEEKDAY_KINDS[day.weekday()], 1.0)
        return self.factors.get(FALLBACK.get(kind, kind), 1.0)

    def day_total(self, day: date) -> float:
        return self.level * self.factor(day)

    def forecast(self, days: list[date]) -> NDArray[np.float64]:
        """days x SLOTS expected offered calls."""
        flat = np.full(SLOTS, 1.0 / SLOTS)
        return np.array([self.day_total(d) * self.profiles.get(profile_group(d), flat) for d in days])


def fit(history: NDArray[np.float64], first: date) -> Model:
    """history: days x SLOTS offered calls from `first` on. A day without a single call is taken as
    missing (a 7x24 hotline is never silent for a day: the records are not there), not as zero."""
    days = [first + timedelta(days=i) for i in range(history.shape[0])]
    totals = history.sum(axis=1)
    seen = totals > 0
    if not seen.any():
        raise ValueError("no calls in the history: nothing to forecast from")
    kinds = [day_kind(d) for d in days]
    factors: dict[str, float] = {}
    for _ in range(3):
        adjusted = np.where(seen, totals / np.array([factors.get(k, 1.0) for k in kinds]), np.nan)
        levels = np.array([_trailing_median(adjusted, i) for i in range(len(days))])
        ratios: dict[str, list[float]] = {}
        for k, t, lv, ok in zip(kinds, totals, levels, seen, strict=True):
            if ok and lv > 0:
                ratios.setdefault(k, []).append(float(t / lv))
        factors = {k: statistics.median(v) for k, v in ratios.items()}
        norm = statistics.mean(factors.get(k, 1.0) for k in WEEKDAY_KINDS)  # keep "level" a mean weekday
        factors = {k: v / norm for k, v in factors.items()}
    recent = adjusted[-7 * LEVEL_WEEKS :]
    model = Model(level=float(np.nanmedian(recent)) if np.isfinite(recent).any() else float(np.nanmedian(adjusted)),
                  factors=factors)
    expected = np.array([model.level * model.factor(d) for d in days])
    profiles: dict[str, list[NDArray[np.float64]]] = {}
    for i in range(max(0, len(days) - 7 * PROFILE_WEEKS), len(days)):
        if not seen[i] or totals[i] > 1.4 * expected[i]:
            continue  # missing, or an unusual day (surge) that would bend the usual shape
        profiles.setdefault(profile_group(days[i]), []).append(history[i] / totals[i])
    model.profiles = {g: np.mean(v, axis=0) for g, v in profiles.items()}
    for g in ("work", "mon", "off"):
        if g not in model.profiles and model.profiles:
            model.profiles[g] = model.profiles.get("work", next(iter(model.profiles.values())))
    return model


def _trailing_median(adjusted: NDArray[np.float64], i: int) -> float:
    """The level around day i: the median of its trailing week (the first week's for the first days)."""
    window = adjusted[max(0, i - 6) : i + 1] if i >= 6 else adjusted[:7]
    return float(np.nanmedian(window)) if np.isfinite(window).any() else float("nan")


def seasonal_naive(history: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
    """The same slot one week earlier, repeated for `horizon` days."""
    week = history[-7:]
    return np.array([week[i % 7] for i in range(horizon)])


@dataclass(frozen=True, slots=True)
class Accuracy:
    wape_interval: float
    mape_interval: float  # over intervals with at least MAPE_MIN calls (a 1-call interval says nothing)
    wape_day: float
    mape_day: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in ("wape_interval", "mape_interval", "wape_day", "mape_day")}


MAPE_MIN = 5


def accuracy(pred: NDArray[np.float64], actual: NDArray[np.float64]) -> Accuracy:
    err = np.abs(pred - actual)
    big = actual >= MAPE_MIN
    day_pred, day_act = pred.sum(axis=1), actual.sum(axis=1)
    return Accuracy(
        wape_interval=float(err.sum() / max(actual.sum(), 1e-9)),
        mape_interval=float(np.mean(err[big] / actual[big])) if big.any() else float("nan"),
        wape_day=float(np.abs(day_pred - day_act).sum() / max(day_act.sum(), 1e-9)),
        mape_day=float(np.mean(np.abs(day_pred - day_act) / np.maximum(day_act, 1e-9))),
    )


def backtest(history: NDArray[np.float64], first: date, weeks: int) -> list[dict[str, object]]:
    """Hold back each of the last `weeks` whole weeks in turn: fit on what came before, forecast it, and
    score the model and seasonal-naive."""
    rows: list[dict[str, object]] = []
    n = history.shape[0]
    for w in range(weeks, 0, -1):
        cut = n - 7 * w
        if cut < 14:
            continue
        train, actual = history[:cut], history[cut : cut + 7]
        days = [first + timedelta(days=cut + i) for i in range(7)]
        model = fit(train, first)
        rows.append({
            "week_from": days[0].isoformat(),
            "offered": int(actual.sum()),
            "model": accuracy(model.forecast(days), actual).as_dict(),
            "seasonal_naive": accuracy(seasonal_naive(train, 7), actual).as_dict(),
        })
    return rows
