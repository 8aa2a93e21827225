"""Live stats over MQTT against the real Mosquitto on 127.0.0.1:1883: retained payloads that follow the
JSON Schemas, published on change only, and republished after the broker connection is lost."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest

from callcenter.mqtt_stats import MqttStatsPublisher, payloads
from callcenter.web.sample import sample_snapshot
from config.models import MqttConfig

pytestmark = pytest.mark.mqtt

SCHEMAS = Path(__file__).resolve().parents[1] / "monitoring" / "schemas"
HOST, PORT = "127.0.0.1", 1883
GUARD = 20.0  # against a hang only


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def live_snapshot() -> dict[str, Any]:
    """The sample snapshot, completed with the keys LiveStats.snapshot gives today."""
    snap = sample_snapshot()
    snap.update(standard_24h=0.95, sl_seconds=15.0, short_abandon_seconds=0.0)
    snap["centre"].update(service_level=0.874, answered_in_time_rate=0.9, short_abandoned=0, abandoned_ivr=3,
                          abandoned_queue=50, abandoned_ringing=8, avg_talk=150.0, acw=22.0, aht=172.0,
                          occupancy=0.81, calls_per_agent=40.0)
    for q in snap["queues"]:
        q.update(agents_ready=2, service_level=0.8, asa=12.5)
    return snap


class Provider:
    def __init__(self) -> None:
        self.current = live_snapshot()

    def __call__(self) -> dict[str, Any]:
        return copy.deepcopy(self.current)


@contextlib.asynccontextmanager
async def subscriber(prefix: str) -> AsyncIterator[tuple[aiomqtt.Client, asyncio.Queue[aiomqtt.Message]]]:
    got: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()
    async with aiomqtt.Client(HOST, PORT, identifier=f"sub-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{prefix}/stats/#", qos=1)

        async def pump() -> None:
            async for msg in client.messages:
                got.put_nowait(msg)

        task = asyncio.create_task(pump(), name="mqtt-test-pump")
        try:
            yield client, got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # Leave no retained messages behind on the shared broker.
            for topic in [f"{prefix}/stats/centre", f"{prefix}/stats/status",
                          *(f"{prefix}/stats/queues/{q['name']}" for q in live_snapshot()["queues"])]:
                await client.publish(topic, b"", qos=1, retain=True)


async def collect(got: asyncio.Queue[aiomqtt.Message], topics: set[str]) -> dict[str, Any]:
    """Messages until every topic in `topics` has one; topic -> last decoded payload."""
    out: dict[str, Any] = {}
    async with asyncio.timeout(GUARD):
        while not topics <= set(out):
            msg = await got.get()
            raw = bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else str(msg.payload).encode()
            out[str(msg.topic)] = raw.decode() if raw in (b"online", b"offline") else json.loads(raw)
    return out


@contextlib.asynccontextmanager
async def running(pub: MqttStatsPublisher) -> AsyncIterator[None]:
    task = asyncio.create_task(pub.run(), name="mqtt-stats-under-test")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_payloads_follow_the_schemas() -> None:
    snap = live_snapshot()
    out = payloads(snap, "callcenter")
    assert set(out) == {"callcenter/stats/centre", *(f"callcenter/stats/queues/{q['name']}" for q in snap["queues"])}
    jsonschema.validate(out["callcenter/stats/centre"], schema("mqtt-centre.json"))
    for topic, body in out.items():
        if "/queues/" in topic:
            jsonschema.validate(body, schema("mqtt-queue.json"))
            assert topic.endswith("/" + body["queue"])
    bad = dict(out["callcenter/stats/centre"], connection_rate=1.5)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema("mqtt-centre.json"))


async def test_retained_stats_reach_a_late_subscriber_and_only_changes_are_sent() -> None:
    prefix = f"test/{uuid.uuid4().hex}"
    provider = Provider()
    pub = MqttStatsPublisher(MqttConfig(host=HOST, port=PORT, topic_prefix=prefix), provider, throttle=0.05)
    queues = {f"{prefix}/stats/queues/{q['name']}" for q in provider.current["queues"]}
    async with running(pub):
        async with asyncio.timeout(GUARD):
            while pub.counters.published < 1 + len(queues):  # noqa: ASYNC110 (a bounded poll)
                await asyncio.sleep(0.02)
        # A subscriber that comes later gets the retained figures at once.
        async with subscriber(prefix) as (_, got):
            first = await collect(got, {f"{prefix}/stats/centre", f"{prefix}/stats/status", *queues})
            assert first[f"{prefix}/stats/status"] == "online"
            centre = first[f"{prefix}/stats/centre"]
            jsonschema.validate(centre, schema("mqtt-centre.json"))
            assert centre["offered"] == provider.current["centre"]["offered"]
            assert centre["connection_rate"] == pytest.approx(provider.current["centre"]["connection_rate"])
            sent_before = pub.counters.published
            # One queue changes: that queue (and the centre, whose waiting count changes) are sent again.
            provider.current["queues"][0]["waiting"] += 5
            provider.current["centre"]["waiting"] += 5
            name = provider.current["queues"][0]["name"]
            changed = await collect(got, {f"{prefix}/stats/queues/{name}", f"{prefix}/stats/centre"})
            assert changed[f"{prefix}/stats/queues/{name}"]["waiting"] == provider.current["queues"][0]["waiting"]
            await asyncio.sleep(0.3)  # several throttle periods with nothing new
            assert pub.counters.published == sent_before + 2
            assert got.empty()


async def test_publisher_reconnects_and_republishes_after_the_broker_connection_drops() -> None:
    """A TCP relay in front of the real broker is cut: the publisher backs off, reconnects, republishes."""
    conns: list[asyncio.StreamWriter] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(HOST, PORT)
        conns.extend([writer, up_w])

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    prefix = f"test/{uuid.uuid4().hex}"
    provider = Provider()
    pub = MqttStatsPublisher(MqttConfig(host="127.0.0.1", port=port, topic_prefix=prefix), provider,
                             throttle=0.05, backoff_initial=0.05, backoff_max=0.2)
    try:
        async with subscriber(prefix) as (_, got), running(pub):
            await collect(got, {f"{prefix}/stats/centre"})
            assert pub.counters.connects == 1
            for w in conns:  # the broker "goes away"
                w.close()
            conns.clear()
            async with asyncio.timeout(GUARD):
                while pub.counters.connects < 2:  # noqa: ASYNC110 (a bounded poll)
                    await asyncio.sleep(0.02)
            assert pub.counters.errors >= 1
            while not got.empty():
                got.get_nowait()
            provider.current["centre"]["offered"] += 1
            again = await collect(got, {f"{prefix}/stats/centre"})
            assert again[f"{prefix}/stats/centre"]["offered"] == provider.current["centre"]["offered"]
    finally:
        server.close()
        for w in conns:
            w.close()
        await server.wait_closed()


async def retained(topic: str) -> bytes:
    """The retained message of `topic` on the broker, as a new subscriber gets it."""
    async with aiomqtt.Client(HOST, PORT, identifier=f"ret-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(GUARD):
            async for msg in client.messages:
                body = bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else b""
                await client.publish(topic, b"", qos=1, retain=True)  # leave the shared broker clean
                return body
    raise AssertionError("no message")


async def test_a_clean_stop_publishes_offline() -> None:
    # The will covers a lost connection only (the broker drops it on a clean DISCONNECT).
    prefix = f"test/{uuid.uuid4().hex}"
    pub = MqttStatsPublisher(MqttConfig(host=HOST, port=PORT, topic_prefix=prefix), Provider(), throttle=0.05)
    async with running(pub):
        async with asyncio.timeout(GUARD):
            while pub.counters.published < 1:  # noqa: ASYNC110 (a bounded poll)
                await asyncio.sleep(0.02)
    status = await retained(pub.status_topic)
    async with subscriber(prefix):  # cleans the figures' retained topics afterwards
        pass
    assert status == b"offline"
