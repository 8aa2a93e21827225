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
import hashlib
import logging
import signal
import ssl
from collections.abc import Callable, Hashable, Iterable
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
    CallerFellBack,
    CallerHeld,
    CallFact,
    CallHungUp,
    CallStarted,
    CallTracker,
    RouteResult,
)
from callcenter.cdr_import import Fate
from callcenter.clock import Clock
from callcenter.engine_config import engine_config_from, shift_rules_from
from callcenter.ledger import CallEntry, CallLedger
from callcenter.resync import LiveChannel, OpenCallJournal, ResyncCollector, Resyncer
from callcenter.timers import TimerService
from config.models import Config
from ivr.service import IvrService
from metrics.agentlog import AgentLog, AgentLogWriter
from metrics.agents import AgentTimeline
from metrics.kpi import day_bounds
from metrics.live import LiveStats
from metrics.prom import register as register_collectors
from queueing import (
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallLeft,
    CallMoved,
    CallOutcome,
    CallQueued,
    CancelTimer,
    Engine,
    EngineError,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    PlaceCallback,
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
# With centre.auto_ready_agents and shifts, one timer per agent at the next moment of their roster
# (ready grace before a shift, a break's start or end): the daemon stands in for the agent there.
SHIFT_TIMER = "daemon:shift"
# The ACD gave the caller up (a queue's fallback): the dialplan context that takes them.
FALLBACK_CONTEXTS = {"fallback_voicemail": "cc-voicemail", "fallback_callback": "cc-callback",
                     "overflowed": "cc-fallback"}


@dataclass(frozen=True, slots=True)
class RedirectCaller:
    """Send a waiting caller to a dialplan context (AMI Redirect, exten s, priority 1)."""

    call_id: str
    context: str


#: AMI events of a completed transfer (the caller goes on without the agent); see asterisk/sim/transfer.py
TRANSFER_EVENTS = frozenset({"BlindTransfer", "AttendedTransfer"})


@dataclass
class DaemonStats:
    ami_events: int = 0
    facts: int = 0
    engine_errors: int = 0
    offers_sent: int = 0
    offer_action_failures: int = 0
    ivr_sessions: int = 0
    records: int = 0
    fallbacks: int = 0
    fallback_action_failures: int = 0
    callbacks_requested: int = 0  # PlaceCallback: not dialled out yet (virtual hold arrives later)
    record_errors: int = 0


class Daemon:
    def __init__(self, cfg: Config, *, clock: Clock | None = None, spool_dir: str | Path | None = None,
                 manual_agents: Iterable[str] = ()) -> None:
        self.cfg = cfg
        #: agents under the desktop's control only: never logged in or made ready by the daemon
        self.manual_agents = set(manual_agents)
        self.clock = clock or Clock()
        self.stats = DaemonStats()
        self.tracker = CallTracker()
        self.ledger = CallLedger()
        self.shift_rules = shift_rules_from(cfg)
        self.engine = Engine(engine_config_from(cfg), shifts=self.shift_rules)
        self.endpoints = {str(a.id): a.endpoint for a in cfg.agents}
        self.ivr = IvrService(cfg, spool_dir or ".", self.clock.now)
        self.menu = self.ivr.current().menu
        self.store = Store(cfg.database.url)
        # The spool and the open-call journal hold records bound for one database: their names carry a
        # digest of its URL, so a daemon pointed at another database never replays them into it.
        db_key = hashlib.sha256(cfg.database.url.encode()).hexdigest()[:12]
        spool = Path(spool_dir or ".") / f"callcenter-spool-{db_key}.jsonl"
        self.writer = RecordWriter(self.store, spool)
        self.tickets, self.ticket_timers = self._tickets(cfg)
        from tickets.survey import SurveyRecorder

        #: after-call and follow-up survey answers onto their tickets (tickets/survey.py), off the AGI session
        self.surveys = SurveyRecorder(self.tickets)
        self.sms_replies: Any = None  # SMS follow-up replies (callcenter/web/twilio.py), with tickets.twilio
        self.live = LiveStats(
            target=cfg.centre.connection_rate_target,
            tz=cfg.centre.timezone,
            queues=[(q.name, q.label(cfg.centre.language)) for q in cfg.queues],
            short_abandon_seconds=cfg.centre.short_abandon_seconds,
            sl_seconds=cfg.centre.service_level_seconds,
            agent_queues={str(a.id): a.queues for a in cfg.agents},
        )
        # Agent state intervals (after-call work, occupancy, not-ready reasons), beside the records.
        self.agent_log = AgentLog(self.store.engine)
        self.agent_log_writer = AgentLogWriter(self.agent_log)
        self.agent_timeline = AgentTimeline()
        self.registry = CollectorRegistry()
        collector = register_collectors(self.registry, self.live, self.writer, clock=self.clock.now)
        self.timers = TimerService(self.clock, self._timer_fired)
        self.queue_names = {q.name for q in cfg.queues}
        self.resync = Resyncer(self)
        self.journal = OpenCallJournal(Path(spool_dir or ".") / f"callcenter-open-{db_key}.jsonl")
        #: the AMI login generation each offer was sent in (the resync leaves in-flight ones alone)
        self.offer_generation: dict[str, int] = {}
        self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            cfg.ami.secret.get_secret_value(),
            on_event=self._on_ami_event,
            action_timeout=cfg.ami.action_timeout,
            ping_interval=cfg.ami.ping_interval,
            on_login=self.resync.run,
            ssl_context=ami_ssl_context(cfg),
            max_message=cfg.ami.max_message,
        )
        self.registry.register(ResyncCollector(self.resync.stats, self.ami.stats, self.tracker))
        collector.ami = self.ami.stats
        self.agi = AgiServer(cfg.agi.host, cfg.agi.port, self._agi_session)
        self._init_desk(Path(spool_dir or "."))
        from incidents.desk import IncidentDesk  # incidents: surge detection and announcements

        self.incidents = IncidentDesk(cfg, self.store, self.ivr, self.clock.now, self.registry,  # incidents
                                      tickets=self.tickets)  # incidents
        self.mqtt_stats: Any = None
        if cfg.mqtt is not None:
            from callcenter.mqtt_stats import MqttStatsPublisher

            self.mqtt_stats = MqttStatsPublisher(cfg.mqtt, self.snapshot)
        self._offers: asyncio.Queue[OfferCall | RedirectCaller] = asyncio.Queue()
        #: optional latency recorder (bench/e2e.py): ``offered(call_id)`` when the engine picks an agent,
        #: ``sent(call_id)`` just before the connect action (the Redirect) is written
        self.offer_timer: Any = None
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.web_port: int | None = None
        self._fact_handlers: dict[type[CallFact], Callable[[Any], None]] = {
            CallStarted: self._call_started,
            CallerHeld: self._caller_held,
            CallerFellBack: self._caller_fell_back,
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
        for record in await asyncio.to_thread(self.resync.restore, self.journal, self._in_store):
            self.writer.submit(record)  # closed before a crash, never flushed: the store drops a repeat
        self._login_agents()
        app = create_app(
            snapshot=self.snapshot,
            metrics_text=self.metrics_text,
            language=self.cfg.centre.language,
            centre_name=self.cfg.centre.name,
            **self._web_extensions(),
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
            tasks.append(tg.create_task(self.agent_log_writer.run(), name="agent-log"))
            tasks.append(tg.create_task(self.screenpop.run(), name="screenpop"))
            tasks.append(tg.create_task(self.ticket_timers.run(), name="ticket-timers"))
            tasks.append(tg.create_task(self.surveys.run(), name="ticket-surveys"))
            if self.mqtt_stats is not None:
                tasks.append(tg.create_task(self.mqtt_stats.run(), name="mqtt-stats"))
            tasks.append(tg.create_task(self.incidents.run(), name="incidents"))  # incidents
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
            with contextlib.suppress(TimeoutError):  # survey answers still on their way to tickets
                async with asyncio.timeout(5):
                    await self.surveys.join()
            for iv in self.agent_timeline.open_intervals(self.clock.now()):
                self.agent_log_writer.submit(iv)
            await self.agent_log_writer.flush()
            for t in tasks:
                t.cancel()
        self.journal.close()
        self.store.close()

    def _load_today(self) -> None:
        """Live figures start from the store, so a restart changes no figure (today and the last 24 h)."""
        now = self.clock.now()
        since = min(day_bounds(now, self.cfg.centre.timezone)[0], now - timedelta(hours=24))
        self.live.add_records(self.store.records(since))
        # Calls recorded while the database was away are in the spool, not yet in the store.
        self.live.add_records(r for r in self.writer.spooled_records() if r.ended_at >= since)
        for iv in self.agent_log.intervals(since):
            self.live.add_agent_interval(iv)

    def _login_agents(self) -> None:
        """Stand in for the agents (centre.auto_ready_agents): those on shift now log in and go ready
        (on a break: logged in, not ready); the others when their shift comes (``SHIFT_TIMER``).
        The engine logs them out at the shift's end plus grace, once their call is over."""
        if not self.cfg.centre.auto_ready_agents:
            return
        now = self.clock.now()
        for a in self.cfg.agents:
            if str(a.id) not in self.manual_agents:
                self._follow_roster(str(a.id), now)

    def _follow_roster(self, agent_id: str, at: datetime) -> None:
        rules = self.shift_rules
        state, reason = self.engine.agent_state(agent_id)
        if rules is None or rules.ready_allowed(agent_id, at):
            if state is AgentState.LOGGED_OUT:
                self._engine(AgentLoggedIn(at=at, agent_id=agent_id))
                state, reason = AgentState.NOT_READY, "login"
            if state is AgentState.NOT_READY and reason in ("login", "break"):
                self._engine(AgentReady(at=at, agent_id=agent_id))
        elif rules.break_until(agent_id, at) is not None:
            if state is AgentState.LOGGED_OUT and rules.current(agent_id, at) is not None:
                self._engine(AgentLoggedIn(at=at, agent_id=agent_id))  # ready when the break is over
            elif state is AgentState.READY:
                self._engine(AgentNotReady(at=at, agent_id=agent_id, reason="break"))
            # busy: the engine puts the agent on the break once the call and wrap-up are over
        if rules is not None:
            due = rules.next_change(agent_id, at)
            if due is not None:
                self.timers.start((SHIFT_TIMER, agent_id), due)

    # ------------------------------------------------------------------ read side
    def snapshot(self) -> dict[str, Any]:
        self.live.set_ami_connected(self.ami.stats.connected)
        return self.live.snapshot(self.clock.now()) | {"incidents": self.incidents.snapshot()}  # incidents

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
        if msg.name in TRANSFER_EVENTS:
            self._transferred(msg, at)

    def _transferred(self, msg: Message, at: datetime) -> None:
        """The agent blind-transferred the caller to a department or handed them off to 110/119/120/122:
        the agent's talk ends now (wrap-up follows); the record closes at the caller's hang-up, answered."""
        call_id = msg.get("TransfereeUniqueid") or ""
        if msg.get("Result") != "Success" or call_id not in self.ledger.calls:
            return
        log.info("call %s: %s to %s", call_id, msg.name,
                 msg.get("Extension") or msg.get("TransferTargetChannel") or "?")
        if self.ledger.talk_ended(call_id, at) and self.engine.call_state(call_id) is not None:
            self._engine(CallEnded(at=at, call_id=call_id))

    def _call_started(self, f: CallStarted) -> None:
        self.journal_save(self.ledger.started(
            f.uniqueid, f.at, linkedid=f.linkedid, channel=f.channel, number=f.caller_number, name=f.caller_name
        ))

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
            self.journal_save(entry)
            self.live.set_waiting(entry.queue, f.uniqueid, entry.queued_at)
            self._engine(CallQueued(at=f.at, call_id=f.uniqueid, queue=entry.queue, caller=entry.caller_number,
                                    priority=entry.priority, skills=entry.skills))

    def _agent_dialed(self, f: AgentDialed) -> None:
        self.ledger.dialed(f.uniqueid, f.at)
        self.desk.ringing(f.uniqueid, f.dest_channel, f.at)  # the screen-pop

    def _agent_answered(self, f: AgentAnswered) -> None:
        entry = self.ledger.answered(f.uniqueid, f.at)
        if entry is None or entry.agent_id is None:
            return
        self.live.clear_waiting(f.uniqueid)
        self.journal_save(entry)
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

    def _call_hung_up(self, f: CallHungUp, *, resync: bool = False) -> None:
        entry = self.ledger.calls.get(f.uniqueid)
        if entry is None:
            return
        in_acd = self.engine.call_state(f.uniqueid) is not None  # not so for a call taken over by a resync
        if entry.answered_at is not None:
            if self.ledger.talk_ended(f.uniqueid, f.at) and in_acd:
                self._engine(CallEnded(at=f.at, call_id=f.uniqueid))
        elif entry.queued_at is not None and not entry.fallback and in_acd:  # a fallback already closed it in the ACD
            self._engine(CallLeft(at=f.at, call_id=f.uniqueid))
        self.live.clear_waiting(f.uniqueid)
        try:
            record = self.ledger.hung_up(f.uniqueid, f.at, None if resync else f.cause)
        except RecordError as exc:
            # The facts contradict each other (a bug, or events lost in a reconnect): the call still
            # counts, so the record is kept as 'failed' with what is certain, and the fault is counted.
            self.stats.record_errors += 1
            log.error("call %s: inconsistent record (%s); kept as failed", f.uniqueid, exc)
            record = self.ledger.failed_record(f.uniqueid, f.at, None if resync else f.cause)
        if record is not None:
            self._record(record)

    def _record(self, record: CallRecordData) -> None:
        self.stats.records += 1
        self.writer.submit(record)
        self.journal.close_call(record, self.ledger.calls.values())
        self.resync.recorded(record.call_id)
        self.offer_generation.pop(record.call_id, None)
        self.live.add_record(record)

    # ------------------------------------------------------------------ fallback and resync (callcenter/resync.py)
    def _caller_fell_back(self, f: CallerFellBack) -> None:
        """The dialplan gave the caller to Asterisk's own queue (CC_HOLD_MAX, no daemon, ACD fallback)."""
        if f.uniqueid not in self.ledger.calls:
            return
        self.ledger.fell_back(f.uniqueid, f.at)
        if self.engine.call_state(f.uniqueid) == "waiting":
            self._engine(CallLeft(at=f.at, call_id=f.uniqueid))
        self.live.clear_waiting(f.uniqueid)

    def _in_store(self, call_id: str) -> bool:
        try:
            return self.store.get(call_id) is not None
        except Exception:  # the database is away: resubmit (the store drops a repeat)
            return False

    def journal_save(self, entry: CallEntry) -> None:
        self.journal.save(entry)

    def close_gone(self, call_id: str, now: datetime) -> None:
        """Asterisk no longer has the call: close it now, as if its Hangup had arrived (cause unknown)."""
        self._call_hung_up(CallHungUp(now, call_id, call_id, 0, "resync"), resync=True)

    def close_from_cdr(self, call_id: str, fate: Fate) -> None:
        """Asterisk's CDRs say how a call ended that the daemon could not see end: the ACD lets it go,
        the record says what the CDRs say (answered by whom; or where the caller was), times from them."""
        e = self.ledger.calls.get(call_id)
        if e is None:
            return
        now = self.clock.now()
        state = self.engine.call_state(call_id)
        if fate.phase == "answered" and state == "ringing" and e.offer_agent == fate.agent:
            self._agent_answered(AgentAnswered(now, call_id, ""))  # the agent did talk: wrap-up as usual
            state = self.engine.call_state(call_id)
            if e.answered_at is not None and fate.answered_at is not None:  # when it happened, not when heard
                e.answered_at = max(min(e.answered_at, fate.answered_at), e.offered_at or e.answered_at)
        if state == "talking":
            self._engine(CallEnded(at=now, call_id=call_id))
        elif state is not None:
            self._engine(CallLeft(at=now, call_id=call_id))
        if e.answered_at is None and fate.phase in ("answered", "ringing", "queue"):
            e.queue = e.queue or self.cfg.queues[0].name
            e.queued_at = e.queued_at or e.entered_at
            if fate.phase == "queue":
                e.offer_agent, e.ringing = None, False
            elif not e.ringing or fate.phase == "answered":
                e.offer_agent = fate.agent or e.offer_agent
                e.ringing, e.offers = True, e.offers + (0 if e.ringing else 1)
                e.offered_at = e.offered_at or e.queued_at
            if fate.phase == "answered":
                e.agent_id = fate.agent
                e.answered_at = max(fate.answered_at or fate.ended_at, e.offered_at or e.queued_at)
        elif fate.phase == "fallback" and e.answered_at is None:
            e.fallback = True
        if e.answered_at is not None:
            self.ledger.talk_ended(call_id, fate.talk_ended_at or fate.ended_at)
        self._call_hung_up(CallHungUp(fate.ended_at, call_id, call_id, 0, "cdr"), resync=True)

    def requeue(self, entry: CallEntry, entered: datetime, now: datetime) -> None:
        """A caller on hold the engine does not know: back in the queue at the original place."""
        assert entry.queue is not None
        entry.queued_at = entry.queued_at or entered
        self.live.set_waiting(entry.queue, entry.call_id, entry.queued_at)
        self.journal_save(entry)
        self._engine(CallQueued(at=now, call_id=entry.call_id, queue=entry.queue, caller=entry.caller_number,
                                priority=entry.priority, skills=entry.skills, entered_at=min(entered, now)))

    def adopt_routed(self, entry: CallEntry, agent: str, *, talking: bool, entered: datetime, now: datetime) -> None:
        """A caller ringing or talking to ``agent`` (CC_AGENT): the engine takes it as an offer to that agent."""
        assert entry.queue is not None
        ok = False
        if agent in self.endpoints:
            try:
                commands = self.engine.handle(CallQueued(
                    at=now, call_id=entry.call_id, queue=entry.queue, caller=entry.caller_number,
                    priority=entry.priority, skills=entry.skills, entered_at=min(entered, now),
                    preferred_agent=agent, prefer_until=now + timedelta(hours=1)))
            except (EngineError, IllegalTransition) as exc:
                log.warning("resync: engine refused call %s: %s", entry.call_id, exc)
                commands = []
            for cmd in commands:
                if isinstance(cmd, OfferCall) and cmd.call_id == entry.call_id:
                    ok = cmd.agent_id == agent
                    if ok:
                        self.ledger.offered(entry.call_id, agent, now)  # already ringing: no Redirect
                        continue
                self._execute(cmd)
        if not ok:
            # The engine would not give it to that agent: keep the record, leave the routing to Asterisk.
            if self.engine.call_state(entry.call_id) is not None:
                self._engine(CallLeft(at=now, call_id=entry.call_id))
            entry.offer_agent = agent or None
            log.warning("resync: call %s with agent %r tracked outside the ACD", entry.call_id, agent)
        self.ledger.dialed(entry.call_id, now)
        if talking:
            if ok:
                self._agent_answered(AgentAnswered(now, entry.call_id, ""))
            else:
                self.ledger.answered(entry.call_id, now)
        self.journal_save(entry)

    def resync_move(self, kind: str, call_id: str, ch: LiveChannel, now: datetime) -> None:
        """A known call moved on while the daemon was deaf: replay the fact it missed."""
        if kind == "queue":
            self._caller_held(CallerHeld(now, call_id, ch.name))
        elif kind == "ring_failed":
            entry = self.ledger.calls.get(call_id)
            agent = entry.offer_agent if entry else None
            self.ledger.offer_failed(call_id)
            if agent is not None and self.engine.call_state(call_id) == "ringing":
                self._engine(OfferFailed(at=now, call_id=call_id, agent_id=agent, reason="noanswer"))
        elif kind == "answered":
            self._agent_answered(AgentAnswered(now, call_id, ""))
        elif kind == "talk_ended":
            self._route_result(RouteResult(now, call_id, ch.var("CC_AGENT"), "ANSWER"))
        elif kind == "fell_back":
            self._caller_fell_back(CallerFellBack(now, call_id))

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
            if self.offer_timer is not None:
                self.offer_timer.offered(cmd.call_id)
            self._offers.put_nowait(cmd)
        elif isinstance(cmd, CallOutcome):
            context = FALLBACK_CONTEXTS.get(cmd.outcome)
            if context is not None:
                self.stats.fallbacks += 1
                log.info("call %s leaves queue %s after %.0f s: %s", cmd.call_id, cmd.queue, cmd.waited, context)
                self.ledger.fell_back(cmd.call_id, cmd.at)
                self.live.clear_waiting(cmd.call_id)
                self._offers.put_nowait(RedirectCaller(cmd.call_id, context))
        elif isinstance(cmd, CallMoved):
            entry = self.ledger.calls.get(cmd.call_id)
            if entry is not None and entry.waiting and entry.queued_at is not None and entry.offer_agent is None:
                self.live.set_waiting(cmd.new_queue, cmd.call_id, entry.queued_at)
            log.info("call %s moved from %s to %s (%s)", cmd.call_id, cmd.old_queue, cmd.new_queue, cmd.reason)
        elif isinstance(cmd, PlaceCallback):
            self.stats.callbacks_requested += 1
            log.warning("callback of %s by agent %s requested; dialling out is not implemented yet",
                        cmd.call_id, cmd.agent_id)
        elif isinstance(cmd, StartTimer):
            self.timers.start(cmd.key, cmd.due)
        elif isinstance(cmd, CancelTimer):
            self.timers.cancel(cmd.key)
        elif isinstance(cmd, AgentStateChanged):
            self.live.set_agent_state(cmd.agent_id, _state_name(cmd.new))
            closed = self.agent_timeline.change(cmd.agent_id, _state_name(cmd.new), cmd.reason, cmd.at)
            if closed is not None:
                self.agent_log_writer.submit(closed)
                self.live.add_agent_interval(closed)
            log.debug("agent %s: %s -> %s (%s)", cmd.agent_id, cmd.old, cmd.new, cmd.reason)
            self.desk.state_changed(cmd.agent_id, _state_name(cmd.new), cmd.reason, cmd.at, cmd.by)
            if (self.cfg.centre.auto_ready_agents and cmd.new is AgentState.NOT_READY
                    and cmd.reason in AUTO_READY_REASONS and cmd.agent_id not in self.manual_agents):
                # Nobody sits at a desktop to press "ready" again after a missed ring: stand in for
                # the agent after a pause, as a real one would.
                self.timers.start((AUTO_READY, cmd.agent_id), cmd.at + timedelta(seconds=AUTO_READY_AFTER))

    # ------------------------------------------------------------------ agent desktop, screen-pops, admin
    def _init_desk(self, state_dir: Path) -> None:
        from callcenter.screenpop import ScreenPop, store_history_source
        from callcenter.web.admin import AuditLog, ConfigEditor
        from callcenter.web.auth import UserDirectory
        from callcenter.web.desktop import DaemonDesk

        self.screenpop = ScreenPop(self.cfg.mqtt, store_history_source(self.store))
        self.desk = DaemonDesk(self)
        self.users = UserDirectory.from_config(self.cfg)
        self.config_editor = ConfigEditor(self.cfg, AuditLog(state_dir / "callcenter-audit.jsonl"),
                                          state_dir / "config-edits.yaml")

    def _tickets(self, cfg: Config) -> tuple[Any, Any]:
        """Tickets (工单) on the same store; one task runs escalation and follow-up (回访) calls."""
        from tickets.followup import FollowUpDialer
        from tickets.service import TicketService

        service = TicketService.from_config(self.store, cfg)
        fu = cfg.tickets.followup

        async def originate(dial: str, variables: dict[str, str]) -> None:
            fields: list[tuple[str, object]] = [("Channel", dial), ("Context", fu.context), ("Exten", "s"),
                                                ("Priority", "1"), ("CallerID", fu.caller_id), ("Async", "true")]
            fields += [("Variable", f"{k}={v}") for k, v in variables.items()]
            await self.ami.action("Originate", fields)

        return service, FollowUpDialer(service, fu, originate, now=self.clock.now, language=cfg.centre.language)

    def _web_extensions(self) -> dict[str, Any]:
        from callcenter.web.admin import admin_routes
        from callcenter.web.desktop import desktop_routes, ticket_choices
        from callcenter.web.tickets_api import tickets_routes

        lang, name = self.cfg.centre.language, self.cfg.centre.name
        secret = self.cfg.web.session_secret
        self.desk.tickets_api = True  # the tickets routes are mounted below: the desk's form posts there
        choices = ticket_choices(self.tickets, lang)
        return {
            "extra_routes": lambda streams: [
                *desktop_routes(self.desk, self.users, language=lang, centre_name=name, streams=streams,
                                choices=choices),
                *admin_routes(self.config_editor, language=lang, centre_name=name),
                *self._ivr_routes(),
                *self.incidents.routes(),  # incidents
                *tickets_routes(self.tickets, now=self.clock.now, language=lang, centre_name=name),
                *self._sms_routes(),
            ],
            "users": self.users,
            "session_secret": secret.get_secret_value() if secret is not None else None,
            "session_hours": self.cfg.web.session_hours,
            "cookie_secure": self.cfg.web.cookie_secure,
            "max_body": self.cfg.web.max_body,
        }

    def _ivr_routes(self) -> list[Any]:
        """IVR versions (admin API and page) and, when configured, the Twilio webhook."""
        from callcenter.web.ivr_api import ivr_routes

        routes = list(ivr_routes(self.ivr, language=self.cfg.centre.language, centre_name=self.cfg.centre.name))
        if self.cfg.twilio is not None:
            from callcenter.web.twilio import TwilioIvr, twilio_routes

            tw = self.cfg.twilio
            routes += twilio_routes(TwilioIvr(self.ivr, tw.auth_token, clock=self.clock.now,
                                              language=self.cfg.centre.language, public_url=tw.public_url,
                                              sound_base_url=tw.sound_base_url))
        return routes

    def _sms_routes(self) -> list[Any]:
        """POST /twilio/sms: follow-up (回访) replies by SMS, when tickets.twilio is configured."""
        tw = self.cfg.tickets.twilio
        if tw is None:
            return []
        from callcenter.web.twilio import SmsReplies, sms_routes

        self.sms_replies = SmsReplies(self.tickets, tw.auth_token, tw.webhook_url, clock=self.clock.now,
                                      language=self.cfg.centre.language)
        return sms_routes(self.sms_replies)

    def agent_command(self, agent_id: str, state: str, reason: str, by: str) -> None:
        """Ready / not ready / log out from the agent desktop; raises DeskError when the ACD refuses."""
        from callcenter.web.desktop import desk_events, engine_refusal

        self.manual_agents.add(agent_id)  # a person is at the desk now: the daemon stops standing in
        current = self.engine.agent_state(agent_id)[0]
        for event in desk_events(current, agent_id, state, reason, self.clock.now()):
            try:
                commands = self.engine.handle(event)
            except (EngineError, IllegalTransition) as exc:
                raise engine_refusal(exc) from None
            for cmd in commands:
                self._execute(cmd)

    async def ami_actions(self, actions: list[tuple[str, dict[str, Any]]]) -> None:
        """Call control from the agent desktop; raises DeskError when the PBX refuses."""
        from callcenter.web.desktop import DeskError

        for name, fields in actions:
            try:
                await self.ami.action(name, fields)
            except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
                log.warning("call control %s failed: %s", name, exc)
                raise DeskError(502, "pbx_refused", f"the PBX refused {name}") from None

    def _timer_fired(self, key: Hashable, at: datetime) -> None:
        if isinstance(key, tuple) and key and key[0] == AUTO_READY:
            on_shift = self.shift_rules is None or self.shift_rules.ready_allowed(key[1], at)
            if on_shift and self.engine.agent_state(key[1])[0] is AgentState.NOT_READY:
                self._engine(AgentReady(at=at, agent_id=key[1]))
            return
        if isinstance(key, tuple) and key and key[0] == SHIFT_TIMER:
            self._follow_roster(key[1], at)
            return
        self._engine(TimerFired(at=at, key=key))  # type: ignore[arg-type]  # the engine's own tuple keys

    # ------------------------------------------------------------------ AMI out
    async def _offer_worker(self) -> None:
        while True:
            offer = await self._offers.get()
            if isinstance(offer, RedirectCaller):
                await self._redirect(offer)
                continue
            try:
                if self.ami.stats.connected and not self.resync.synced.is_set():
                    # Just logged in: the resync runs first, so that it sees no Redirect half-way.
                    async with asyncio.timeout(self.cfg.ami.action_timeout * 4):
                        await self.resync.synced.wait()
                self.offer_generation[offer.call_id] = self.resync.generation
                await self._send_offer(offer)
            except (AmiActionError, AmiTimeout, AmiNotConnected, TimeoutError) as exc:
                self.stats.offer_action_failures += 1
                log.warning("offer of %s to agent %s failed: %s", offer.call_id, offer.agent_id, exc)
                entry = self.ledger.calls.get(offer.call_id)
                if entry is not None and entry.offer_agent == offer.agent_id:
                    self.ledger.offer_failed(offer.call_id)
                    self._engine(
                        OfferFailed(at=self.clock.now(), call_id=offer.call_id, agent_id=offer.agent_id,
                                    reason="failed")
                    )

    async def _redirect(self, r: RedirectCaller) -> None:
        entry = self.ledger.calls.get(r.call_id)
        if entry is None:
            return  # the caller hung up meanwhile
        try:
            await self.ami.action("Redirect", {"Channel": entry.channel, "Context": r.context, "Exten": "s",
                                               "Priority": 1})
        except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
            # The caller stays on hold; the dialplan's CC_HOLD_MAX hands them to cc-fallback.
            self.stats.fallback_action_failures += 1
            log.warning("redirect of %s to %s failed: %s", r.call_id, r.context, exc)

    async def _send_offer(self, offer: OfferCall) -> None:
        entry = self.ledger.calls.get(offer.call_id)
        if entry is None:
            return
        self.stats.offers_sent += 1

        async def redirect() -> None:
            if self.offer_timer is not None:
                self.offer_timer.sent(offer.call_id)
            await self.ami.action(
                "Redirect", {"Channel": entry.channel, "Context": "cc-route", "Exten": offer.agent_id, "Priority": 1}
            )

        # Setvar and Redirect are written back to back (tasks start in creation order) and awaited together:
        # Asterisk runs one session's actions in order, so the variable is set before the caller moves, and
        # the offer costs one AMI round trip instead of two (bench/e2e.py: the round trips were the limit).
        setvar = asyncio.ensure_future(self.ami.action(
            "Setvar",
            {"Channel": entry.channel, "Variable": "CC_AGENT_ENDPOINT", "Value": self.endpoints[offer.agent_id]},
        ))
        results = await asyncio.gather(setvar, asyncio.ensure_future(redirect()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    # ------------------------------------------------------------------ FastAGI in
    @staticmethod
    async def _followup_ticket(session: AgiSession) -> str | None:
        from asterisk.agi.protocol import AgiCommandError

        try:
            return await session.get_variable("CC_TICKET") or None
        except AgiCommandError:  # not readable: the answer is matched by the call's linked tickets instead
            return None

    async def _agi_session(self, session: AgiSession) -> None:
        self.stats.ivr_sessions += 1
        survey = session.script.endswith("survey")
        # A follow-up call (回访) names its ticket; read before the survey, while the channel is surely up.
        ticket = await self._followup_ticket(session) if survey else None
        # The menu (current version, hot-reloadable) or the after-call survey: ivr/service.py.
        result = await self.ivr.agi_session(session, self.ledger)
        if not survey:
            self.incidents.on_ivr(session, result)  # incidents: the caller's topic and area, now
        if survey and result is not None and result.data.satisfaction is not None:
            from tickets.survey import SurveyAnswer, survey_scores

            self.surveys.submit(SurveyAnswer(session.uniqueid, result.data.satisfaction,
                                             survey_scores(self.ivr.current().survey), self.clock.now(), ticket))


def ami_ssl_context(cfg: Config) -> ssl.SSLContext | None:
    """TLS for AMI when ``ami.tls`` is set (Asterisk's manager.conf ``tlsenable``, port 5039)."""
    tls = cfg.ami.tls
    if tls is None:
        return None
    ctx = ssl.create_default_context(cafile=tls.cafile)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
