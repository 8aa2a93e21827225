"""Screen-pops: the caller on the agent's screen the moment the agent's phone rings.

Topics (``<prefix>`` is ``mqtt.topic_prefix``, default ``callcenter``; see docs/mqtt.md):

    <prefix>/agents/<id>/offer   QoS 1, not retained  a call rings at the agent    screenpop-offer.json
    <prefix>/agents/<id>/state   QoS 1, retained      the agent's state, each change screenpop-state.json
    <prefix>/agents/status       retained "online"/"offline" ("offline" at a clean stop; the will otherwise)

The same payloads go to the agent desktop over SSE through :class:`AgentHub` (in process, no broker
round trip), so the web page works with the default Mosquitto config (no MQTT over WebSocket).

The daemon calls :meth:`ScreenPop.ringing` from its AMI fact handler (synchronous, never blocks): the
job is queued, a worker looks the caller's history up in one indexed query (in a thread), then the pop
goes to the hub and to the MQTT outbox. The MQTT publisher reconnects with a random growing delay; pops
made while the broker is away are dropped (a stale pop is worse than none) and counted; the retained
states are republished on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiomqtt

from callcenter import privacy
from callcenter.mqtt_stats import broker_password, say_offline
from config.models import MqttConfig

log = logging.getLogger("callcenter.screenpop")

SCHEMA_VERSION = 1
HISTORY_CALLS = 5
TICKETS_RETRY_SECONDS = 60.0
POP_WORKERS = 4
# Publishes in flight at once: QoS 1 waits for the broker's PUBACK, so one at a time would cap the rate
# at one round trip per message. Wire order is still the order taken from the outbox (paho writes the
# PUBLISH when publish() is called), so an agent's states arrive in order.
MQTT_IN_FLIGHT = 16
OUTBOX_MAX = 10_000
SUBSCRIBER_QUEUE_MAX = 100

History = dict[str, Any]
HistorySource = Callable[[str], History]


# ------------------------------------------------------------------ payloads (pure)


@dataclass(frozen=True)
class RingingCall:
    """What the daemon knows of a call when the agent's phone starts ringing."""

    call_id: str
    agent_id: str
    caller_number: str
    caller_name: str
    ivr_path: str
    language: str
    queue: str | None
    queue_label: str
    queued_at: datetime | None
    rang_at: datetime
    offers: int = 1
    ivr_words: tuple[str, ...] = ()  # the caller's IVR choices in words (callcenter/ivr_words.py)


def ivr_choices(path: str) -> list[dict[str, str]]:
    """The menu answers in an IVR path: 'welcome>main:2>to-complaints' -> [{menu: main, digits: 2}]."""
    out = []
    for step in path.split(">") if path else []:
        node, sep, digits = step.partition(":")
        if sep:
            out.append({"menu": node, "digits": digits})
    return out


#: what Asterisk puts where the caller's name is not known: the pop shows no name then, not these
NO_NAME = frozenset({"<unknown>", "unknown", "anonymous", "<anonymous>"})


def caller_name(name: str) -> str:
    return "" if name.strip().lower() in NO_NAME else name.strip()


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="milliseconds") if at is not None else None


def offer_payload(call: RingingCall, history: History, *, published_at: float | None = None) -> dict[str, Any]:
    waited = (call.rang_at - call.queued_at).total_seconds() if call.queued_at is not None else 0.0
    return {
        "version": SCHEMA_VERSION,
        "type": "offer",
        "call_id": call.call_id,
        "agent_id": call.agent_id,
        "caller_number": call.caller_number,
        "caller_name": caller_name(call.caller_name),
        "ivr_path": call.ivr_path,
        "ivr_choices": ivr_choices(call.ivr_path),
        "ivr_words": list(call.ivr_words),
        "queue": call.queue,
        "queue_label": call.queue_label,
        "waited_seconds": round(max(0.0, waited), 1),
        "language": call.language,
        "offers": call.offers,
        "rang_at": iso(call.rang_at),
        "published_at": published_at if published_at is not None else time.time(),
        "history": {
            "last_calls": list(history.get("last_calls", [])),
            "open_tickets": list(history.get("open_tickets", [])),
            "source": history.get("source", "call_records"),
        },
    }


def state_payload(agent_id: str, state: str, reason: str, at: datetime, *, by: str = "system",
                  call_id: str | None = None, wrapup_seconds: int | None = None) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "type": "state",
        "agent_id": agent_id,
        "state": state,
        "reason": reason,
        "by": by,
        "since": iso(at),
        "call_id": call_id,
        "wrapup_seconds": wrapup_seconds,
    }


