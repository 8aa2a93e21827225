"""The daemon: builds the parts and runs them in one asyncio TaskGroup. Nothing else lives here.

    AMI (asterisk/ami) --messages--> CallFlow (callcenter/callflow.py: tracker, ledger, ACD engine)
        --OfferCall / RedirectCaller--> AmiExecutor (callcenter/executor.py) --> AMI actions
    FastAGI (asterisk/agi) --> AgiCalls (callcenter/survey_calls.py): the IVR, the survey --> ledger, tickets
    CallFlow --record at hang-up--> store writer (batched, spooled) + live stats --> web, /metrics
    AMI login --> Resyncer (callcenter/resync/) --CallRepairs--> CallFlow
    timers --> CallFlow (the engine's keys) or Autopilot (callcenter/autopilot.py: auto-ready, shifts)
    web (callcenter/webapp.py): wallboard, agent desktop (callcenter/desk.py), admin, tickets, Twilio

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
from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from asterisk.agi.server import AgiSession
from asterisk.ami.codec import Message
from callcenter.autopilot import Autopilot, AutoReadyTimer, RosterTimer
from callcenter.callbacks import CallbackCollector, CallbackDialer
from callcenter.callflow import CallFlow, DaemonStats, OfferClock, Outgoing
from callcenter.clock import Clock
from callcenter.desk import DaemonDesk
from callcenter.engine_config import engine_config_from, shift_rules_from
from callcenter.ha import STEPPED_DOWN, HaNode, Health, OpsCollector, install_health, schema_lock
from callcenter.ivr_service import IvrService
from callcenter.mqtt_stats import MqttStatsPublisher
from callcenter.pbxs import PbxLinks, PbxNames, ami_tls_context, site_engine
from callcenter.resync import OpenCallJournal, Resyncer
from callcenter.retention import RetentionJob, run_daily
from callcenter.screenpop import ScreenPop, store_history_source
from callcenter.staffing_live import run_risk
from callcenter.supervisor import SupervisorDesk
from callcenter.survey_calls import AgiCalls
from callcenter.timers import TimerService
from callcenter.web import serve as serve_web
from callcenter.web.sessions import SessionStore
from callcenter.web.twilio import SmsReplies
from callcenter.webapp import DaemonWeb
from config.loader import ConfigError, load_config
from config.models import Config
from incidents.desk import IncidentDesk
from metrics.agents import AgentTimeline
from metrics.kpi import day_bounds
from metrics.live import LiveStats
from metrics.prom import AgiCollector, ResyncCollector
from metrics.prom import register as register_collectors
from queueing import AgentStateChanged
from queueing.timerkeys import is_timer_key
from records.agentlog import AgentLog, AgentLogWriter
from records.callbacks import CallbackStore
from records.model import CallRecordData
from records.store import RecordWriter, Store, mask_url
from tickets.followup import FollowUpDialer
from tickets.service import TicketService
from tickets.survey import SurveyRecorder

log = logging.getLogger("callcenter.daemon")


class Daemon:
    def __init__(self, cfg: Config, *, clock: Clock | None = None, spool_dir: str | Path | None = None,
                 manual_agents: Iterable[str] = ()) -> None:
        self.cfg = cfg
        self.clock = clock or Clock()
        state_dir = Path(spool_dir or ".")
        #: agents under the desktop's control only: never logged in or made ready by the daemon
        self.manual_agents = set(manual_agents)
        self.stats = DaemonStats()
        self.shift_rules = shift_rules_from(cfg)
        # With several PBXs (cfg.pbxs), a call goes to the agents of its own PBX (callcenter/pbxs.py).
        self.engine = site_engine(cfg, engine_config_from(cfg), shifts=self.shift_rules)
        self.pbx_names = PbxNames(cfg)
        self.endpoints = {str(a.id): a.endpoint for a in cfg.agents}
        self.queue_names = [q.name for q in cfg.queues]
        self.ivr = IvrService(cfg, state_dir, self.clock.now)
        self.store = Store(cfg.database.url)
        # The spool and the open-call journal hold records bound for one database: their names carry a
        # digest of its URL, so a daemon pointed at another database never replays them into it.
        db_key = hashlib.sha256(cfg.database.url.encode()).hexdigest()[:12]
        self.writer = RecordWriter(self.store, state_dir / f"callcenter-spool-{db_key}.jsonl")
        self.journal = OpenCallJournal(state_dir / f"callcenter-open-{db_key}.jsonl")
        #: callers' numbers and names past security.retention_days masked, daily (个人信息保护法)
        self.retention = RetentionJob(self.store, state_dir, cfg.security.retention_days)
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
        self.timers = TimerService(self.clock, self._timer_fired)
        self._build_flow()
        self._build_adapters(cfg, state_dir)
        self._build_ops(cfg)
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.web_port: int | None = None

    def _build_flow(self) -> None:
        self.flow = CallFlow(engine=self.engine, live=self.live, journal=self.journal, timers=self.timers,
                             endpoints=self.endpoints, queue_names=self.queue_names, send=self._send,
                             recorded=self._recorded, stats=self.stats, now=self.clock.now)
        self.tracker, self.ledger = self.flow.tracker, self.flow.ledger
        self.autopilot = Autopilot(enabled=self.cfg.centre.auto_ready_agents, agents=self.endpoints,
                                   engine=self.engine, shift_rules=self.shift_rules, feed=self.flow.feed,
                                   timers=self.timers, manual_agents=self.manual_agents)
        self.flow.agent_listeners += [self._agent_changed, self.autopilot.state_changed]

    def _build_adapters(self, cfg: Config, state_dir: Path) -> None:
        # One AMI client, FastAGI listener, resync and executor per PBX (callcenter/pbxs.py); the first
        # PBX's are also self.ami, self.resync, self.executor and self.agi.
        self.pbxs = PbxLinks(cfg, flow=self.flow, stats=self.stats, now=self.clock.now, endpoints=self.endpoints,
                             in_store=self._in_store, on_message=self._on_ami_event,
                             agi_handler=self._agi_session)
        for link in self.pbxs.links:
            link.login_hook = self._resync
        first = self.pbxs.first
        self.ami, self.resync, self.executor, self.agi = first.ami, first.resync, first.executor, first.agi
        self.registry = CollectorRegistry()
        collector = register_collectors(self.registry, self.live, self.writer, clock=self.clock.now)
        collector.ami = self.ami.stats
        self.registry.register(ResyncCollector(self.resync.stats, self.ami.stats, self.tracker))
        # Tickets (工单) on the same store; one task runs escalation and follow-up (回访) calls.
        self.tickets = TicketService.from_config(self.store, cfg)
        # A desk ticket saved before its call's record exists gets the caller once the record is written.
        self.writer.on_written = lambda records: self.tickets.calls_recorded(records, self.clock.now())
        self.ticket_timers = FollowUpDialer(self.tickets, cfg.tickets.followup, self._originate,
                                            now=self.clock.now, language=cfg.centre.language)
        #: after-call and follow-up survey answers onto their tickets (tickets/survey.py), off the AGI session
        self.surveys = SurveyRecorder(self.tickets)
        # Surges (incidents/): detection from IVR choices and first ticket fields, announcements, 同源件.
        self.incidents = IncidentDesk(cfg, self.store, self.ivr, self.clock.now, self.registry, tickets=self.tickets,
                                      number_areas=cfg.incidents.number_areas, gazetteer=cfg.incidents.gazetteer)
        # Callbacks (预约回电) dialled out when the ACD gives them an agent (callcenter/callbacks.py).
        self.callbacks = CallbackDialer(CallbackStore(self.store.engine), cfg.callbacks, endpoints=self.endpoints,
                                        feed=self.flow.feed, originate=self._originate_fields, now=self.clock.now,
                                        tz=cfg.centre.timezone, pbx_ready=self._pbx_ready)
        self.flow.place_callback, self.flow.callback_requested = self.callbacks.place, self.callbacks.request
        self.registry.register(CallbackCollector(self.callbacks))
        self.agi_calls = AgiCalls(self.ivr, self.ledger, self.surveys, self.stats, self.clock.now,
                                  on_menu=self._on_menu)
        self.registry.register(AgiCollector(self.agi.stats))  # the first PBX's listener
        self.screenpop = ScreenPop(cfg.mqtt, store_history_source(self.store))
        self.desk = DaemonDesk(flow=self.flow, cfg=cfg, screenpop=self.screenpop, ami=self.ami, now=self.clock.now,
                               manual_agents=self.manual_agents, menu=lambda: self.ivr.current().menu,
                               ami_of=lambda cid: self.pbxs.link_of(cid).ami)
        self.flow.ringing = self.desk.ringing  # the screen-pop
        self.flow.answered, self.flow.ring_back_failed = self.desk.answered, self.desk.ring_back_failed  # held callers
        self.web = DaemonWeb(cfg, desk=self.desk, tickets=self.tickets, ivr=self.ivr, now=self.clock.now,
                             state_dir=state_dir, more_routes=self.incidents.routes,
                             sessions=SessionStore(self.store.engine, hours=cfg.web.session_hours))
        self.supervisor = SupervisorDesk(flow=self.flow, desk=self.desk, cfg=cfg, menu=lambda: self.ivr.current().menu,
                                         audit=self.web.config_editor.audit, shift_rules=self.shift_rules,
                                         ami=self.ami, now=self.clock.now, manual_agents=self.manual_agents)
        self.web.supervisor = self.supervisor
        self._mqtt_stats = MqttStatsPublisher(cfg.mqtt, self.snapshot) if cfg.mqtt is not None else None

    def _build_ops(self, cfg: Config) -> None:
        """Hot standby (callcenter/ha/, with ``ha``) and every daemon's health: endpoints, banner, Prometheus."""
        self.ha = HaNode(cfg.ha, cfg.database.url, now=self.clock.now) if cfg.ha is not None else None
        if self.ha is not None:
            for link in self.pbxs.links:
                link.ami.guard = self.ha.guard
            self.ha.on_promote, self.ha.on_step_down = self._promote, self._stepped_down
        brokers = {"mqtt": lambda: self.screenpop.counters.connected} if cfg.mqtt is not None else {}
        self.health = Health(amis={link.name: link.ami for link in self.pbxs.links}, db_ping=self.store.ping,
                             brokers=brokers, ha=self.ha, now=self.clock.now,
                             synced=lambda: all(link.resync.synced_at is not None for link in self.pbxs.links),
                             timezone=cfg.centre.timezone)
        self.registry.register(OpsCollector(self.health))
        self.exit_code = 0
        self._tg: asyncio.TaskGroup | None = None
        self._intake: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[Any]] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def agi_port(self) -> int:
        return self.agi.port

    @property
    def sms_replies(self) -> SmsReplies:
        """The SMS follow-up replies' handler (with ``tickets.twilio``, once the web app is built)."""
        if self.web.sms_replies is None:
            raise LookupError("no SMS replies: tickets.twilio is not configured or the web app is not built")
        return self.web.sms_replies

    @property
    def mqtt_stats(self) -> MqttStatsPublisher:
        """The live statistics' MQTT publisher (with ``mqtt``)."""
        if self._mqtt_stats is None:
            raise LookupError("no MQTT statistics: mqtt is not configured")
        return self._mqtt_stats

    @property
    def offer_timer(self) -> OfferClock | None:
        """Optional latency probe (bench/e2e.py): when the engine picks an agent, when the Redirect goes."""
        return self.flow.offer_clock

    @offer_timer.setter
    def offer_timer(self, probe: OfferClock | None) -> None:
        self.flow.offer_clock = probe
        for link in self.pbxs.links:
            link.executor.offer_clock = probe

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        log.info("store: %s", mask_url(self.cfg.database.url))
        await asyncio.to_thread(self._load_today)
        for record in await asyncio.to_thread(self.pbxs.restore, self.journal):
            # closed before a crash, never flushed: the store drops a repeat
            self.writer.submit(self.pbx_names.stamp(record))
        if self.ha is None:  # a standby logs the agents in when it takes over
            self.autopilot.login_agents(self.clock.now())
        app = self.web.app(self.snapshot, self.metrics_text)
        install_health(app, self.health, language=self.cfg.centre.language)
        web_started = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            # AMI of every PBX; FastAGI only on the leader (_start_leading): callers reach only the leader
            intake = self._intake = [tg.create_task(run(), name=name) for name, run in self.pbxs.intake()]
            tasks = self._tasks = [
                tg.create_task(self.timers.run(), name="timers"),
                tg.create_task(self.writer.run(), name="store-writer"),
                tg.create_task(serve_web(app, self.cfg.web.host, self.cfg.web.port, started=web_started), name="web"),
                *(tg.create_task(work(), name=name) for name, work in self.pbxs.workers()),
                tg.create_task(self.agent_log_writer.run(), name="agent-log"),
                tg.create_task(self.surveys.run(), name="ticket-surveys"),
                tg.create_task(self.health.probe(), name="health-probe"),
            ]
            tasks.append(tg.create_task(run_risk(self.live, self.store, self.cfg, self.clock), name="staffing-risk"))
            if self.ha is None:
                self._start_leading()
                for link in self.pbxs.links:
                    await link.agi.wait_listening()
            else:
                tasks.append(tg.create_task(self.ha.run(), name="ha-lease"))
            await web_started.wait()
            self.web_port = getattr(app.state, "bound_port", None) or self.cfg.web.port
            self.ready.set()
            log.info("daemon ready: FastAGI on %s:%s, web on %s:%s", self.cfg.agi.host, self.agi_port,
                     self.cfg.web.host, self.web_port)
            await self._stop.wait()
            await self._drain(intake)
            for t in tasks:
                t.cancel()
        if self.ha is not None:
            await self.ha.close()  # fenced, then the lease given back: a standby takes over at once
        self.journal.close()
        self.store.close()

    def _start_leading(self) -> None:
        """The tasks only the leader runs: FastAGI (callers reach only the leader), follow-up calls and
        escalations, incident detection, the MQTT screen-pops and figures (their retained "online"/"offline"
        status is the leader's), the desks' heartbeats (desks talk to the leader), the daily retention purge."""
        tg = self._tg
        assert tg is not None
        self._intake += [tg.create_task(serve(), name=name) for name, serve in self.pbxs.fastagi()]
        self._tasks.append(tg.create_task(self.screenpop.run(), name="screenpop"))
        self._tasks.append(tg.create_task(self.ticket_timers.run(), name="ticket-timers"))
        if self._mqtt_stats is not None:
            self._tasks.append(tg.create_task(self._mqtt_stats.run(), name="mqtt-stats"))
        self._tasks.append(tg.create_task(self.incidents.run(), name="incidents"))
        self._tasks.append(tg.create_task(self.desk.watch_desks(), name="desk-heartbeats"))
        self._tasks.append(tg.create_task(run_daily(self.retention, self.clock.now), name="retention"))
        self.callbacks.load()  # the callbacks still to make (a few rows), dialled by the leader only
        self._tasks.append(tg.create_task(self.callbacks.run(), name="callbacks"))

    def _promote(self) -> None:
        """This standby took the lease: agents logged in, leader's tasks started, the resync replayed (it
        adopts every call in flight, in order with the AMI events; see HaNode.before_resync)."""
        self.autopilot.login_agents(self.clock.now())
        self._start_leading()
        for link in self.pbxs.links:
            if link.ami.stats.connected:
                link.ami.replay_login()

    def _stepped_down(self) -> None:
        self.exit_code = STEPPED_DOWN
        self.stop()

    async def _drain(self, intake: list[asyncio.Task[None]]) -> None:
        """Stop taking events, then drain the records before anything else goes: nothing is lost on a
        clean stop. Calls still in progress go on in Asterisk; a restart picks them up."""
        for t in intake:
            t.cancel()
        await asyncio.wait(intake)
        await self.writer.close()
        with contextlib.suppress(TimeoutError):  # survey answers still on their way to tickets
            async with asyncio.timeout(5):
                await self.surveys.join()
        for iv in self.agent_timeline.open_intervals(self.clock.now()) if self._leading_events() else ():
            self.agent_log_writer.submit(iv)
        await self.agent_log_writer.flush()

    def _load_today(self) -> None:
        """Live figures start from the store, so a restart changes no figure (today and the last 24 h)."""
        now = self.clock.now()
        since = min(day_bounds(now, self.cfg.centre.timezone)[0], now - timedelta(hours=24))
        records = self.store.records(since)
        self.live.add_records(records)
        self.supervisor.load(records)  # calls and talk time per agent today
        # Calls recorded while the database was away are in the spool, not yet in the store.
        self.live.add_records(r for r in self.writer.spooled_records() if r.ended_at >= since)
        for iv in self.agent_log.intervals(since):
            self.live.add_agent_interval(iv)

    # ------------------------------------------------------------------ read side
    def snapshot(self) -> dict[str, Any]:
        self.live.set_ami_connected(self.pbxs.all_connected())
        now = self.clock.now()
        today = day_bounds(now, self.cfg.centre.timezone)[0]
        return self.live.snapshot(now) | {"incidents": self.incidents.snapshot(), "ops": self.health.board(),
                                          "callbacks": self.callbacks.counts(today)}

    def metrics_text(self) -> tuple[bytes, str]:
        self.live.set_ami_connected(self.pbxs.all_connected())
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------------ wiring between the parts
    def _leading_events(self) -> bool:
        return self.ha is None or self.ha.events_to_flow

    def _on_ami_event(self, msg: Message, _received: float) -> None:
        if not self._leading_events():
            assert self.ha is not None
            self.ha.witness.feed(msg, self.clock.now())  # a standby: watched, not routed
            return
        now = self.clock.now()
        self.flow.on_ami_message(msg, now)
        self.callbacks.on_ami(msg, now)

    def _on_menu(self, session: Any, result: Any) -> None:
        """A caller left the IVR: the surge detection hears of it; a callback choice is kept and queued."""
        self.incidents.on_ivr(session, result)
        data = getattr(result, "data", None)
        if data is not None and data.callback:
            queue = data.queue or self.queue_names[0]
            self.callbacks.request(session.uniqueid, data.callback_number or "", queue, self.clock.now())

    async def _resync(self, resync: Resyncer) -> None:
        """A PBX's AMI login (PbxLink.login_hook): the resync, with the hot standby's hand-over around it."""
        if self.ha is not None and not await self.ha.before_resync(resync, self._in_store):
            return
        await resync.run()
        if self.ha is not None:
            self.ha.after_resync()

    async def _agi_session(self, session: AgiSession) -> None:
        await self.agi_calls.session(session)

    def _timer_fired(self, key: Hashable, at: datetime) -> None:
        if isinstance(key, (AutoReadyTimer, RosterTimer)):
            self.autopilot.timer_fired(key, at)
        elif is_timer_key(key):
            self.flow.timer_fired(key, at)
        else:
            raise TypeError(f"no part of the daemon owns timer {key!r}")

    def _send(self, cmd: Outgoing) -> None:
        self.pbxs.send(cmd)

    def _recorded(self, record: CallRecordData) -> None:
        record = self.pbx_names.stamp(record)
        self.writer.submit(record)
        self.resync.recorded(record.call_id)
        self.supervisor.recorded(record)

    def _agent_changed(self, cmd: AgentStateChanged) -> None:
        closed = self.agent_timeline.change(cmd.agent_id, cmd.new.value, cmd.reason, cmd.at)
        if closed is not None:
            self.agent_log_writer.submit(closed)
            self.live.add_agent_interval(closed)
        self.desk.state_changed(cmd)

    def _in_store(self, call_id: str) -> bool:
        try:
            return self.store.get(call_id) is not None
        except Exception:  # the database is away: resubmit (the store drops a repeat)
            return False

    def _pbx_ready(self) -> bool:
        return self.ami.stats.connected and self.resync.synced.is_set()

    async def _originate_fields(self, fields: list[tuple[str, object]]) -> None:
        await self.ami.action("Originate", fields)

    async def _originate(self, dial: str, variables: dict[str, str]) -> None:
        """A follow-up call (回访): Asterisk dials the citizen into the follow-up context."""
        fu = self.cfg.tickets.followup
        fields: list[tuple[str, object]] = [("Channel", dial), ("Context", fu.context), ("Exten", "s"),
                                            ("Priority", "1"), ("CallerID", fu.caller_id), ("Async", "true")]
        fields += [("Variable", f"{k}={v}") for k, v in variables.items()]
        await self.ami.action("Originate", fields)


def ami_ssl_context(cfg: Config) -> ssl.SSLContext | None:
    """TLS for AMI when ``ami.tls`` is set (Asterisk's manager.conf ``tlsenable``, port 5039)."""
    return ami_tls_context(cfg.ami)


async def run_daemon(config_path: str) -> int:
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        print(exc)
        return 2
    if cfg.ha is not None:  # the nodes of a pair create missing tables one after the other
        with schema_lock(cfg.database.url):
            daemon = Daemon(cfg)
    else:
        daemon = Daemon(cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, daemon.stop)
    await daemon.run()
    return daemon.exit_code
