"""Live queue statistics over MQTT: retained JSON per queue and for the whole centre.

Topics (``<prefix>`` is ``mqtt.topic_prefix``, default ``callcenter``):

    <prefix>/stats/centre          the centre's figures        monitoring/schemas/mqtt-centre.json
    <prefix>/stats/queues/<name>   one queue's figures         monitoring/schemas/mqtt-queue.json
    <prefix>/stats/status          "online" / "offline" (retained; "offline" is published on a clean stop
                                   and is the connection's will for an unclean one)

Every message is retained (a wall screen or a city dashboard that subscribes late gets the current
figures at once) and sent with QoS 1. The publisher reads the daemon's live snapshot every
``throttle`` seconds and publishes a topic only when its figures changed (the ``at`` stamp aside), so
a quiet night sends nothing and a busy hour at most one message per topic per ``throttle``.

When the broker goes away the publisher waits a random, growing delay and connects again, then
republishes every topic (the broker may have lost its retained messages). Routing never waits on it:
it only reads the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from config.models import MqttConfig

log = logging.getLogger("callcenter.mqtt_stats")


def broker_password(cfg: MqttConfig) -> str | None:
    """The daemon's broker password: `mqtt.password` (e.g. ${CALLCENTER_MQTT_PASSWORD}), else the first line
    of `mqtt.password_file`, read at each connect (a rotated file is picked up). Empty: none. Never logged."""
    if cfg.password is not None and cfg.password.get_secret_value():
        return cfg.password.get_secret_value()
    if not cfg.password_file:
        return None
    try:
        lines = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("mqtt.password_file %s cannot be read (%s): connecting without a password",
                    cfg.password_file, getattr(exc, "strerror", None) or type(exc).__name__)
        return None
    return lines[0].strip() if lines and lines[0].strip() else None


SCHEMA_VERSION = 1
CENTRE_KEYS = (
    "offered", "answered", "abandoned", "short_abandoned", "connection_rate", "connection_rate_1h",
    "connection_rate_24h", "service_level", "answered_in_time_rate", "asa", "aht", "acw", "occupancy",
    "waiting", "longest_wait_now", "longest_wait_today",
)  # fmt: skip
QUEUE_KEYS = ("label", "waiting", "longest_wait_now", "offered", "answered", "abandoned", "connection_rate",
              "service_level", "asa", "agents_ready")


OFFLINE_TIMEOUT = 2.0  # seconds a stopping daemon gives the broker to take "offline"


async def say_offline(client: aiomqtt.Client, topic: str) -> None:
    """Publish the retained "offline" on a clean stop: the broker sends the will only when a connection
    is lost, and drops it on a clean DISCONNECT, so without this the status would stay "online".
    Bounded: a broker that does not answer does not hold up the stop."""
    try:
        async with asyncio.timeout(OFFLINE_TIMEOUT):
            await client.publish(topic, b"offline", qos=1, retain=True)
    except (aiomqtt.MqttError, TimeoutError) as exc:
        log.warning("MQTT: could not publish offline to %s at stop (%s)", topic, type(exc).__name__)


def centre_payload(snap: dict[str, Any]) -> dict[str, Any]:
    c = snap["centre"]
    return {
        "version": SCHEMA_VERSION,
        "at": snap["now"],
        "target": snap["target"],
        "standard_24h": snap.get("standard_24h", 0.95),
        "short_abandon_seconds": snap.get("short_abandon_seconds", 0),
        **{k: c.get(k) for k in CENTRE_KEYS},
        "agents": dict(snap["agents"]),
        "ami_connected": bool(snap["ami_connected"]),
    }


def queue_payload(snap: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, "at": snap["now"], "queue": q["name"], **{k: q.get(k) for k in QUEUE_KEYS}}


def payloads(snap: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """topic -> payload for one snapshot (pure)."""
    out = {f"{prefix}/stats/centre": centre_payload(snap)}
    for q in snap["queues"]:
        out[f"{prefix}/stats/queues/{q['name']}"] = queue_payload(snap, q)
    return out


def _changed_part(payload: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in payload.items() if k != "at"}, sort_keys=True, ensure_ascii=False)


@dataclass
class MqttStatsCounters:
    connected: bool = False
    connects: int = 0
    published: int = 0
    errors: int = 0
    snapshot_errors: int = 0


class MqttStatsPublisher:
    def __init__(self, cfg: MqttConfig, snapshot: Callable[[], dict[str, Any]], *, throttle: float = 1.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, rng: random.Random | None = None,
                 client_id: str | None = None,
                 payloads_of: Callable[[dict[str, Any], str], dict[str, dict[str, Any]]] | None = None,
                 status: str = "stats/status") -> None:
        if throttle <= 0:
            raise ValueError("throttle must be positive")
        self.cfg = cfg
        self.snapshot = snapshot
        self.prefix = cfg.topic_prefix.rstrip("/")
        self.throttle = throttle
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.client_id = client_id
        self.counters = MqttStatsCounters()
        self._last: dict[str, str] = {}  # topic -> figures last published
        self._snapshot_failing = False
        # the same publisher carries other retained topics (incidents/mqtt.py): its topics, its status
        self.payloads_of = payloads_of or payloads
        self.status = status

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/{self.status}"

    def _client(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.cfg.host, self.cfg.port, username=self.cfg.username, password=broker_password(self.cfg),
            identifier=self.client_id, timeout=5.0, keepalive=15,
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
        )

    async def publish_changes(self, client: aiomqtt.Client) -> int:
        """Publish the topics whose figures changed since the last publish; returns how many."""
        sent = 0
        try:
            snap = self.payloads_of(self.snapshot(), self.prefix)
        except Exception:
            # A failing snapshot (a bug in the figures) must not end this task: in the daemon's TaskGroup
            # that would stop routing too. Counted, logged once per streak, tried again next tick.
            if not self._snapshot_failing:
                log.exception("MQTT stats: live snapshot failed; nothing published until it works again")
            self._snapshot_failing = True
            self.counters.snapshot_errors += 1
            return 0
        self._snapshot_failing = False
        for topic, payload in snap.items():
            figures = _changed_part(payload)
            if self._last.get(topic) == figures:
                continue
            body = json.dumps(payload, ensure_ascii=False).encode()
            await client.publish(topic, body, qos=1, retain=True)
            self._last[topic] = figures
            sent += 1
        self.counters.published += sent
        return sent

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        # Publishing only on change would not notice a dead connection on a quiet night: the message
        # iterator (nothing is subscribed) ends with MqttError when the connection drops.
        watch = asyncio.create_task(self._watch(client), name="mqtt-stats-watch")
        try:
            while True:
                await self.publish_changes(client)
                # asyncio.wait_for (inside aiomqtt's publish) may swallow a cancellation on 3.11.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
                done, _ = await asyncio.wait({watch}, timeout=self.throttle)
                if done:
                    watch.result()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await watch

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        async for _ in client.messages:
            pass
        raise aiomqtt.MqttError("message iteration ended")

    async def run(self) -> None:
        """Run until cancelled: connect, publish on change every `throttle` s, reconnect on loss."""
        failures = 0
        while True:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a cancellation aiomqtt's wait_for swallowed
                raise asyncio.CancelledError
            try:
                async with self._client() as client:
                    self.counters.connected = True
                    self.counters.connects += 1
                    failures = 0
                    self._last.clear()  # a new session republishes every topic
                    log.info("MQTT stats: connected to %s:%s", self.cfg.host, self.cfg.port)
                    await client.publish(self.status_topic, b"online", qos=1, retain=True)
                    try:
                        await self._publish_loop(client)
                    except asyncio.CancelledError:  # a clean stop: say so before the DISCONNECT
                        await say_offline(client, self.status_topic)
                        raise
            except aiomqtt.MqttError as exc:
                self.counters.connected = False
                self.counters.errors += 1
                failures += 1
                delay = min(self.backoff_max, self.backoff_initial * 2 ** min(failures - 1, 16))
                delay *= self.rng.uniform(0.5, 1.0)
                log.warning("MQTT stats: broker %s:%s unavailable (%s); retrying in %.1f s",
                            self.cfg.host, self.cfg.port, exc, delay)
                await asyncio.sleep(delay)
            finally:
                self.counters.connected = False