def history_from_records(records: list[Any]) -> History:
    """The caller's last calls as the pop shows them (from `Store.caller_history`)."""
    return {
        "last_calls": [
            {"call_id": r.call_id, "ended_at": iso(r.ended_at), "queue": r.queue, "agent_id": r.agent_id,
             "outcome": getattr(r.outcome, "value", str(r.outcome)), "talk_seconds": r.talk_seconds}
            for r in records
        ],
        "open_tickets": [],
        "source": "call_records",
    }


def store_history_source(store: Any, limit: int = HISTORY_CALLS) -> HistorySource:
    """Open tickets and last calls in one indexed query from `tickets.history.caller_history` (the
    tickets package); where it is missing or its tables are not there, the call-record store's
    `caller_history` (last calls only)."""
    import importlib

    try:
        tickets_history: Any = importlib.import_module("tickets.history")
        tickets_access: Any = importlib.import_module("tickets.access")
    except ImportError:
        tickets_history = tickets_access = None
    fallback_logged = False
    retry_tickets_at = 0.0  # monotonic; while the tickets tables are missing, ask only now and then

    def from_store(number: str) -> History:
        return history_from_records(store.caller_history(number, limit=limit))

    if tickets_history is None:
        return from_store

    def from_tickets(number: str) -> History:
        nonlocal fallback_logged, retry_tickets_at
        if time.monotonic() < retry_tickets_at:
            return from_store(number)
        # The pop is for an agent: confidential tickets follow the agent role's access policy.
        viewer = tickets_access.Viewer(tickets_access.Role.AGENT)
        try:
            result = tickets_history.caller_history(store, number, viewer=viewer, calls=limit, tickets=limit)
        except Exception as exc:  # e.g. no tickets table in this database yet
            if not fallback_logged:
                log.warning("ticket history unavailable (%s); screen-pops show last calls only", type(exc).__name__)
                fallback_logged = True
            retry_tickets_at = time.monotonic() + TICKETS_RETRY_SECONDS
            return from_store(number)
        data = result.to_dict()
        return {"last_calls": data.get("calls", []), "open_tickets": data.get("open_tickets", []),
                "source": "tickets"}

    return from_tickets


# ------------------------------------------------------------------ in-process fan-out (desktop SSE)


@dataclass(eq=False)  # hashed by identity: one per open page
class Subscription:
    agent_id: str
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE_MAX))
    dropped: int = 0


