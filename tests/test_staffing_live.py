"""Live risk: the next hour's expected connection rate, from a forecast fitted on a real SQLite store, set
by the daemon's task, exported to Prometheus, and its alert rule unit-tested with promtool."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from callcenter.clock import Clock
from callcenter.engine_config import engine_config_from, shift_rules_from
from callcenter.staffing_live import run_risk
from callcenter.staffing_seed import quarter_rates
from config.loader import load_config
from metrics.live import LiveStats
from metrics.prom import register
from records.store import Store
from staffing.forecast import Model
from staffing.history import SLOTS
from staffing.live_risk import calls_next_hour, next_hour_rate
from staffing.plan import CentreModel
from staffing.simulate import simulate, utc_midnight

ROOT = Path(__file__).resolve().parent.parent
MON = ROOT / "monitoring"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TZ = "Asia/Shanghai"


def test_next_hour_rate_falls_with_calls_and_rises_with_agents() -> None:
    assert next_hour_rate(0, 0, 0, 200, 200) == 1.0
    assert next_hour_rate(10, 0, 0, 200, 200) == 0.0
    few = next_hour_rate(60, 0, 4, 200, 200)
    assert next_hour_rate(60, 10, 4, 200, 200) < few < next_hour_rate(60, 0, 6, 200, 200)


def test_calls_next_hour_prorates_the_intervals() -> None:
    from zoneinfo import ZoneInfo

    flat = np.arange(SLOTS, dtype=float)
    model = CentreModel(Model(level=float(flat.sum()), factors={}, profiles={g: flat / flat.sum()
                                                                             for g in ("work", "mon", "off")}),
                        200.0, 200.0)
    now = datetime(2026, 3, 11, 2, 15, tzinfo=UTC)  # 10:15 local: slots 20 (half), 21, 22 (half)
    expected = 0.5 * 20 + 21 + 0.5 * 22
    assert calls_next_hour(model, now, ZoneInfo(TZ)) == pytest.approx(expected * model.model.factor(date(2026, 3, 11)))


def test_the_alert_rule_checks_and_fires_only_when_under_target() -> None:
    check = subprocess.run([PROMTOOL, "check", "rules", str(MON / "staffing_alerts.yml")], capture_output=True,
                           text=True, timeout=60, check=False)
    assert check.returncode == 0 and "SUCCESS: 1 rules found" in check.stdout, check.stdout + check.stderr
    unit = subprocess.run([PROMTOOL, "test", "rules", "staffing_alerts_test.yml"], capture_output=True, text=True,
                          timeout=60, cwd=MON, check=False)
    assert unit.returncode == 0, unit.stdout + unit.stderr


async def test_the_daemon_task_sets_the_gauge_from_the_store(tmp_path: Path) -> None:
    cfg = load_config(str(ROOT / "config" / "example.yaml"))
    first = date(2026, 2, 23)
    rates, _ = quarter_rates(first, 21, seed=4)
    rules = shift_rules_from(cfg)
    assert rules is not None
    sim = simulate(engine_config_from(cfg), rules, utc_midnight(first, TZ), rates, seed=4)
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    store.write_batch(sim.records)
    live = LiveStats(target=0.97, tz=TZ, queues=[(q.name, q.name) for q in cfg.queues])
    for i in range(2):
        live.set_agent_state(f"100{i + 1}", "ready")
    registry = CollectorRegistry()
    now = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 local, the day after the history
    register(registry, live, clock=lambda: now)
    assert b"\ncallcenter_next_hour_connection_rate " not in generate_latest(registry)  # absent: no forecast yet
    task = asyncio.create_task(run_risk(live, store, cfg, Clock(speed=600, origin=now)))
    try:
        for _ in range(200):
            if live.next_hour_rate is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.close()
    rate = live.next_hour_rate
    assert rate is not None and 0.0 <= rate < 0.97  # two agents on a Monday morning: at risk
    text = generate_latest(registry).decode()
    assert f"\ncallcenter_next_hour_connection_rate {rate}\n" in text
    assert live.snapshot(now)["centre"]["next_hour_rate"] == rate
