"""Callbacks (预约回电) dialled for real.

A caller who chose a callback (the IVR's callback node, or a queue's ``callback`` fallback) is kept in the
`callbacks` table (records/callbacks.py) and put into the ACD as a queue entry with the original call's join
time (``CallQueued(callback=True)``): the engine decides when, in the caller's place, and answers with
``PlaceCallback`` when an agent is free. Then:

    PlaceCallback -> AMI Originate of the agent's endpoint into [cc-callback-dial] (the agent answers first)
    UserEvent CcCallbackAgent   (the agent answered)     -> OfferAnswered
    OriginateResponse Failure   (the agent did not)      -> OfferFailed: the engine tries another agent
    UserEvent CcCallbackResult  (Dial of the citizen through ``callbacks.trunk`` is over)
        ANSWER -> CallEnded, the row is 'answered' (by which agent, when)
        else   -> CallEnded; a retry after ``interval_seconds`` within ``hours``, or 'failed' after ``attempts``

Rows still open at a restart are put back in the queue at their place (a callback being dialled when the
daemon died is dialled again: a second call is better than none).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from asterisk.ami.codec import Message
from config.models.services import CallbacksConfig
from queueing import CallEnded, CallQueued, OfferAnswered, OfferFailed, PlaceCallback
from queueing.events import Event
from records.callbacks import Callback, CallbackStore

log = logging.getLogger("callcenter.callbacks")

Originate = Callable[[list[tuple[str, object]]], Awaitable[Any]]


@dataclass
class CallbackStats:
    requested: int = 0
    attempts: int = 0
    answered: int = 0
    failed: int = 0
    originate_failures: int = 0  # the agent's leg could not be placed or was not answered
    store_errors: int = 0


class CallbackDialer:
    def __init__(self, store: CallbackStore, cfg: CallbacksConfig, *, endpoints: dict[str, str],
                 feed: Callable[[Event], None], originate: Originate, now: Callable[[], datetime],
                 tz: str = "UTC", pbx_ready: Callable[[], bool] = lambda: True) -> None:
        """``pbx_ready``: AMI logged in and resynced; before that no callback is queued (its Originate
        would fail and count against the agent)."""
        self.store, self.cfg, self.endpoints, self.feed = store, cfg, endpoints, feed
        self.pbx_ready = pbx_ready
        self.originate, self.now, self.tz = originate, now, ZoneInfo(tz)
        self.stats = CallbackStats()
        #: open callbacks by engine id (cb-N); those with ``queued`` are in the engine now
        self.open: dict[str, Callback] = {}
        self.queued: set[str] = set()
        #: the agent leg being originated: endpoint (lower case) -> callback key
        self.dialling: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: dict[str, int] = {}
        self._done_at: tuple[datetime, datetime] | None = None

    # ------------------------------------------------------------------ requests
    def load(self) -> None:
        """At start: every open callback from the database (they are queued when due, by ``tick``)."""
        for cb in self.store.open():
            cb.state = "pending"
            self.open[cb.key] = cb

    def request(self, call_id: str, number: str, queue: str, entered_at: datetime) -> Callback | None:
        """A caller asked to be called back: kept, then queued at the call's place when it is time."""
        if not number or not number.isdigit():
            log.warning("call %s asked for a callback without a number to dial: dropped", call_id)
            return None
        cb = self.store.add(call_id, number, queue, self.now(), entered_at)
        self.stats.requested += 1
        self.open[cb.key] = cb
        log.info("callback %s requested by call %s in queue %s", cb.key, call_id, queue)
        self.tick()
        return cb

    def in_hours(self, at: datetime) -> bool:
        local = at.astimezone(self.tz).time()
        return time.fromisoformat(self.cfg.hours[0]) <= local < time.fromisoformat(self.cfg.hours[1])

    def tick(self) -> None:
        """Queue every open callback that is due and within the hours (run each second by ``run``)."""
        now = self.now()
        if not self.in_hours(now) or not self.pbx_ready():
            return
        for key, cb in sorted(self.open.items(), key=lambda kv: kv[1].entered_at):
            if key in self.queued or (cb.next_at is not None and cb.next_at > now):
                continue
            self.queued.add(key)
            self.feed(CallQueued(at=now, call_id=key, queue=cb.queue, caller=cb.number,
                                 entered_at=min(cb.entered_at, now), callback=True))

    async def run(self, interval: float = 1.0) -> None:
        while True:
            self.tick()
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ dialling
    def place(self, cmd: PlaceCallback) -> None:
        cb = self.open.get(cmd.call_id)
        endpoint = self.endpoints.get(cmd.agent_id)
        if cb is None or endpoint is None:
            return
        now = self.now()
        cb.state, cb.last_attempt_at = "dialling", now
        cb.agent_id = cmd.agent_id
        self._save(cb)
        self.dialling[endpoint.lower()] = cb.key
        log.info("callback %s: dialling agent %s first (attempt %d)", cb.key, cmd.agent_id, cb.attempts + 1)
        dial = self.cfg.trunk.replace("{number}", cb.number)
        fields: list[tuple[str, object]] = [
            ("Channel", endpoint), ("Context", self.cfg.context), ("Exten", "s"), ("Priority", "1"),
            ("Timeout", str(self.cfg.agent_ring_seconds * 1000)), ("CallerID", f'"回电" <{self.cfg.caller_id}>'),
            ("Async", "true"),
            ("Variable", f"CC_CALLBACK_ID={cb.key}"), ("Variable", f"CC_CALLBACK_AGENT={cmd.agent_id}"),
            ("Variable", f"CC_CALLBACK_DIAL={dial}"), ("Variable", f"CC_CALLBACK_RING={self.cfg.ring_seconds}"),
        ]
        task = asyncio.get_running_loop().create_task(self._originate(cb.key, cmd.agent_id, endpoint, fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate(self, key: str, agent: str, endpoint: str, fields: list[tuple[str, object]]) -> None:
        try:
            await self.originate(fields)
        except Exception as exc:  # AMI refused, timed out or is down: the engine offers the callback again
            log.warning("callback %s: Originate to agent %s failed: %s", key, agent, exc)
            self._agent_failed(endpoint.lower(), "failed")

    def _agent_failed(self, endpoint: str, reason: str) -> None:
        key = self.dialling.pop(endpoint, None)
        cb = self.open.get(key or "")
        if key is None or cb is None or cb.agent_id is None:
            return
        self.stats.originate_failures += 1
        agent, cb.agent_id, cb.state = cb.agent_id, None, "pending"
        self._save(cb)
        self.feed(OfferFailed(at=self.now(), call_id=key, agent_id=agent, reason=reason))

    # ------------------------------------------------------------------ what the PBX says
    def on_ami(self, msg: Message, at: datetime) -> None:
        if msg.name == "OriginateResponse" and msg.get("Response") == "Failure":
            self._agent_failed((msg.get("Channel") or "").lower(), "noanswer")
        elif msg.name == "UserEvent" and msg.get("UserEvent") == "CcCallbackAgent":
            self._agent_answered(msg.get("Callback") or "", at)
        elif msg.name == "UserEvent" and msg.get("UserEvent") == "CcCallbackResult":
            self._result(msg.get("Callback") or "", (msg.get("DialStatus") or "").upper(), msg.get("Talk") or "", at)

    def _agent_answered(self, key: str, at: datetime) -> None:
        cb = self.open.get(key)
        if cb is None or cb.agent_id is None:
            return
        self.dialling.pop(self.endpoints.get(cb.agent_id, "").lower(), None)
        self.stats.attempts += 1
        cb.attempts += 1
        self._save(cb)
        self.feed(OfferAnswered(at=at, call_id=key, agent_id=cb.agent_id))

    def _result(self, key: str, status: str, talk: str, at: datetime) -> None:
        cb = self.open.get(key)
        if cb is None:
            return
        cb.last_result = status or "FAILED"
        self.queued.discard(key)
        self.feed(CallEnded(at=at, call_id=key))
        if status == "ANSWER":
            seconds = float(talk) if talk.replace(".", "", 1).isdigit() else 0.0
            cb.state, cb.answered_at, cb.finished_at = "answered", at - timedelta(seconds=seconds), at
            self.stats.answered += 1
            log.info("callback %s answered, agent %s, attempt %d", key, cb.agent_id, cb.attempts)
        elif cb.attempts >= self.cfg.attempts:
            cb.state, cb.finished_at = "failed", at
            self.stats.failed += 1
            log.info("callback %s failed after %d attempts (%s)", key, cb.attempts, status)
        else:
            cb.state, cb.next_at = "pending", at + timedelta(seconds=self.cfg.interval_seconds)
            log.info("callback %s: %s, attempt %d of %d, next at %s", key, status, cb.attempts,
                     self.cfg.attempts, cb.next_at.isoformat(timespec="seconds"))
        if cb.state != "pending":
            del self.open[key]
            self._done_at = None  # the wallboard's counts change now
        self._save(cb)

    def _save(self, cb: Callback) -> None:
        try:
            self.store.save(cb)
        except Exception as exc:  # the database is away: the row catches up at the next change
            self.stats.store_errors += 1
            log.warning("callback %s not saved: %s", cb.key, type(exc).__name__)

    # ------------------------------------------------------------------ the wallboard and /metrics
    def counts(self, day_start: datetime) -> dict[str, int]:
        """pending (open), answered and failed since ``day_start`` (read at most every 5 s: the wallboard
        polls often)."""
        now = self.now()
        if self._done_at is None or now - self._done_at[0] > timedelta(seconds=5) or self._done_at[1] != day_start:
            try:
                self._done = self.store.finished_since(day_start.astimezone(UTC))
                self._done_at = (now, day_start)
            except Exception:
                self.stats.store_errors += 1
        return {"pending": len(self.open), "answered": self._done.get("answered", 0),
                "failed": self._done.get("failed", 0)}


class CallbackCollector:
    """/metrics: callbacks waiting to be dialled, and what the dialler did since the start."""

    def __init__(self, dialer: CallbackDialer) -> None:
        self.dialer = dialer

    def collect(self) -> Iterator[Metric]:
        s = self.dialer.stats
        yield GaugeMetricFamily("callcenter_callbacks_pending", "Callbacks still to dial (queued or waiting for a "
                                "retry)", value=len(self.dialer.open))
        counted = CounterMetricFamily("callcenter_callbacks", "Callbacks by what happened", labels=["result"])
        for name in ("requested", "attempts", "answered", "failed", "originate_failures", "store_errors"):
            counted.add_metric([name], getattr(s, name))
        yield counted
