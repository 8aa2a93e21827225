"""A restart changes no figure: the daemon run twice on the same database serves the same figures for
the same instant, and /api/stats after the restart equals the KPIs computed from the store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.loader import load_config
from metrics.kpi import day_bounds, kpi
from tests.pair import EXAMPLE, running_pair

CALL_FIGURES = ("offered", "answered", "abandoned", "connection_rate", "asa", "service_level",
                "answered_in_time_rate", "longest_wait_today", "avg_talk", "calls_per_agent", "abandoned_ivr",
                "abandoned_queue", "abandoned_ringing", "connection_rate_1h", "connection_rate_24h")


def figures(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "centre": {k: snap["centre"][k] for k in CALL_FIGURES},
        "queues": [{k: q[k] for k in ("name", "offered", "answered", "abandoned", "connection_rate", "service_level",
                                      "asa")} for q in snap["queues"]],
        "intervals": snap["intervals"],
    }


async def test_restart_with_the_same_database_changes_no_figure(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'calls.db'}"
    # Without MQTT: this test is about the store (and leaves the shared broker's topics alone).
    cfg = load_config(EXAMPLE, environ={}).model_copy(update={"mqtt": None})
    async with running_pair(tmp_path, database=db, speed=400, seed=5, cfg=cfg) as pair:
        await pair.sim.run_load(calls=80)
        await pair.settle()
        records = pair.daemon.store.records(pair.clock.origin - timedelta(days=1))
        assert len(records) == 80
        at = max(r.ended_at for r in records) + timedelta(seconds=1)
        before = figures(pair.daemon.live.snapshot(at))
    assert before["centre"]["offered"] > 0

    async with running_pair(tmp_path, database=db, speed=400, seed=6, cfg=cfg) as pair:
        # The same instant, after the restart: the same figures, loaded from the store.
        assert figures(pair.daemon.live.snapshot(at)) == before
        # After-call work came back from the agent state log (closed intervals, those open at the stop
        # closed then): the day's wrap-up seconds over the day's answered calls.
        day0, day1 = day_bounds(at, pair.cfg.centre.timezone)
        wrap = sum(iv.seconds_within(day0, day1) for iv in pair.daemon.agent_log.intervals(day0, day1)
                   if iv.state == "wrap_up")
        assert wrap > 0
        assert pair.daemon.live.snapshot(at)["centre"]["acw"] == pytest.approx(wrap / before["centre"]["answered"])
        # And what the web app serves now is the store's count for the current local day.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            stats = (await http.get("/api/stats")).json()
        now = pair.clock.now()
        start, end = day_bounds(now, pair.cfg.centre.timezone)
        today = [r for r in pair.daemon.store.records(start - timedelta(days=1)) if start <= r.attributed_at < end]
        k = kpi(today)
        assert (stats["centre"]["offered"], stats["centre"]["answered"], stats["centre"]["abandoned"]) == (
            k.offered, k.answered, k.abandoned)
