"""Patience with censoring, the calendar forecast against seasonal-naive, the HiGHS roster, and the
`callcenter staffing` commands end to end on a seeded store (SQLite), the roster fragment checked by
`callcenter shifts check`."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from datetime import date, time, timedelta
from pathlib import Path

import numpy as np
import pytest

from callcenter.staffing_seed import quarter_rates
from staffing.forecast import accuracy, backtest, day_kind, fit, seasonal_naive
from staffing.history import SLOTS, Patience, kaplan_meier_median
from staffing.plan import planning_patience
from staffing.roster import Template, solve

ROOT = Path(__file__).resolve().parent.parent


def test_censored_patience_recovers_the_true_mean() -> None:
    rng = random.Random(3)
    waits = []
    for _ in range(20_000):
        patience, answer = rng.expovariate(1 / 180), rng.expovariate(1 / 40)
        waits.append((min(patience, answer), patience < answer))
    lost = sum(g for _, g in waits)
    p = Patience(lost, sum(w for w, _ in waits), kaplan_meier_median(waits))
    assert p.mean_s == pytest.approx(180, rel=0.05)
    assert p.km_median_s == pytest.approx(180 * math.log(2), rel=0.1)
    # Dropping the answered callers (the naive estimate) would say ~33 s.
    assert sum(w for w, g in waits if g) / lost < 50


def test_kaplan_meier_handles_ties_and_never_falling_to_half() -> None:
    assert kaplan_meier_median([(10, True), (10, False), (20, True), (30, True)]) == 20
    assert kaplan_meier_median([(5, True), (6, False), (7, False), (8, False)]) is None
    assert kaplan_meier_median([(5, False), (6, False), (7, True)]) == 7  # the last caller at risk gave up
    assert kaplan_meier_median([]) is None
    assert planning_patience(500.0, 150.0) == pytest.approx(150 / math.log(2))
    assert planning_patience(100.0, 150.0) == 100.0


def test_day_kinds_follow_the_chinese_calendar() -> None:
    assert day_kind(date(2026, 2, 17)) == "holiday"  # Spring Festival
    assert day_kind(date(2026, 2, 14)) == "adjusted"  # a Saturday worked (调休)
    assert day_kind(date(2026, 2, 24)) == "after"
    assert day_kind(date(2026, 4, 3)) == "eve"  # before Qingming
    assert day_kind(date(2026, 3, 11)) == "wed"


def _poisson_history(first: date, days: int, seed: int) -> np.ndarray:
    rates, _ = quarter_rates(first, days, seed)
    total = sum(rates.values())
    return np.random.default_rng(seed).poisson(total).astype(float)


def test_forecast_beats_seasonal_naive_on_held_back_weeks() -> None:
    first = date(2026, 1, 5)
    history = _poisson_history(first, 91, seed=2)
    rows = backtest(history, first, weeks=3)
    assert len(rows) == 3
    for row in rows:
        assert row["model"]["wape_interval"] < row["seasonal_naive"]["wape_interval"]  # type: ignore[index]
    model = fit(history[:84], first)
    pred = model.forecast([first + timedelta(days=84 + i) for i in range(7)])
    assert pred.shape == (7, SLOTS)
    naive = accuracy(seasonal_naive(history[:84], 7), history[84:])
    assert accuracy(pred, history[84:]).wape_interval < naive.wape_interval


def test_roster_covers_the_need_with_the_fewest_hours() -> None:
    need = np.zeros((2, SLOTS), dtype=np.int64)
    need[:, 16:32] = 3  # 08:00-16:00
    need[:, 32:46] = 2
    templates = [Template("early", _t(8), _t(16), _t(11), 30, 4), Template("late", _t(16), _t(23))]
    plan = solve(need, date(2026, 3, 2), templates, lambda p, d: p == "daily", available=12)
    assert bool(np.all(plan.coverage.reshape(2, SLOTS) >= need))
    # 3 on early is not enough during the lunch waves (one away): 4 early, 2 late.
    assert plan.teams == {("early", "daily"): 4, ("late", "daily"): 2}
    assert plan.agent_hours == 2 * (4 * 8 + 2 * 7)
    assert plan.shortfall == 0


def _t(h: int) -> time:
    return time(h)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callcenter.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("staffing") / "q.db"
    url = f"sqlite:///{db}"
    out = _cli("staffing", "seed", "--database", url, "--from", "2026-02-23", "--days", "42")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["records"] > 10_000
    return url


def test_forecast_command_prints_json_and_the_accuracy_table(seeded: str) -> None:
    out = _cli("staffing", "forecast", "--database", seeded, "--from", "2026-04-06", "--history-days", "42",
               "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["calls_per_interval"]) == 7 and len(data["calls_per_interval"][0]) == SLOTS
    assert set(data["queues"]) == {"general", "complaints", "english", "dialect"}
    assert data["accuracy"] and all(r["model"]["wape_day"] >= 0 for r in data["accuracy"])
    text = _cli("staffing", "forecast", "--database", seeded, "--from", "2026-04-06", "--history-days", "42")
    assert "季节性朴素法" in text.stdout


def test_roster_fragment_passes_shifts_check(seeded: str, tmp_path: Path) -> None:
    frag, merged = tmp_path / "frag.yaml", tmp_path / "merged.yaml"
    out = _cli("staffing", "roster", "--database", seeded, "--from", "2026-04-06", "--history-days", "42",
               "--out", str(frag), "--write-config", str(merged), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["agent_hours"] > 0 and frag.exists()
    check = _cli("shifts", "check", "--config", str(merged), "--week", "2026-W15")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "满足全部" in check.stdout


def test_plan_proves_the_roster_by_simulation(seeded: str, tmp_path: Path) -> None:
    chart = tmp_path / "plan.png"
    out = _cli("staffing", "plan", "--database", seeded, "--from", "2026-04-08", "--days", "2", "--history-days",
               "42", "--replications", "3", "--json", "--chart", str(chart))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    suggested = data["proof"]["suggested"]
    assert len(suggested["simulated_rate"]) == 2 and len(suggested["predicted_rate"][0]) == SLOTS
    assert suggested["connection_rate"] >= 0.97
    assert suggested["intervals_at_or_above_target"] >= 0.9
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_bench_staffing_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "staffing.py"), "--queues", "3", "--days", "2",
                           "--repeats", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert data["cells"] == 3 * 2 * SLOTS
    for stage in ("total_s", "forecast_s", "erlang_a_s", "roster_s"):
        assert {"median", "min", "max"} <= data[stage].keys() and len(data[stage]["values"]) == 2
