"""The daemon: one place wires the adapters to the pure core and runs them in one TaskGroup.

    AMI (asterisk/ami) --facts--> ledger + ACD engine --commands--> AMI actions / timers / stats
    FastAGI (asterisk/agi) --IVR result--> ledger
    ledger --record at hang-up--> store writer (batched, spooled) + live stats --> web, /metrics

Everything here runs on the event loop's thread; the core objects are touched only from it, so
they need no locks. Blocking work (the database) happens in the writer's worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from asterisk.agi.server import AgiServer, AgiSession
from asterisk.ami.client import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout
from asterisk.ami.codec import Message
from asterisk.ami.tracker import (
    AgentAnswered,
    AgentDialed,
    CallerHeld,
    CallFact,
    CallHungUp,
    CallStarted,
    CallTracker,
    RouteResult,
)
from callcenter.clock import Clock
from callcenter.engine_config import engine_config_from
from callcenter.ledger import CallLedger
from callcenter.timers import TimerService
from config.models import Config
from ivr.over_agi import run_ivr_over_agi
from metrics.kpi import day_bounds
from metrics.live import LiveStats
from metrics.prom import register as register_collectors
from queueing import (
    AgentLoggedIn,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallLeft,
    CallQueued,
    CancelTimer,
    Engine,
    EngineError,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    StartTimer,
    TimerFired,
)
from tickets.records import CallRecordData, RecordError
from tickets.store import RecordWriter, Store, mask_url

log = logging.getLogger("callcenter.daemon")

# Asterisk DIALSTATUS -> the engine's reason for a failed offer.
DIAL_FAILURES = {"NOANSWER": "noanswer", "BUSY": "busy", "CONGESTION": "congestion", "CHANUNAVAIL": "failed"}
AMI_WORKERS = 4
# With centre.auto_ready_agents, an agent put in not-ready by a missed or refused ring is made ready
# again after this many (simulated) seconds.
AUTO_READY = "daemon:auto-ready"
AUTO_READY_AFTER = 20.0
AUTO_READY_REASONS = frozenset({"missed", "busy", "unreachable"})


@dataclass
class DaemonStats:
    ami_events: int = 0
    facts: int = 0
    engine_errors: int = 0
    offers_sent: int = 0
    offer_action_failures: int = 0
    ivr_sessions: int = 0
    records: int = 0
    record_errors: int = 0


class Daemon:
    def __init__(self, cfg: Config, *, clock: Clock | None = None, spool_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.clock = clock or Clock()
        self.stats = DaemonStats()
        self.tracker = CallTracker()
        self.ledger = CallLedger()
        self.engine = Engine(engine_config_from(cfg))
        self.endpoints = {str(a.id): a.endpoint for a in cfg.agents}
        self.menu = cfg.ivr_menu()
        self.store = Store(cfg.database.url)
        spool = Path(spool_dir or ".") / "callcenter-spool.jsonl"
        self.writer = RecordWriter(self.store, spool)
        self.live = LiveStats(
            target=cfg.centre.connection_rate_target,
            tz=cfg.centre.timezone,
            queues=[(q.name, q.label(cfg.centre.language)) for q in cfg.queues],
        )
        self.registry = CollectorRegistry()
        register_collectors(self.registry, self.live, self.writer, clock=self.clock.now)
        self.timers = TimerService(self.clock, self._timer_fired)
        self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            cfg.ami.secret.get_secret_value(),
            on_event=self._on_ami_event,
            action_timeout=cfg.ami.action_timeout,
            ping_interval=cfg.ami.ping_interval,
        )
        self.agi = AgiServer(cfg.agi.host, cfg.agi.port, self._agi_session)
        self._offers: asyncio.Queue[OfferCall] = asyncio.Queue()
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.web_port: int | None = None
        self._fact_handlers: dict[type[CallFact], Callable[[Any], None]] = {
            CallStarted: self._call_started,
            CallerHeld: self._caller_held,
            AgentDialed: self._agent_dialed,
            AgentAnswered: self._agent_answered,
            RouteResult: self._route_result,
            CallHungUp: self._call_hung_up,
        }

    # ------------------------------------------------------------------ lifecycle
    @property
    def agi_port(self) -> int:
        return self.agi.port

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        from callcenter.web import create_app
        from callcenter.web import serve as serve_web

        log.info("store: %s", mask_url(self.cfg.database.url))
        await asyncio.to_thread(self._load_today)
        self._login_agents()
        app = create_app(
            snapshot=self.snapshot,
            metrics_text=self.metrics_text,
            language=self.cfg.centre.language,
            centre_name=self.cfg.centre.name,
        )
        web_started = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            intake = [
                tg.create_task(self.ami.run(), name="ami"),
                tg.create_task(self.agi.serve(), name="fastagi"),
            ]
            tasks = [
                tg.create_task(self.timers.run(), name="timers"),
                tg.create_task(self.writer.run(), name="store-writer"),
                tg.create_task(
                    serve_web(app, self.cfg.web.host, self.cfg.web.port, started=web_started), name="web"
                ),
            ]
            tasks += [tg.create_task(self._offer_worker(), name=f"ami-offers-{i}") for i in range(AMI_WORKERS)]
            await self.agi.wait_listening()
            await web_started.wait()
            self.web_port = getattr(app.state, "bound_port", None) or self.cfg.web.port
            self.ready.set()
            log.info("daemon ready: FastAGI on %s:%s, web on %s:%s", self.cfg.agi.host, self.agi_port,
                     self.cfg.web.host, self.web_port)
            await self._stop.wait()
            # Stop taking events, then drain the records before anything else goes: nothing is lost
            # on a clean stop. Calls still in progress go on in Asterisk; a restart picks them up.
            for t in intake:
                t.cancel()
            await asyncio.wait(intake)
            await self.writer.close()
            for t in tasks:
                t.cancel()
        self.store.close()

    def _load_today(self) -> None:
        """Live figures start from the store, so a restart changes no figure (today and the last 24 h)."""
        now = self.clock.now()
        since = min(day_bounds(now, self.cfg.centre.timezone)[0], now - timedelta(hours=24))
        self.live.add_records(self.store.records(since))
        # Calls recorded while the database was away are in the spool, not yet in the store.
        self.live.add_records(r for r in self.writer.spooled_records() if r.ended_at >= since)

    def _login_agents(self) -> None:
        if not self.cfg.centre.auto_ready_agents:
            return
        now = self.clock.now()
        for a in self.cfg.agents:
            self._engine(AgentLoggedIn(at=now, agent_id=str(a.id)))
            self._engine(AgentReady(at=now, agent_id=str(a.id)))

    # ------------------------------------------------------------------ read side
    def snapshot(self) -> dict[str, Any]:
        self.live.set_ami_connected(self.ami.stats.connected)
        return self.live.snapshot(self.clock.now())

    def metrics_text(self) -> tuple[bytes, str]:
        self.live.set_ami_connected(self.ami.stats.connected)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------------ AMI in
    def _on_ami_event(self, msg: Message, _received: float) -> None:
        self.stats.ami_events += 1
        at = self.clock.now()
        for fact in self.tracker.feed(msg, at):
            handler = self._fact_handlers.get(type(fact))
            if handler is not None:
                self.stats.facts += 1
                handler(fact)

    def _call_started(self, f: CallStarted) -> None:
        self.ledger.started(
            f.uniqueid, f.at, linkedid=f.linkedid, channel=f.channel, number=f.caller_number, name=f.caller_name
        )

    def _caller_held(self, f: CallerHeld) -> None:
        entry = self.ledger.entry(f.uniqueid, f.at)
        if not entry.channel:
            entry.channel = f.channel
        if entry.queue is None:
            # No IVR result (the AGI failed but the dialplan held the caller anyway): never strand
            # the caller; the first queue is the centre's general line.
            entry.queue = self.cfg.queues[0].name
        if self.ledger.held(f.uniqueid, f.at):
            assert entry.queued_at is not None and entry.queue is not None
            self.live.set_waiting(entry.queue, f.uniqueid, entry.queued_at)
            self._engine(CallQueued(at=f.at, call_id=f.uniqueid, queue=entry.queue, caller=entry.caller_number,
                                    priority=entry.priority, skills=entry.skills))

    def _agent_dialed(self, f: AgentDialed) -> None:
        self.ledger.dialed(f.uniqueid, f.at)

    def _agent_answered(self, f: AgentAnswered) -> None:
        entry = self.ledger.answered(f.uniqueid, f.at)
        if entry is None or entry.agent_id is None:
            return
        self.live.clear_waiting(f.uniqueid)
        self._engine(OfferAnswered(at=f.at, call_id=f.uniqueid, agent_id=entry.agent_id))

    def _route_result(self, f: RouteResult) -> None:
        status = f.dial_status.upper()
        if status == "ANSWER":
            if self.ledger.talk_ended(f.uniqueid, f.at):
                self._engine(CallEnded(at=f.at, call_id=f.uniqueid))
            return
        entry = self.ledger.calls.get(f.uniqueid)
        if entry is None or entry.offer_agent is None:
            return
        agent = entry.offer_agent
        self.ledger.offer_failed(f.uniqueid)
        reason = DIAL_FAILURES.get(status)
        if reason is None:  # CANCEL: the caller hung up while ringing; the Hangup closes the call
            return
        self._engine(OfferFailed(at=f.at, call_id=f.uniqueid, agent_id=agent, reason=reason))

    def _call_hung_up(self, f: CallHungUp) -> None:
        entry = self.ledger.calls.get(f.uniqueid)
        if entry is None:
            return
        if entry.answered_at is not None:
            if self.ledger.talk_ended(f.uniqueid, f.at):
                self._engine(CallEnded(at=f.at, call_id=f.uniqueid))
        elif entry.queued_at is not None:
            self._engine(CallLeft(at=f.at, call_id=f.uniqueid))
        self.live.clear_waiting(f.uniqueid)
        try:
            record = self.ledger.hung_up(f.uniqueid, f.at, f.cause)
        except RecordError as exc:
            # The facts contradict each other (a bug, or events lost in a reconnect): the call still
            # counts, so the record is kept as 'failed' with what is certain, and the fault is counted.
            self.stats.record_errors += 1
            log.error("call %s: inconsistent record (%s); kept as failed", f.uniqueid, exc)
            record = self.ledger.failed_record(f.uniqueid, f.at, f.cause)
        if record is not None:
            self._record(record)

    def _record(self, record: CallRecordData) -> None:
        self.stats.records += 1
        self.writer.submit(record)
        self.live.add_record(record)

    # ------------------------------------------------------------------ the core
    def _engine(self, event: Any) -> None:
        try:
            commands = self.engine.handle(event)
        except (EngineError, IllegalTransition) as exc:
            # A fact the engine cannot accept (a late event for a call it already closed) is counted
            # and dropped; it must never take the daemon down.
            self.stats.engine_errors += 1
            log.warning("engine refused %s: %s", type(event).__name__, exc)
            return
        for cmd in commands:
            self._execute(cmd)

    def _execute(self, cmd: Any) -> None:
        if isinstance(cmd, OfferCall):
            self.ledger.offered(cmd.call_id, cmd.agent_id, cmd.at)
            self._offers.put_nowait(cmd)
        elif isinstance(cmd, StartTimer):
            self.timers.start(cmd.key, cmd.due)
        elif isinstance(cmd, CancelTimer):
            self.timers.cancel(cmd.key)
        elif isinstance(cmd, AgentStateChanged):
            self.live.set_agent_state(cmd.agent_id, _state_name(cmd.new))
            log.debug("agent %s: %s -> %s (%s)", cmd.agent_id, cmd.old, cmd.new, cmd.reason)
            if (self.cfg.centre.auto_ready_agents and cmd.new is AgentState.NOT_READY
                    and cmd.reason in AUTO_READY_REASONS):
                # Nobody sits at a desktop to press "ready" again after a missed ring: stand in for
                # the agent after a pause, as a real one would.
                self.timers.start((AUTO_READY, cmd.agent_id), cmd.at + timedelta(seconds=AUTO_READY_AFTER))

    def _timer_fired(self, key: Hashable, at: datetime) -> None:
        if isinstance(key, tuple) and key and key[0] == AUTO_READY:
            if self.engine.agent_state(key[1])[0] is AgentState.NOT_READY:
                self._engine(AgentReady(at=at, agent_id=key[1]))
            return
        self._engine(TimerFired(at=at, key=key))  # type: ignore[arg-type]  # the engine's own tuple keys

    # ------------------------------------------------------------------ AMI out
    async def _offer_worker(self) -> None:
        while True:
            offer = await self._offers.get()
            try:
                await self._send_offer(offer)
            except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
                self.stats.offer_action_failures += 1
                log.warning("offer of %s to agent %s failed: %s", offer.call_id, offer.agent_id, exc)
                entry = self.ledger.calls.get(offer.call_id)
                if entry is not None and entry.offer_agent == offer.agent_id:
                    self.ledger.offer_failed(offer.call_id)
                    self._engine(
                        OfferFailed(at=self.clock.now(), call_id=offer.call_id, agent_id=offer.agent_id,
                                    reason="failed")
                    )

    async def _send_offer(self, offer: OfferCall) -> None:
        entry = self.ledger.calls.get(offer.call_id)
        if entry is None:
            return
        self.stats.offers_sent += 1
        await self.ami.action(
            "Setvar",
            {"Channel": entry.channel, "Variable": "CC_AGENT_ENDPOINT", "Value": self.endpoints[offer.agent_id]},
        )
        await self.ami.action(
            "Redirect", {"Channel": entry.channel, "Context": "cc-route", "Exten": offer.agent_id, "Priority": 1}
        )

    # ------------------------------------------------------------------ FastAGI in
    async def _agi_session(self, session: AgiSession) -> None:
        self.stats.ivr_sessions += 1
        call_id = session.env.get("agi_uniqueid", "")
        script = session.env.get("agi_network_script", "ivr")
        if script.endswith("survey"):
            await session.verbose("call-center survey: not configured yet", 3)
            return
        result = await run_ivr_over_agi(session, self.menu, self.cfg.centre.language, clock=self.clock.now)
        if call_id:
            language = str(result.data.language or self.cfg.centre.language)
            self.ledger.ivr_finished(call_id, self.clock.now(), path=result.path, queue=result.queue,
                                     language=language, priority=result.data.priority,
                                     skills=tuple(sorted(dict(result.data.skills).items())))


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state))



async def run_daemon(config_path: str) -> int:
    from config.loader import ConfigError, load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        print(exc)
        return 2
    daemon = Daemon(cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, daemon.stop)
    await daemon.run()
    return 0