class AgentHub:
    """Per-agent subscribers (open desktop pages). Keeps each agent's last state and ringing offer so
    that a page that opens (or reconnects) mid-ring shows it at once."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self.last_state: dict[str, dict[str, Any]] = {}
        self.current_offer: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def subscribe(self, agent_id: str) -> Iterator[Subscription]:
        sub = Subscription(agent_id)
        self._subs.setdefault(agent_id, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subs.get(agent_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[agent_id]

    def publish(self, agent_id: str, kind: str, payload: dict[str, Any]) -> None:
        if kind == "state":
            self.last_state[agent_id] = payload
            if payload["state"] not in ("reserved", "on_call"):
                self.current_offer.pop(agent_id, None)
        elif kind == "offer":
            self.current_offer[agent_id] = payload
        for sub in self._subs.get(agent_id, ()):
            try:
                sub.queue.put_nowait((kind, payload))
            except asyncio.QueueFull:
                sub.dropped += 1  # a stuck page loses messages, the daemon does not wait for it

    def subscribers(self, agent_id: str) -> int:
        return len(self._subs.get(agent_id, ()))


# ------------------------------------------------------------------ the service


@dataclass
class ScreenPopCounters:
    offers: int = 0
    states: int = 0
    published: int = 0
    dropped_offline: int = 0
    history_errors: int = 0
    connects: int = 0
    connected: bool = False


class ScreenPop:
    def __init__(self, mqtt: MqttConfig | None, history: HistorySource, *, hub: AgentHub | None = None,
                 client_id: str | None = None, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.mqtt = mqtt
        self.history = history
        self.hub = hub or AgentHub()
        self.client_id = client_id
        self.prefix = (mqtt.topic_prefix if mqtt else "callcenter").rstrip("/")
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.counters = ScreenPopCounters()
        self._jobs: asyncio.Queue[RingingCall] = asyncio.Queue()
        self._outbox: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue(OUTBOX_MAX)
        self._retained: dict[str, bytes] = {}  # state topic -> last payload, republished on reconnect

    def topic(self, agent_id: str, kind: str) -> str:
        return f"{self.prefix}/agents/{agent_id}/{kind}"

    # -- called from the daemon's event-loop thread; never blocks
    def ringing(self, call: RingingCall) -> None:
        self._jobs.put_nowait(call)

    def agent_state(self, agent_id: str, state: str, reason: str, at: datetime, *, by: str = "system",
                    call_id: str | None = None, wrapup_seconds: int | None = None) -> None:
        payload = state_payload(agent_id, state, reason, at, by=by, call_id=call_id, wrapup_seconds=wrapup_seconds)
        self.counters.states += 1
        self.hub.publish(agent_id, "state", payload)
        topic = self.topic(agent_id, "state")
        body = _encode(payload)
        self._retained[topic] = body
        self._send(topic, body, retain=True)

    def _send(self, topic: str, body: bytes, *, retain: bool) -> None:
        if self.mqtt is None:
            return
        if not self.counters.connected:
            # Offline: a stale pop is worse than none; states are republished on reconnect.
            if not retain:
                self.counters.dropped_offline += 1
            return
        try:
            self._outbox.put_nowait((topic, body, retain))
        except asyncio.QueueFull:
            self.counters.dropped_offline += 1

    async def _pop(self, call: RingingCall) -> dict[str, Any]:
        try:
            history = await asyncio.to_thread(self.history, call.caller_number)
        except Exception:
            # The pop still goes out without history: the agent must see the caller.
            self.counters.history_errors += 1
            log.exception("caller history look-up failed for call %s", call.call_id)
            history = {"last_calls": [], "open_tickets": [], "source": "unavailable"}
        payload = offer_payload(call, history)
        self.counters.offers += 1
        self.hub.publish(call.agent_id, "offer", payload)  # the desk's SSE masks it (callcenter/privacy.py)
        self._send(self.topic(call.agent_id, "offer"), _encode(privacy.screen_pop_for_own_agent(payload)),
                   retain=False)
        return payload

    async def _pop_worker(self) -> None:
        while True:
            call = await self._jobs.get()
            await self._pop(call)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for i in range(POP_WORKERS):
                tg.create_task(self._pop_worker(), name=f"screenpop-{i}")
            if self.mqtt is not None:
                tg.create_task(self._publisher(), name="screenpop-mqtt")

    def _client(self) -> aiomqtt.Client:
        assert self.mqtt is not None
        return aiomqtt.Client(
            self.mqtt.host, self.mqtt.port, username=self.mqtt.username, password=broker_password(self.mqtt),
            identifier=self.client_id, timeout=5.0, keepalive=15,
            will=aiomqtt.Will(f"{self.prefix}/agents/status", b"offline", qos=1, retain=True),
        )

    async def _publisher(self) -> None:
        assert self.mqtt is not None
        failures = 0
        while True:
            _reraise_swallowed_cancel()
            try:
                async with self._client() as client:
                    self.counters.connected = True
                    self.counters.connects += 1
                    failures = 0
                    log.info("screen-pops: MQTT connected to %s:%s", self.mqtt.host, self.mqtt.port)
                    await client.publish(f"{self.prefix}/agents/status", b"online", qos=1, retain=True)
                    for topic, body in list(self._retained.items()):
                        await client.publish(topic, body, qos=1, retain=True)
                    _reraise_swallowed_cancel()  # a stop that landed in those publishes would else hang here
                    try:
                        await self._drain_all(client)
                    except asyncio.CancelledError:  # a clean stop: say so before the DISCONNECT
                        await say_offline(client, f"{self.prefix}/agents/status")
                        raise
            except* aiomqtt.MqttError as group:
                exc = group.exceptions[0]
                self.counters.connected = False
                failures += 1
                delay = min(self.backoff_max, self.backoff_initial * 2 ** min(failures - 1, 16))
                delay *= self.rng.uniform(0.5, 1.0)
                # The error text names host and reason only; the password is never in it.
                log.warning("screen-pops: MQTT broker %s:%s unavailable (%s); retrying in %.1f s",
                            self.mqtt.host, self.mqtt.port, type(exc).__name__, delay)
                await asyncio.sleep(delay)
            finally:
                self.counters.connected = False

    async def _drain_all(self, client: aiomqtt.Client) -> None:
        """Run the drains until one fails; raise its error. Not a TaskGroup: on Python 3.11 a failing
        child's cancel request to this task can outlive the group (cancelling() stays 1), and the next
        reconnect's first await would then end the publisher for good (tests/test_fault_mqtt.py)."""
        drains = [asyncio.create_task(self._drain(client), name=f"screenpop-mqtt-{i}") for i in range(MQTT_IN_FLIGHT)]
        try:
            done, _ = await asyncio.wait(drains, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for t in drains:
                t.cancel()
            await asyncio.gather(*drains, return_exceptions=True)
        for t in done:
            exc = None if t.cancelled() else t.exception()
            if exc is not None:
                raise exc

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            topic, body, retain = await self._outbox.get()
            await client.publish(topic, body, qos=1, retain=retain)
            self.counters.published += 1
            _reraise_swallowed_cancel()


def _reraise_swallowed_cancel() -> None:
    """aiomqtt's publish() awaits asyncio.wait_for, which on Python 3.11 can swallow a cancellation
    that lands while it completes; without this check a stopping daemon would hang on this task."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
