"""The web side fails in the middle of a burst: the live figures behind /api/stats, /metrics and the SSE
wallboard stream raise for a while (a bug in a handler's data), then work again.

The daemon has no way to restart its web server alone (it is one task of the daemon's TaskGroup), so this
is the fault it can take: handlers answer 5xx, the MQTT stats publisher (which reads the same figures)
skips its ticks, and routing and records go on untouched; afterwards a wallboard that reconnects gets
its stream again. The store and the simulator agree call by call.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from config.loader import load_config
from config.models import MqttConfig
from tests.pair import EXAMPLE, running_pair
from tests.test_fault_check import busy_load, in_flight, settle, verdict, wait_for

SPEED = 100.0
CALLS = 60
BROKEN = timedelta(minutes=2)  # simulated


async def _first_event(client: httpx.AsyncClient) -> bytes:
    async with client.stream("GET", "/api/stats/stream", headers={"Accept": "text/event-stream"}) as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            if line.startswith("data:"):
                return line.encode()
    raise AssertionError("the stream ended without an event")


async def test_web_handlers_failing_mid_burst_leave_routing_alone(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"mqtt": MqttConfig(topic_prefix=f"cc-web-{uuid.uuid4().hex[:8]}")})
    async with running_pair(tmp_path, speed=SPEED, seed=43, sim_changes=busy_load(), cfg=cfg) as pair:
        d, sim = pair.daemon, pair.sim
        real_snapshot = d.live.snapshot

        def broken(*_: Any, **__: Any) -> dict[str, Any]:
            raise RuntimeError("injected: the figures are broken")

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.web_port}", timeout=10) as web:
            assert (await web.get("/api/stats")).status_code == 200
            load = asyncio.create_task(sim.run_load(calls=CALLS))
            try:
                await wait_for(lambda: len(sim.ledger) >= CALLS // 3)
                flying = in_flight(sim)
                records_before = d.stats.records
                d.live.snapshot = broken  # type: ignore[method-assign]
                broke_at = sim.clock.now()
                await asyncio.sleep(1.1)  # past the stats cache's push interval
                during = [(await web.get(path)).status_code for path in ("/api/stats", "/metrics")]
                await wait_for(lambda: sim.clock.now() - broke_at >= BROKEN and any(
                    t.answered_at is not None and t.answered_at >= broke_at for t in sim.ledger.values()))
                recorded_during = d.stats.records - records_before
                d.live.snapshot = real_snapshot  # type: ignore[method-assign]
                await load
            finally:
                d.live.snapshot = real_snapshot  # type: ignore[method-assign]
                if not load.done():
                    load.cancel()
            await asyncio.sleep(1.1)
            after = (await web.get("/api/stats")).status_code
            event = await _first_event(web)  # a wallboard reconnecting gets its stream
        await settle(d, sim)
        v = verdict(d, sim)
        snapshot_errors = d.mqtt_stats.counters.snapshot_errors
    assert flying > 0
    assert all(code >= 500 for code in during), during
    assert recorded_during > 0
    assert after == 200
    assert b'"centre"' in event
    assert snapshot_errors > 0  # the MQTT publisher met the fault too, and the daemon lived on
    v.assert_clean("web handlers failing", 1, flying)
    assert v.calls == CALLS
