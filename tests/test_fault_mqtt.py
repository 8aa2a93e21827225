"""The MQTT broker dies (SIGKILL) in the middle of a burst and comes back on the same port.

A private Mosquitto on a free port, so killing it disturbs no other test. Routing and records must not
notice (the store and the simulator agree call by call); once the broker is back, both publishers
reconnect: the retained centre stats are there again (the broker kept nothing: no persistence) and a
call placed after the restart pops on its agent's offer topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest

from config.loader import load_config
from config.models import MqttConfig
from tests.pair import EXAMPLE, running_pair
from tests.ports import free_ports
from tests.test_fault_check import busy_load, in_flight, settle, verdict, wait_for

SPEED = 100.0
CALLS = 60
OUTAGE = timedelta(minutes=2)  # simulated


class Broker:
    """A throwaway mosquitto process on 127.0.0.1:<port>, killed and started again at will."""

    def __init__(self, conf: Path, port: int) -> None:
        self.conf, self.port = conf, port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "mosquitto", "-c", str(self.conf),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        async with asyncio.timeout(10):
            while True:
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                w.close()
                await w.wait_closed()
                return

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None


@contextlib.asynccontextmanager
async def private_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is not installed")
    [port] = free_ports(1)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = Broker(conf, port)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.kill()


async def test_broker_killed_mid_burst_routing_unaffected_pops_and_stats_resume(tmp_path: Path) -> None:
    prefix = f"cc-fault-{uuid.uuid4().hex[:8]}"
    async with private_broker(tmp_path) as broker:
        cfg = load_config(EXAMPLE, environ={})
        cfg = cfg.model_copy(update={"mqtt": MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix=prefix)})
        async with running_pair(tmp_path, speed=SPEED, seed=41, sim_changes=busy_load(), cfg=cfg) as pair:
            d, sim = pair.daemon, pair.sim
            pops, stats = d.screenpop, d.mqtt_stats
            for publisher in (pops, stats):
                publisher.backoff_initial, publisher.backoff_max = 0.05, 0.2  # real seconds
            await wait_for(lambda: pops.counters.connected and stats.counters.connected)
            load = asyncio.create_task(sim.run_load(calls=CALLS))
            try:
                await wait_for(lambda: len(sim.ledger) >= CALLS // 3 and pops.counters.published > 0)
                flying = in_flight(sim)
                records_before = d.stats.records
                await broker.kill()
                await wait_for(lambda: not pops.counters.connected and not stats.counters.connected)
                down_at = sim.clock.now()
                # Two simulated minutes with no broker, and until a call is answered (else: time-out, fail).
                await wait_for(lambda: sim.clock.now() - down_at >= OUTAGE and any(
                    t.answered_at is not None and t.answered_at >= down_at for t in sim.ledger.values()))
                up_at = sim.clock.now()
                recorded_during = d.stats.records - records_before
                connects = pops.counters.connects, stats.counters.connects
                await broker.start()
                await load
            finally:
                if not load.done():
                    load.cancel()
            await wait_for(lambda: pops.counters.connects > connects[0] and stats.counters.connects > connects[1])
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"t-{uuid.uuid4().hex[:8]}") as sub:
                await sub.subscribe(f"{prefix}/stats/centre", qos=1)
                await sub.subscribe(f"{prefix}/agents/+/offer", qos=1)
                uid = await sim.place_call("13800009999", dtmf=("1", "1"), patience=10_000, talk=30)
                centre, offer = await _first_centre_and_offer(sub, uid)
            await settle(d, sim)
            v = verdict(d, sim)
    assert flying > 0
    answered_during = [t for t in sim.ledger.values()
                       if t.answered_at is not None and down_at <= t.answered_at <= up_at]
    assert answered_during, "no call was answered while the broker was down"
    assert recorded_during > 0
    assert centre["version"] == 1 and isinstance(centre["offered"], int) and centre["offered"] >= 1
    assert offer["call_id"] == uid and offer["caller_number"] == "13800009999"
    v.assert_clean("MQTT broker killed", 1, flying)
    assert v.calls == CALLS + 1


async def _first_centre_and_offer(sub: aiomqtt.Client, uid: str) -> tuple[dict[str, object], dict[str, object]]:
    centre: dict[str, object] | None = None
    offer: dict[str, object] | None = None
    async with asyncio.timeout(30):
        async for msg in sub.messages:
            assert isinstance(msg.payload, bytes)
            body = json.loads(msg.payload)
            if msg.topic.matches("+/stats/centre") and centre is None:
                centre = body
            elif body.get("call_id") == uid:
                offer = body
            if centre is not None and offer is not None:
                return centre, offer
    raise AssertionError("unreachable")
