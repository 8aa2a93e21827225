"""Where a call's life is decided: AMI call facts in, ledger and ACD engine moved, commands out.

Synchronous and socket-free: the daemon feeds it AMI messages (``on_ami_message``), timer expiries and the
executor's failures; it keeps the ledger (what each call did, for its record), drives the engine, and
hands out what must happen in the world as commands through ``send`` (ring an agent: ``OfferCall``; send
a caller to a dialplan context: ``RedirectCaller``), records through ``recorded``, agent state changes
through ``agent_listeners``. The resync repairs calls through the ``CallRepairs`` methods at the end
(callcenter/resync/runner.py); tests feed facts and read the commands (tests/test_callflow.py).

    AMI message -> CallTracker (asterisk/ami/tracker.py) -> fact -> FACT handler -> ledger + engine
    engine -> [Command] -> execute(): OfferCall/RedirectCaller out, timers, live stats, agent listeners
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from asterisk.ami.codec import Message
from asterisk.ami.tracker import (
    AgentAnswered,
    AgentDialed,
    CallerFellBack,
    CallerHeld,
    CallHungUp,
    CallStarted,
    CallTracker,
    Channel,
    DeviceChanged,
    Fact,
    FallbackAbandoned,
    FallbackAnswered,
    FallbackJoined,
    FallbackRingFailed,
    FallbackRinging,
    FallbackTalkEnded,
    RouteResult,
)
from callcenter.cdr_import import Fate
from callcenter.ledger import CallEntry, CallLedger
from callcenter.resync.journal import OpenCallJournal
from callcenter.resync.plan import Kind, KnownCall, Live, LiveChannel
from metrics.live import LiveStats
from queueing import (
    AgentDeviceChanged,
    AgentQueuesChanged,
    AgentStateChanged,
    CallEnded,
    CallLeft,
    CallMoved,
    CallOutcome,
    CallQueued,
    CallState,
    CancelTimer,
    Command,
    Engine,
    EngineError,
    IllegalTransition,
    OfferAnswered,
    OfferCall,
    OfferFailed,
    PlaceCallback,
    StartTimer,
    TimerFired,
    TimerKey,
)
from queueing.events import Event
from records.model import CallRecordData, Outcome, RecordError

log = logging.getLogger("callcenter.daemon")

# Asterisk DIALSTATUS -> the engine's reason for a failed offer.
DIAL_FAILURES = {"NOANSWER": "noanswer", "BUSY": "busy", "CONGESTION": "congestion", "CHANUNAVAIL": "failed"}
# The ACD gave the caller up (a queue's fallback): the dialplan context that takes them.
FALLBACK_CONTEXTS = {Outcome.FALLBACK_VOICEMAIL: "cc-voicemail", Outcome.FALLBACK_CALLBACK: "cc-callback",
                     Outcome.OVERFLOWED: "cc-fallback"}
#: device states (DeviceStateChange) in which a phone takes no offer; UNAVAILABLE is left to the ring
#: itself (a phone that has not registered fails the Dial at once, and the ACD tries the next agent)
BUSY_DEVICE_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
#: AMI events of a completed transfer (the caller goes on without the agent); see asterisk/sim/transfer.py
TRANSFER_EVENTS = frozenset({"BlindTransfer", "AttendedTransfer"})


@dataclass(frozen=True, slots=True)
class RedirectCaller:
    """Send a waiting caller to a dialplan context (AMI Redirect, exten s, priority 1)."""

    call_id: str
    context: str


Outgoing = OfferCall | RedirectCaller


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
    callbacks_requested: int = 0  # PlaceCallback: a callback given an agent (callcenter/callbacks.py dials)
    record_errors: int = 0


class Timers(Protocol):
    def start(self, key: TimerKey, due: datetime) -> None: ...

    def cancel(self, key: TimerKey) -> None: ...


class OfferClock(Protocol):
    """Latency probe (bench/e2e.py): ``offered`` when the engine picks an agent, ``sent`` before the Redirect."""

    def offered(self, call_id: str) -> None: ...

    def sent(self, call_id: str) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallFlow:
    def __init__(self, *, engine: Engine, live: LiveStats, journal: OpenCallJournal, timers: Timers,
                 endpoints: dict[str, str], queue_names: Sequence[str], send: Callable[[Outgoing], None],
                 recorded: Callable[[CallRecordData], None] = lambda _r: None,
                 ringing: Callable[[str, str, datetime], None] = lambda _c, _a, _t: None,
                 stats: DaemonStats | None = None, now: Callable[[], datetime] = _utcnow) -> None:
        """``queue_names``: the centre's queues, the first being its general line (a caller with no IVR
        result is never stranded: they wait there). ``ringing(call_id, agent channel, at)``: the screen-pop."""
        self.engine, self.live, self.journal, self.timers = engine, live, journal, timers
        self.endpoints = endpoints
        self.queue_names = list(queue_names)
        self.send, self.recorded, self.ringing = send, recorded, ringing
        #: an agent's phone answered a call (the desk: a held caller's ring-back is picked up)
        self.answered: Callable[[str, datetime], None] = lambda _c, _t: None
        #: a held caller's ring-back was not answered (the desk shows them held again)
        self.ring_back_failed: Callable[[str, datetime], None] = lambda _c, _t: None
        self.stats = stats or DaemonStats()
        self.now = now
        self.tracker = CallTracker()
        self.ledger = CallLedger()
        #: called with each AgentStateChanged (the agent timeline, the desk, the autopilot)
        self.agent_listeners: list[Callable[[AgentStateChanged], None]] = []
        #: the AMI login generation each offer was sent in (the resync leaves in-flight ones alone)
        self.offer_generation: dict[str, int] = {}
        self.offer_clock: OfferClock | None = None
        #: callbacks (callcenter/callbacks.py): dial one out; keep a caller's request (id, number, queue, entered)
        self.place_callback: Callable[[PlaceCallback], None] = lambda _c: None
        self.callback_requested: Callable[[str, str, str, datetime], object] = lambda _i, _n, _q, _e: None
        # Each handler takes the fact type it is filed under (hence Any: the table cannot say so per key).
        self._facts: dict[type[Fact], Callable[[Any], None]] = {
            CallStarted: self._call_started,
            CallerHeld: self._caller_held,
            CallerFellBack: self._caller_fell_back,
            AgentDialed: self._agent_dialed,
            AgentAnswered: self._agent_answered,
            RouteResult: self._route_result,
            CallHungUp: self._call_hung_up,
            FallbackJoined: self._fallback_joined,
            FallbackRinging: lambda f: self.ledger.fallback_ringing(f.uniqueid, f.at, self._member(f)),
            FallbackRingFailed: lambda f: self.ledger.fallback_ring_failed(f.uniqueid),
            FallbackAnswered: self._fallback_answered,
            FallbackTalkEnded: lambda f: self.ledger.fallback_talk_ended(
                f.uniqueid, f.at, self._member(f), f.hold_s, f.talk_s),
            FallbackAbandoned: lambda f: self.ledger.fallback_abandoned(f.uniqueid, f.at, f.hold_s),
            DeviceChanged: self._device_changed,
        }
        #: agent by device (``PJSIP/1001``, compared without case), from the configured endpoints
        self.agent_of_device = {ep.lower(): agent for agent, ep in endpoints.items()}
        #: the last state each agent's device was seen in (DeviceStateChange / DeviceStateList)
        self.device_states: dict[str, str] = {}

    # ------------------------------------------------------------------ facts in
    def on_ami_message(self, msg: Message, at: datetime) -> None:
        self.stats.ami_events += 1
        for fact in self.tracker.feed(msg, at):
            self.handle(fact)
        if msg.name in TRANSFER_EVENTS:
            self._transferred(msg, at)

    def handle(self, fact: Fact) -> None:
        handler = self._facts.get(type(fact))
        if handler is not None:
            self.stats.facts += 1
            handler(fact)

    def _transferred(self, msg: Message, at: datetime) -> None:
        """The agent blind-transferred the caller to a department or handed them off to 110/119/120/122:
        the agent's talk ends now (wrap-up follows); the record closes at the caller's hang-up, answered."""
        call_id = msg.get("TransfereeUniqueid") or ""
        if msg.get("Result") != "Success" or call_id not in self.ledger.calls:
            return
        log.info("call %s: %s to %s", call_id, msg.name,
                 msg.get("Extension") or msg.get("TransferTargetChannel") or "?")
        if self.ledger.talk_ended(call_id, at) and self.engine.call_state(call_id) is not None:
            self.feed(CallEnded(at=at, call_id=call_id))

    def _call_started(self, f: CallStarted) -> None:
        self.journal.save(self.ledger.started(
            f.uniqueid, f.at, linkedid=f.linkedid, channel=f.channel, number=f.caller_number, name=f.caller_name
        ))

    def _caller_held(self, f: CallerHeld) -> None:
        entry = self.ledger.entry(f.uniqueid, f.at)
        if not entry.channel:
            entry.channel = f.channel
        if entry.queue is None:
            # No IVR result (the AGI failed but the dialplan held the caller anyway): never strand
            # the caller; the first queue is the centre's general line.
            entry.queue = self.queue_names[0]
        if self.ledger.held(f.uniqueid, f.at):
            assert entry.queued_at is not None and entry.queue is not None
            self.journal.save(entry)
            self.live.set_waiting(entry.queue, f.uniqueid, entry.queued_at)
            self.feed(CallQueued(at=f.at, call_id=f.uniqueid, queue=entry.queue, caller=entry.caller_number,
                                 priority=entry.priority, skills=entry.skills))

    def _agent_dialed(self, f: AgentDialed) -> None:
        self.ledger.dialed(f.uniqueid, f.at)
        self.ringing(f.uniqueid, f.dest_channel, f.at)

    def _agent_answered(self, f: AgentAnswered) -> None:
        known = self.ledger.calls.get(f.uniqueid)
        if known is not None and known.fallback_queue:
            return  # app_queue's own Dial: its AgentConnect says who answered (_fallback_answered)
        self.answered(f.uniqueid, f.at)
        entry = self.ledger.answered(f.uniqueid, f.at)
        if entry is None or entry.agent_id is None:
            return
        self.live.clear_waiting(f.uniqueid)
        if entry.queue is not None and entry.queued_at is not None and entry.answered_at is not None:
            self.live.set_answered(f.uniqueid, entry.queue, entry.agent_id, entry.queued_at, entry.answered_at)
        self.journal.save(entry)
        self.feed(OfferAnswered(at=f.at, call_id=f.uniqueid, agent_id=entry.agent_id))

    def _route_result(self, f: RouteResult) -> None:
        status = f.dial_status.upper()
        if status == "ANSWER":
            if self.ledger.talk_ended(f.uniqueid, f.at):
                self.feed(CallEnded(at=f.at, call_id=f.uniqueid))
            return
        entry = self.ledger.calls.get(f.uniqueid)
        if entry is None or entry.offer_agent is None:
            return
        if self.engine.call_state(f.uniqueid) is CallState.TALKING:
            # A held caller rang their agent again and nobody answered: the caller is back in [cc-hold], still
            # the agent's call for the ACD (no offer failed); the desk shows them held, to take back.
            if status in DIAL_FAILURES:
                self.ring_back_failed(f.uniqueid, f.at)
            return
        agent = entry.offer_agent
        self.ledger.offer_failed(f.uniqueid)
        reason = DIAL_FAILURES.get(status)
        if reason is None:  # CANCEL: the caller hung up while ringing; the Hangup closes the call
            return
        self.feed(OfferFailed(at=f.at, call_id=f.uniqueid, agent_id=agent, reason=reason))

    def _caller_fell_back(self, f: CallerFellBack) -> None:
        """The dialplan gave the caller to Asterisk's own queue (CC_HOLD_MAX, no daemon, ACD fallback)."""
        if f.uniqueid not in self.ledger.calls:
            return
        self.ledger.fell_back(f.uniqueid, f.at)
        if self.engine.call_state(f.uniqueid) is CallState.WAITING:
            self.feed(CallLeft(at=f.at, call_id=f.uniqueid))
        self.live.clear_waiting(f.uniqueid)

    # ---- Asterisk's own queue and the agents' devices
    def _member(self, f: FallbackRinging | FallbackAnswered | FallbackTalkEnded) -> str:
        """The agent a queue member is: by its device (Interface), else its MemberName, else the device."""
        agent = self.agent_of_device.get(f.interface.lower())
        if agent is None and f.member in self.endpoints:
            agent = f.member
        return agent or f.interface

    def _fallback_joined(self, f: FallbackJoined) -> None:
        if f.uniqueid not in self.ledger.calls:
            return
        if self.engine.call_state(f.uniqueid) is CallState.WAITING:  # its CcFallback was missed
            self.feed(CallLeft(at=f.at, call_id=f.uniqueid))
        self.ledger.fallback_joined(f.uniqueid, f.at, f.queue)
        self.live.clear_waiting(f.uniqueid)

    def _fallback_answered(self, f: FallbackAnswered) -> None:
        entry = self.ledger.fallback_answered(f.uniqueid, f.at, self._member(f), f.hold_s)
        if entry is not None:
            self.journal.save(entry)

    def _device_changed(self, f: DeviceChanged) -> None:
        """An agent's phone is in use (or free again), whoever placed the call: the ACD offers no call
        to a busy device (a fallback-queue call, a direct call, the agent's own outbound call)."""
        agent = self.agent_of_device.get(f.device.lower())
        if agent is None:
            return
        state = f.state.upper()
        old = self.device_states.get(agent)
        self.device_states[agent] = state
        busy = state in BUSY_DEVICE_STATES
        if old is not None and (old in BUSY_DEVICE_STATES) == busy:
            return  # Asterisk often repeats a state
        self.feed(AgentDeviceChanged(at=f.at, agent_id=agent, busy=busy))

    def devices_seen(self, states: dict[str, str], at: datetime) -> None:
        """The resync's DeviceStateList (or the busy devices of CoreShowChannels): every agent device's
        state now; an agent's device that is not listed is taken as free."""
        wanted = {dev.lower(): st for dev, st in states.items()}
        for agent, endpoint in self.endpoints.items():
            state = wanted.get(endpoint.lower(), "NOT_INUSE")
            self.device_states.pop(agent, None)  # a fresh view: every agent's state goes to the engine
            self._device_changed(DeviceChanged(at, endpoint, state))

    def _call_hung_up(self, f: CallHungUp, *, resync: bool = False) -> None:
        entry = self.ledger.calls.get(f.uniqueid)
        if entry is None:
            return
        in_acd = self.engine.call_state(f.uniqueid) is not None  # not so for a call taken over by a resync
        if entry.answered_at is not None:
            if self.ledger.talk_ended(f.uniqueid, f.at) and in_acd:
                self.feed(CallEnded(at=f.at, call_id=f.uniqueid))
        elif entry.queued_at is not None and not entry.fallback and in_acd:  # a fallback already closed it in the ACD
            self.feed(CallLeft(at=f.at, call_id=f.uniqueid))
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
        self.journal.close_call(record, self.ledger.calls.values())
        self.offer_generation.pop(record.call_id, None)
        self.live.add_record(record)
        self.recorded(record)

    # ------------------------------------------------------------------ the engine
    def feed(self, event: Event) -> None:
        """One event into the engine, its commands carried out; a refusal is counted and dropped."""
        try:
            commands = self.engine.handle(event)
        except (EngineError, IllegalTransition) as exc:
            # A fact the engine cannot accept (a late event for a call it already closed) is counted
            # and dropped; it must never take the daemon down.
            self.stats.engine_errors += 1
            log.warning("engine refused %s: %s", type(event).__name__, exc)
            return
        self.execute(commands)

    def command(self, event: Event) -> None:
        """An agent's (or supervisor's) command: a refusal raises EngineError or IllegalTransition."""
        self.execute(self.engine.handle(event))

    def timer_fired(self, key: TimerKey, at: datetime) -> None:
        self.feed(TimerFired(at=at, key=key))

    def execute(self, commands: Sequence[Command]) -> None:
        for cmd in commands:
            if isinstance(cmd, OfferCall):
                self.ledger.offered(cmd.call_id, cmd.agent_id, cmd.at)
                if self.offer_clock is not None:
                    self.offer_clock.offered(cmd.call_id)
                self.send(cmd)
            elif isinstance(cmd, CallOutcome):
                self._outcome(cmd)
            elif isinstance(cmd, CallMoved):
                entry = self.ledger.calls.get(cmd.call_id)
                if entry is not None and entry.waiting and entry.queued_at is not None and entry.offer_agent is None:
                    self.live.set_waiting(cmd.new_queue, cmd.call_id, entry.queued_at)
                log.info("call %s moved from %s to %s (%s)", cmd.call_id, cmd.old_queue, cmd.new_queue, cmd.reason)
            elif isinstance(cmd, PlaceCallback):
                self.stats.callbacks_requested += 1
                self.place_callback(cmd)
            elif isinstance(cmd, StartTimer):
                self.timers.start(cmd.key, cmd.due)
            elif isinstance(cmd, CancelTimer):
                self.timers.cancel(cmd.key)
            elif isinstance(cmd, AgentQueuesChanged):
                self.live.agent_queues[cmd.agent_id] = cmd.new  # the wallboard's ready-per-queue counts
                log.info("agent %s now serves %s (by %s)", cmd.agent_id, ",".join(cmd.new), cmd.by)
            elif isinstance(cmd, AgentStateChanged):
                self.live.set_agent_state(cmd.agent_id, cmd.new.value)
                log.debug("agent %s: %s -> %s (%s)", cmd.agent_id, cmd.old, cmd.new, cmd.reason)
                for listener in self.agent_listeners:
                    listener(cmd)

    def _outcome(self, cmd: CallOutcome) -> None:
        context = FALLBACK_CONTEXTS.get(cmd.outcome)
        if context is not None:
            self.stats.fallbacks += 1
            log.info("call %s leaves queue %s after %.0f s: %s", cmd.call_id, cmd.queue, cmd.waited, context)
            self.ledger.fell_back(cmd.call_id, cmd.at)
            self.live.clear_waiting(cmd.call_id)
            self.send(RedirectCaller(cmd.call_id, context))
            if cmd.outcome is Outcome.FALLBACK_CALLBACK and (e := self.ledger.calls.get(cmd.call_id)) is not None:
                self.callback_requested(cmd.call_id, e.caller_number, cmd.queue, e.queued_at or cmd.at)  # 回电

    # ------------------------------------------------------------------ the executor's side
    def channel(self, call_id: str) -> str | None:
        """The caller's channel while the call is in flight (None: hung up meanwhile)."""
        entry = self.ledger.calls.get(call_id)
        return entry.channel if entry is not None else None

    def offer_sent(self, call_id: str, generation: int) -> None:
        self.offer_generation[call_id] = generation

    def offer_not_sent(self, offer: OfferCall, at: datetime) -> None:
        """The PBX refused the offer's actions: the ACD offers the call again."""
        entry = self.ledger.calls.get(offer.call_id)
        if entry is not None and entry.offer_agent == offer.agent_id:
            self.ledger.offer_failed(offer.call_id)
            self.feed(OfferFailed(at=at, call_id=offer.call_id, agent_id=offer.agent_id, reason="failed"))

    # ------------------------------------------------------------------ CallRepairs (callcenter/resync/runner.py)
    def known_calls(self, generation: int) -> dict[str, KnownCall]:
        return {cid: KnownCall(cid, e.state, e.offer_agent or e.agent_id,
                               e.offer_agent is not None and self.offer_generation.get(cid) == generation)
                for cid, e in self.ledger.calls.items()}

    def call_ids(self) -> set[str]:
        return set(self.ledger.calls)

    def take_over(self, entry: CallEntry) -> None:
        self.ledger.calls.setdefault(entry.call_id, entry)

    def close_gone(self, call_id: str, now: datetime) -> None:
        """Asterisk no longer has the call: close it now, as if its Hangup had arrived (cause unknown)."""
        self._call_hung_up(CallHungUp(now, call_id, call_id, 0, "resync"), resync=True)

    def record_unseen(self, fate: Fate) -> None:
        self.ledger.calls[fate.call_id] = CallEntry(
            call_id=fate.call_id, entered_at=fate.started_at, linkedid=fate.linkedid, channel=fate.channel,
            caller_number=fate.caller_number, caller_name=fate.caller_name)
        self.close_from_cdr(fate.call_id, fate)

    def close_from_cdr(self, call_id: str, fate: Fate) -> None:
        """Asterisk's CDRs say how a call ended that the daemon could not see end: the ACD lets it go,
        the record says what the CDRs say (answered by whom; or where the caller was), times from them."""
        e = self.ledger.calls.get(call_id)
        if e is None:
            return
        now = self.now()
        state = self.engine.call_state(call_id)
        if fate.phase == "answered" and state is CallState.RINGING and e.offer_agent == fate.agent:
            self._agent_answered(AgentAnswered(now, call_id, ""))  # the agent did talk: wrap-up as usual
            state = self.engine.call_state(call_id)
            if e.answered_at is not None and fate.answered_at is not None:  # when it happened, not when heard
                e.answered_at = max(min(e.answered_at, fate.answered_at), e.offered_at or e.answered_at)
        if state is CallState.TALKING:
            self.feed(CallEnded(at=now, call_id=call_id))
        elif state is not None:
            self.feed(CallLeft(at=now, call_id=call_id))
        _cdr_facts(e, fate, self.queue_names[0])
        if e.answered_at is not None:
            self.ledger.talk_ended(call_id, fate.talk_ended_at or fate.ended_at)
        self._call_hung_up(CallHungUp(fate.ended_at, call_id, call_id, 0, "cdr"), resync=True)

    def adopt(self, ch: LiveChannel, base: CallEntry | None, now: datetime) -> None:
        """A call alive in Asterisk that the flow does not know (or knows from the journal only): taken at
        its live stage. The daemon that knew it is gone: what it had in flight is void."""
        stage = ch.stage
        entered = base.entered_at if base is not None else ch.entered_at(now)
        e = base or CallEntry(call_id=ch.uniqueid, entered_at=entered)
        e.linkedid, e.channel = ch.linkedid, ch.name
        e.caller_number = e.caller_number or ch.caller_number
        e.caller_name = e.caller_name or ch.caller_name
        e.ivr_path = e.ivr_path or ch.var("CC_IVR_PATH")
        e.language = e.language or ch.var("CC_LANG")
        e.queue = e.queue or ch.var("CC_QUEUE") or None
        e.offer_agent, e.ringing, e.agent_id, e.answered_at, e.talk_ended_at = None, False, None, None, None
        self.ledger.calls[ch.uniqueid] = e
        self.journal.save(e)
        if stage is Live.IVR:
            return  # its CcHold (or the fallback) comes later
        if stage is Live.FALLBACK:
            self.ledger.fell_back(e.call_id, now)
            return
        agent = ch.var("CC_AGENT")
        if e.queue is None or e.queue not in self.queue_names:
            e.queue = self.queue_names[0]
        if e.queued_at is None:
            e.queued_at = entered
        if stage is Live.HOLD:
            self._requeue(e, entered, now)
        elif stage is Live.AFTER:
            e.offer_agent = e.agent_id = agent or None
            e.offers = max(e.offers, 1)
            e.offered_at = e.offered_at or e.queued_at
            e.answered_at = e.talk_ended_at = now if agent else None
        else:  # ringing or talking with CC_AGENT
            self._adopt_routed(e, agent, talking=stage is Live.TALKING, entered=entered, now=now)

    def _requeue(self, entry: CallEntry, entered: datetime, now: datetime) -> None:
        """A caller on hold the engine does not know: back in the queue at the original place."""
        assert entry.queue is not None
        entry.queued_at = entry.queued_at or entered
        self.live.set_waiting(entry.queue, entry.call_id, entry.queued_at)
        self.journal.save(entry)
        self.feed(CallQueued(at=now, call_id=entry.call_id, queue=entry.queue, caller=entry.caller_number,
                             priority=entry.priority, skills=entry.skills, entered_at=min(entered, now)))

    def _adopt_routed(self, entry: CallEntry, agent: str, *, talking: bool, entered: datetime,
                      now: datetime) -> None:
        """A caller ringing or talking to ``agent`` (CC_AGENT): the engine takes it as an offer to that agent."""
        ok = agent in self.endpoints and self._offer_to(entry, agent, entered, now)
        if not ok:
            # The engine would not give it to that agent: keep the record, leave the routing to Asterisk.
            if self.engine.call_state(entry.call_id) is not None:
                self.feed(CallLeft(at=now, call_id=entry.call_id))
            entry.offer_agent = agent or None
            log.warning("resync: call %s with agent %r tracked outside the ACD", entry.call_id, agent)
        self.ledger.dialed(entry.call_id, now)
        if talking:
            if ok:
                self._agent_answered(AgentAnswered(now, entry.call_id, ""))
            else:
                self.ledger.answered(entry.call_id, now)
        self.journal.save(entry)

    def _offer_to(self, entry: CallEntry, agent: str, entered: datetime, now: datetime) -> bool:
        """Queue the call preferring ``agent``; True when the engine offers it to them (already ringing:
        no Redirect goes out for it)."""
        assert entry.queue is not None
        try:
            commands = self.engine.handle(CallQueued(
                at=now, call_id=entry.call_id, queue=entry.queue, caller=entry.caller_number,
                priority=entry.priority, skills=entry.skills, entered_at=min(entered, now),
                preferred_agent=agent, prefer_until=now + timedelta(hours=1)))
        except (EngineError, IllegalTransition) as exc:
            log.warning("resync: engine refused call %s: %s", entry.call_id, exc)
            return False
        ok = False
        for cmd in commands:
            if isinstance(cmd, OfferCall) and cmd.call_id == entry.call_id:
                ok = cmd.agent_id == agent
                if ok:
                    self.ledger.offered(entry.call_id, agent, now)
                    continue
            self.execute([cmd])
        return ok

    def repair(self, kind: Kind, call_id: str, ch: LiveChannel, now: datetime) -> None:
        """A known call moved on while the daemon was deaf: replay the fact it missed."""
        if kind is Kind.QUEUE:
            self._caller_held(CallerHeld(now, call_id, ch.name))
        elif kind is Kind.RING_FAILED:
            entry = self.ledger.calls.get(call_id)
            agent = entry.offer_agent if entry else None
            self.ledger.offer_failed(call_id)
            if agent is not None and self.engine.call_state(call_id) is CallState.RINGING:
                self.feed(OfferFailed(at=now, call_id=call_id, agent_id=agent, reason="noanswer"))
        elif kind is Kind.ANSWERED:
            self._agent_answered(AgentAnswered(now, call_id, ""))
        elif kind is Kind.TALK_ENDED:
            self._route_result(RouteResult(now, call_id, ch.var("CC_AGENT"), "ANSWER"))
        elif kind is Kind.FELL_BACK:
            self._caller_fell_back(CallerFellBack(now, call_id))
        else:
            raise ValueError(f"{kind.value!r} is not a repair of a known call")

    def follow_channels(self, live: Sequence[LiveChannel]) -> None:
        alive = {ch.uniqueid for ch in live}
        for uid in [u for u in self.tracker.channels if u not in alive]:
            self.tracker.forget(uid)
        for ch in live:
            if ch.stage is not None or ch.uniqueid not in self.tracker.channels:
                self.tracker.adopt(Channel(ch.uniqueid, ch.linkedid, ch.name, ch.caller_number, ch.caller_name,
                                           ch.context, ch.exten, ch.state, is_caller=ch.stage is not None))


def _cdr_facts(e: CallEntry, fate: Fate, general_queue: str) -> None:
    """What the CDRs say a call did, written into its entry (the engine has let it go already)."""
    if e.answered_at is None and fate.phase in ("answered", "ringing", "queue"):
        e.queue = e.queue or general_queue
        e.queued_at = e.queued_at or e.entered_at
        if fate.phase == "queue":
            e.offer_agent, e.ringing = None, False
        elif not e.ringing or fate.phase == "answered":
            e.offer_agent = fate.agent or e.offer_agent
            e.ringing, e.offers = True, e.offers + (0 if e.ringing else 1)
            e.offered_at = e.offered_at or e.queued_at
        if fate.phase == "answered":
            e.fallback_queue = e.fallback_queue or fate.via_fallback or e.fallback
            e.agent_id = fate.agent
            e.answered_at = max(fate.answered_at or fate.ended_at, e.offered_at or e.queued_at)
    elif fate.phase == "fallback" and e.answered_at is None:
        e.fallback = True
