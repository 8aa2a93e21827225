"""The ACD: ``Engine(config).handle(event) -> list[Command]``.

Sans-IO: no clock, no I/O. Time comes on the events; timers leave as StartTimer and come back as
TimerFired. After every handle() no call waits while an agent that may take it is ready: each path
that makes an agent ready or a call waiting ends in a dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from agents.state import FORCE_INPUTS, RING_FAILURE_REASONS, AgentInput, AgentState, next_state
from records.model import Outcome

from . import events as ev
from .callstate import FALLBACK_OUTCOMES, CallInput, CallState, next_call_state
from .commands import (
    AgentQueuesChanged,
    AgentStateChanged,
    Announce,
    CallMoved,
    CallOutcome,
    CancelTimer,
    Command,
    OfferCall,
    PlaceCallback,
    StartTimer,
)
from .config import EngineConfig, ShiftGate
from .errors import (
    DuplicateCall,
    NotOnShift,
    UnknownAgent,
    UnknownEvent,
    WrongAgentState,
    WrongCallState,
)
from .index import WaitingCalls
from .records import AgentRecord, CallRecord
from .routing import Routing
from .timerkeys import (
    CallTimer,
    EscalateTimer,
    MaxWaitTimer,
    PreferTimer,
    ShiftCloseTimer,
    ShiftLogoutTimer,
    TimerKey,
    WrapUpTimer,
    order,
)

READY = AgentState.READY
WAITING, RINGING, TALKING = CallState.WAITING, CallState.RINGING, CallState.TALKING
Out = list[Command]


class Engine(Routing):
    def __init__(self, config: EngineConfig, shifts: ShiftGate | None = None) -> None:
        super().__init__(config)
        self.shifts = shifts
        self._arrivals = count(1)
        self._offers = count(1)
        self._timer_ids = count(1)
        self._handlers: dict[type, Callable[[Any, Out], None]] = {
            ev.AgentLoggedIn: self._on_logged_in,
            ev.AgentReady: self._on_ready,
            ev.AgentNotReady: self._on_not_ready,
            ev.AgentLoggedOut: self._on_logged_out,
            ev.ForceAgentState: self._on_force,
            ev.ExtendWrapUp: self._on_extend_wrapup,
            ev.CallQueued: self._on_queued,
            ev.CallLeft: self._on_left,
            ev.OfferAnswered: self._on_answered,
            ev.OfferFailed: self._on_offer_failed,
            ev.CallEnded: self._on_ended,
            ev.CallTransferred: self._on_transferred,
            ev.TimerFired: self._on_timer,
            ev.MoveCall: self._on_move,
            ev.SetCallPriority: self._on_priority,
            ev.SetAgentQueues: self._on_agent_queues,
            ev.CallbackRequested: self._on_callback,
            ev.AgentDeviceChanged: self._on_device,
        }

    # ----------------------------------------------------------------------------------- public face

    def handle(self, event: ev.Event) -> list[Command]:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise UnknownEvent(f"the engine does not handle {type(event).__name__}")
        at_ts = event.at.timestamp()
        if at_ts >= self._day_end:
            self._new_day(event.at)
        out: Out = []
        handler(event, out)
        return out

    def agent_state(self, agent_id: str) -> tuple[AgentState, str]:
        """(state, not_ready reason or '')."""
        a = self._agent(agent_id)
        return a.state, a.reason

    def call_state(self, call_id: str) -> CallState | None:
        """WAITING, RINGING, TALKING (equal to 'waiting', 'ringing', 'talking') or None once the call is over
        for the ACD."""
        c = self._calls.get(call_id)
        return c.state if c else None

    def call_agent(self, call_id: str) -> str | None:
        c = self._calls.get(call_id)
        return c.agent if c else None

    def call_queue(self, call_id: str) -> str | None:
        c = self._calls.get(call_id)
        return c.queue if c else None

    # ----------------------------------------------------------------------------------- agents

    def _on_logged_in(self, e: ev.AgentLoggedIn, out: Out) -> None:
        a = self._agent(e.agent_id)
        self._change(a, AgentInput.LOGIN, "login", e.at, "agent", out)

    def _on_ready(self, e: ev.AgentReady, out: Out) -> None:
        a = self._agent(e.agent_id)
        next_state(a.id, a.state, AgentInput.READY)
        self._check_shift(a, e.at)
        if a.state is READY:
            return  # repeated ready: nothing changes
        self._change(a, AgentInput.READY, "", e.at, "agent", out)
        self._dispatch_agent(a, e.at, out)

    def _on_not_ready(self, e: ev.AgentNotReady, out: Out) -> None:
        a = self._agent(e.agent_id)
        self._change(a, AgentInput.NOT_READY, e.reason, e.at, "agent", out)

    def _on_logged_out(self, e: ev.AgentLoggedOut, out: Out) -> None:
        a = self._agent(e.agent_id)
        self._change(a, AgentInput.LOGOUT, "logout", e.at, "agent", out)

    def _on_force(self, e: ev.ForceAgentState, out: Out) -> None:
        a = self._agent(e.agent_id)
        inp = FORCE_INPUTS.get(e.state)
        if inp is None:
            raise WrongCallState(f"a supervisor cannot force state {e.state.value!r}")
        next_state(a.id, a.state, inp)  # raise before any check has side effects
        if e.state is READY:
            self._check_shift(a, e.at)
        reason = e.reason if e.state is AgentState.NOT_READY else e.reason or "forced"
        self._change(a, inp, reason, e.at, e.by, out)
        if a.state is READY:
            self._dispatch_agent(a, e.at, out)

    def _on_device(self, e: ev.AgentDeviceChanged, out: Out) -> None:
        """A busy phone leaves the ready index (the agent stays ready); free again, it is dispatched."""
        a = self._agent(e.agent_id)
        if a.device_busy == e.busy:
            return
        a.device_busy = e.busy
        if a.state is READY:
            if e.busy:
                self._unindex(a)
            else:
                self._index(a, e.at, out)
                self._dispatch_agent(a, e.at, out)

    def _on_extend_wrapup(self, e: ev.ExtendWrapUp, out: Out) -> None:
        """More wrap-up time: the running wrap-up timer is replaced by one due ``seconds`` from now."""
        a = self._agent(e.agent_id)
        if a.state is not AgentState.WRAP_UP:
            raise WrongAgentState(f"agent {a.id!r} is {a.state.value}, not in wrap-up")
        if a.wrap_key is not None:
            out.append(CancelTimer(a.wrap_key))
        a.wrap_key = WrapUpTimer(a.id, next(self._timer_ids))
        out.append(StartTimer(a.wrap_key, e.at + timedelta(seconds=e.seconds)))

    def _check_shift(self, a: AgentRecord, at: datetime) -> None:
        if self.shifts is not None and not self.shifts.ready_allowed(a.id, at):
            raise NotOnShift(f"agent {a.id!r} is not on shift at {at.isoformat()}")

    def _change(self, a: AgentRecord, inp: AgentInput, reason: str, at: datetime, by: str, out: Out) -> None:
        """Apply one row of the agent table (raises before touching anything), keep the indexes and
        the wrap-up timer in step, and write the audit record."""
        old = a.state
        new = next_state(a.id, old, inp)
        new_reason = reason if new is AgentState.NOT_READY else ""
        if old is new and a.reason == new_reason:
            return
        if old is READY:
            self._unindex(a)
        if old is AgentState.WRAP_UP and a.wrap_key is not None:
            out.append(CancelTimer(a.wrap_key))
            a.wrap_key = None
        a.state = new
        a.reason = new_reason
        if new is READY:
            if old is not AgentState.RESERVED:  # a caller who hung up while ringing costs no place
                a.idle_since = at.timestamp()
            self._index(a, at, out)
        elif new is AgentState.LOGGED_OUT:
            a.closing = False
            a.logout_pending = False
            self._release_preferred(a, at, out)
        out.append(AgentStateChanged(a.id, old, new, reason, at, by))
        if new is READY and a.on_break:
            # Free again (wrap-up over, caller gone) inside a scheduled break: the break, not the end
            # of the shift; the agent (or the daemon standing in) makes them ready after it.
            a.on_break = False
            self._change(a, AgentInput.NOT_READY, "break", at, "system", out)

    def _index(self, a: AgentRecord, at: datetime, out: Out) -> None:
        if a.device_busy:
            return  # ready, but the phone is on another call: indexed when it is free (_on_device)
        if self.shifts is not None:
            close = self.shifts.offers_close_at(a.id, at)
            allowed = self.shifts.ready_allowed(a.id, at)
            if not allowed and close is not None and close > at:  # inside the shift: a break
                a.on_break = True
                return
            if not allowed or (close is not None and close <= at):
                self._start_closing(a, at, out)
                return
            a.closing = False
            if close is not None and close != a.close_due:  # one close timer per shift, not per ready
                a.close_due = close
                a.close_key = ShiftCloseTimer(a.id, next(self._timer_ids))
                out.append(StartTimer(a.close_key, close))
        self._add_ready(a)

    # ----------------------------------------------------------------------------------- calls

    def _on_queued(self, e: ev.CallQueued, out: Out) -> None:
        spec = self._queue_spec(e.queue)
        known = self._calls.get(e.call_id)
        if known is not None:
            if known.state == WAITING:
                return  # the dialplan's CcHold after a failed ring: the call already has its place back
            raise DuplicateCall(f"call {e.call_id!r} is already {known.state}")
        if e.preferred_agent is not None:
            self._agent(e.preferred_agent)
        entered = e.entered_at or e.at
        key = (-e.priority, entered.timestamp(), next(self._arrivals))
        c = CallRecord(e.call_id, spec.name, key, e.skills, entered, e.at)
        c.callback = e.callback
        self._calls[c.id] = c
        if (
            e.preferred_agent is not None
            and e.prefer_until is not None
            and e.prefer_until > e.at
            and self._agents[e.preferred_agent].state is not AgentState.LOGGED_OUT  # no one to wait for
        ):
            c.preferred = e.preferred_agent
            self._agents[c.preferred].preferred_calls.add(c.id)
            self._timer(c, PreferTimer(c.id), e.prefer_until, out)
        self._enter_queue(c, e.at, out, check_length=not c.callback)

    def _enter_queue(self, c: CallRecord, at: datetime, out: Out, *, check_length: bool = False) -> None:
        """The call starts waiting in c.queue: timers, then an agent if one is free, else the fallback
        if the queue is full."""
        spec = self.queues[c.queue]
        c.queue_since = at
        if spec.max_wait is not None and not c.callback:
            since = c.entered if c.fallbacks == 0 else at
            self._timer(c, MaxWaitTimer(c.id), since + timedelta(seconds=spec.max_wait), out)
        if spec.escalation:
            self._timer(c, EscalateTimer(c.id, 0), at + timedelta(seconds=spec.escalation[0].after_seconds), out)
        full = spec.max_length is not None and self._waiting_count[c.queue] >= spec.max_length
        self._wait(c)
        self._dispatch_call(c, at, out)
        if c.state == WAITING and check_length and full:
            self._fallback(c, "max_length", at, out)
        elif c.state == WAITING and spec.announce:
            out.append(Announce(c.id, self.position(c.id), self.expected_wait(c.id)))

    def _on_left(self, e: ev.CallLeft, out: Out) -> None:
        c = self._call(e.call_id)
        if c.state == TALKING:
            self._on_ended(ev.CallEnded(e.at, e.call_id), out)
            return
        next_call_state(c.id, c.state, CallInput.LEAVE)  # raises before anything changes
        if c.state == WAITING:
            if c.callback:
                return  # virtual hold: the caller hung up on purpose and keeps the place
            self._unwait(c)
            self._finish(c, Outcome.ABANDONED_QUEUE, e.at, out)
        elif c.state == RINGING:
            a = self._agents[c.agent or ""]
            next_state(a.id, a.state, AgentInput.CALLER_LEFT)
            a.call = None
            self._change(a, AgentInput.CALLER_LEFT, "caller_left", e.at, "system", out)
            self._finish(c, Outcome.ABANDONED_RINGING, e.at, out)
            self._after_call(a, e.at, out)

    def _on_answered(self, e: ev.OfferAnswered, out: Out) -> None:
        c, a = self._ringing(e.call_id, e.agent_id)
        talking = next_call_state(c.id, c.state, CallInput.ANSWER)
        self._change(a, AgentInput.ANSWER, "answered", e.at, "system", out)
        a.calls_today += 1
        c.state = talking
        c.queue_since = e.at  # from now on: when the talk began (for the handle-time average)
        self._finish(c, Outcome.ANSWERED, e.at, out, keep=True)

    def _on_offer_failed(self, e: ev.OfferFailed, out: Out) -> None:
        c, a = self._ringing(e.call_id, e.agent_id)
        waiting = next_call_state(c.id, c.state, CallInput.RING_FAILED)
        self._change(a, AgentInput.RING_FAILED, RING_FAILURE_REASONS[e.reason], e.at, "system", out)
        a.call = None
        if a.logout_pending:
            self._change(a, AgentInput.LOGOUT, "shift_end", e.at, "system", out)
        if c.preferred is not None:
            self._drop_preference(c)
        c.state = waiting
        self._wait(c)  # back at its old place: the key did not change
        self._dispatch_call(c, e.at, out)

    def _on_ended(self, e: ev.CallEnded, out: Out) -> None:
        c = self._call(e.call_id)
        next_call_state(c.id, c.state, CallInput.TALK_ENDED)  # raises unless talking; the call then leaves
        a = self._agents[c.agent or ""]
        self._change(a, AgentInput.CALL_ENDED, "call_ended", e.at, "system", out)
        a.call = None
        del self._calls[c.id]
        # Handle time (talk + wrap-up) as a moving average, for expected-wait announcements.
        handled = (e.at - c.queue_since).total_seconds() + self.queues[c.queue].wrapup_seconds
        self._handle_time[c.queue] += 0.1 * (handled - self._handle_time[c.queue])
        self._start_wrapup(a, c.queue, e.at, out)

    def _on_transferred(self, e: ev.CallTransferred, out: Out) -> None:
        c = self._call(e.call_id)
        if c.state != TALKING:
            raise WrongCallState(f"call {c.id!r} is {c.state}, not talking")
        old = self._agents[c.agent or ""]
        new = self._agent(e.agent_id)
        next_state(new.id, new.state, AgentInput.TRANSFER_IN)
        self._change(new, AgentInput.TRANSFER_IN, "transfer", e.at, "system", out)
        new.call = c.id
        self._change(old, AgentInput.CALL_ENDED, "transferred", e.at, "system", out)
        old.call = None
        c.agent = new.id
        self._start_wrapup(old, c.queue, e.at, out)

    def _start_wrapup(self, a: AgentRecord, queue: str, at: datetime, out: Out) -> None:
        seconds = self.queues[queue].wrapup_seconds
        if seconds > 0:
            a.wrap_key = WrapUpTimer(a.id, next(self._timer_ids))
            out.append(StartTimer(a.wrap_key, at + timedelta(seconds=seconds)))
        else:
            self._wrapup_done(a, at, out)

    def _wrapup_done(self, a: AgentRecord, at: datetime, out: Out) -> None:
        a.wrap_key = None
        if a.logout_pending:
            self._change(a, AgentInput.LOGOUT, "shift_end", at, "system", out)
            return
        self._change(a, AgentInput.WRAPUP_DONE, "wrapup_done", at, "system", out)
        self._dispatch_agent(a, at, out)

    def _after_call(self, a: AgentRecord, at: datetime, out: Out) -> None:
        """The agent is ready again without having talked (the caller left while ringing)."""
        if a.logout_pending:
            self._change(a, AgentInput.LOGOUT, "shift_end", at, "system", out)
        else:
            self._dispatch_agent(a, at, out)

    def _finish(self, c: CallRecord, outcome: Outcome, at: datetime, out: Out, *, keep: bool = False) -> None:
        """The call's one outcome. ``keep``: the call stays known (answered, until CallEnded)."""
        for key in sorted(c.timers, key=order):
            out.append(CancelTimer(key))
        c.timers.clear()
        if c.preferred is not None:
            self._drop_preference(c)
        if not keep:
            del self._calls[c.id]
        out.append(CallOutcome(c.id, outcome, at, c.queue, c.agent, (at - c.entered).total_seconds()))

    def _on_callback(self, e: ev.CallbackRequested, out: Out) -> None:
        c = self._call(e.call_id)
        if c.state != WAITING:
            raise WrongCallState(f"call {c.id!r} is {c.state}: only a waiting call can ask for a callback")
        c.callback = True
        key = MaxWaitTimer(c.id)
        if key in c.timers:  # a virtual caller no longer hears the hold music: no max wait
            c.timers.discard(key)
            out.append(CancelTimer(key))

    def _on_move(self, e: ev.MoveCall, out: Out) -> None:
        c = self._call(e.call_id)
        self._queue_spec(e.queue)
        if e.queue == c.queue:
            return
        self._move(c, e.queue, "supervisor", e.at, out, by=e.by)

    def _move(
        self, c: CallRecord, queue: str, reason: str, at: datetime, out: Out, by: str = "system"
    ) -> None:
        old = c.queue
        if c.state == WAITING:
            self._unwait(c)
            for key in [k for k in c.timers if isinstance(k, (MaxWaitTimer, EscalateTimer))]:
                c.timers.discard(key)
                out.append(CancelTimer(key))
            c.queue = queue
            out.append(CallMoved(c.id, old, queue, reason, at, by))
            self._enter_queue(c, at, out)
        else:
            c.queue = queue  # ringing or talking: it counts for the new queue from now on
            out.append(CallMoved(c.id, old, queue, reason, at, by))

    def _on_priority(self, e: ev.SetCallPriority, out: Out) -> None:
        c = self._call(e.call_id)
        c.key = (-e.priority, c.key[1], c.key[2])
        if c.state == WAITING:
            self._unwait(c)
            self._wait(c)
            self._dispatch_call(c, e.at, out)

    def _on_agent_queues(self, e: ev.SetAgentQueues, out: Out) -> None:
        a = self._agent(e.agent_id)
        for q in e.queues:
            self._queue_spec(q)  # an unknown queue raises before anything changes
        if e.queues == a.queues:
            return
        old = a.queues
        self._set_queues(a, e.queues)
        out.append(AgentQueuesChanged(a.id, old, e.queues, e.at, e.by))
        self._dispatch_agent(a, e.at, out)  # a ready agent may take a caller of the new queue at once

    # ----------------------------------------------------------------------------------- timers

    def _timer(self, c: CallRecord, key: CallTimer, due: datetime, out: Out) -> None:
        c.timers.add(key)
        out.append(StartTimer(key, due))

    def _on_timer(self, e: ev.TimerFired, out: Out) -> None:
        key: TimerKey = e.key
        if isinstance(key, (WrapUpTimer, ShiftCloseTimer, ShiftLogoutTimer)):
            a = self._agents.get(key.agent_id)
            if a is not None:
                self._agent_timer(a, key, e.at, out)
            return
        c = self._calls.get(key.call_id)
        if c is None or key not in c.timers:
            return  # stale: the call is gone or the timer was replaced
        c.timers.discard(key)
        if isinstance(key, MaxWaitTimer) and c.state == WAITING:
            self._fallback(c, "max_wait", e.at, out)
        elif isinstance(key, EscalateTimer) and c.state == WAITING:
            self._escalate(c, key.step, e.at, out)
        elif isinstance(key, PreferTimer) and c.preferred is not None:
            self._drop_preference(c)
            if c.state == WAITING:
                self._waiting[c.queue].push(c.skills, c.key, c.id, c.version)
                self._dispatch_call(c, e.at, out)

    def _agent_timer(self, a: AgentRecord, key: WrapUpTimer | ShiftCloseTimer | ShiftLogoutTimer, at: datetime,
                     out: Out) -> None:
        if isinstance(key, WrapUpTimer):
            if a.wrap_key == key and a.state is AgentState.WRAP_UP:
                self._wrapup_done(a, at, out)
        elif isinstance(key, ShiftCloseTimer):
            if a.close_key != key:
                return  # stale
            a.close_key = None
            if a.state is not AgentState.LOGGED_OUT and not a.closing:
                if a.state is READY:
                    self._unindex(a)
                self._start_closing(a, at, out)  # on a call too: the logout waits for its end
        else:
            self._shift_logout(a, at, out)

    def _start_closing(self, a: AgentRecord, at: datetime, out: Out) -> None:
        """The last minutes of a shift: no new offers; log out at the end plus grace."""
        a.closing = True
        assert self.shifts is not None
        due = self.shifts.logout_at(a.id, at)
        if due is not None:
            out.append(StartTimer(ShiftLogoutTimer(a.id, next(self._timer_ids)), max(due, at)))

    def _shift_logout(self, a: AgentRecord, at: datetime, out: Out) -> None:
        if self.shifts is not None and self.shifts.ready_allowed(a.id, at) and not a.closing:
            return  # a new shift began meanwhile
        if a.state in (AgentState.RESERVED, AgentState.ON_CALL):
            a.logout_pending = True  # a call in progress is never cut
        elif a.state is not AgentState.LOGGED_OUT:
            self._change(a, AgentInput.LOGOUT, "shift_end", at, "system", out)

    def _escalate(self, c: CallRecord, step: int, at: datetime, out: Out) -> None:
        spec = self.queues[c.queue]
        s = spec.escalation[step]
        if s.relax_levels:
            relaxed = tuple((n, lvl - s.relax_levels) for n, lvl in c.skills if lvl - s.relax_levels > 0)
            self._unwait(c)
            c.skills = relaxed
            self._wait(c)
        if s.overflow_to and s.overflow_to != c.queue:
            self._move(c, s.overflow_to, "escalation", at, out)
            return
        if step + 1 < len(spec.escalation):
            nxt = spec.escalation[step + 1]
            due = c.queue_since + timedelta(seconds=nxt.after_seconds)
            self._timer(c, EscalateTimer(c.id, step + 1), due, out)
        self._dispatch_call(c, at, out)

    def _fallback(self, c: CallRecord, why: str, at: datetime, out: Out) -> None:
        fb = self.queues[c.queue].fallback
        if fb.kind == "queue" and fb.target and fb.target != c.queue and c.fallbacks == 0:
            c.fallbacks += 1
            self._move(c, fb.target, why, at, out)
            return
        self._unwait(c)
        outcome = FALLBACK_OUTCOMES.get(fb.kind, Outcome.FALLBACK_VOICEMAIL)
        self._finish(c, outcome, at, out)

    # ----------------------------------------------------------------------------------- routing

    def _dispatch_call(self, c: CallRecord, at: datetime, out: Out) -> None:
        """A call just started waiting: give it to the best ready agent, if any may take it."""
        if c.preferred is not None:
            a = self._agents[c.preferred]
            if a.state is READY and not a.closing and not a.device_busy:
                self._offer(c, a, at, out)
            return
        agents = self._agents
        skills = c.skills
        for aid in self._ready[c.queue]:
            a = agents[aid]
            if a.meets(skills):
                self._offer(c, a, at, out)
                return

    def _dispatch_agent(self, a: AgentRecord, at: datetime, out: Out) -> None:
        """An agent just became ready: the highest-priority, longest-waiting call it may take across
        its queues (its preferred callers count as in its queues)."""
        if a.state is not READY or a.closing or a.device_busy:
            return
        best = None
        best_id = ""
        calls = self._calls
        is_live = self._is_live
        for q in a.queues:
            for skills, heap in self._waiting[q].heaps.items():
                if heap and a.meets(skills):
                    head = WaitingCalls.head(heap, is_live)
                    if head is not None and (best is None or head[0] < best):
                        best, best_id = head
        for cid in a.preferred_calls:
            pc = calls[cid]
            if pc.state == WAITING and (best is None or pc.key < best):
                best, best_id = pc.key, cid
        if best is not None:
            self._offer(calls[best_id], a, at, out)

    def _offer(self, c: CallRecord, a: AgentRecord, at: datetime, out: Out) -> None:
        ringing = next_call_state(c.id, c.state, CallInput.OFFER)
        self._change(a, AgentInput.OFFER, "offer", at, "system", out)
        a.call = c.id
        a.last_offer[c.queue] = next(self._offers)
        self._unwait(c)
        c.state = ringing
        c.agent = a.id
        if c.callback:
            out.append(PlaceCallback(c.id, a.id, c.queue, at))
        else:
            out.append(OfferCall(c.id, a.id, c.queue, at))

    # ----------------------------------------------------------------------------------- helpers

    def _release_preferred(self, a: AgentRecord, at: datetime, out: Out) -> None:
        """An agent who logs out no longer holds calls that preferred them."""
        for cid in sorted(a.preferred_calls):
            c = self._calls[cid]
            self._drop_preference(c)
            if c.state == WAITING:
                self._waiting[c.queue].push(c.skills, c.key, c.id, c.version)
                self._dispatch_call(c, at, out)

    def _drop_preference(self, c: CallRecord) -> None:
        if c.preferred is not None:
            self._agents[c.preferred].preferred_calls.discard(c.id)
            c.preferred = None
            c.timers.discard(PreferTimer(c.id))

    def _agent(self, agent_id: str) -> AgentRecord:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}")
        return a

    def _ringing(self, call_id: str, agent_id: str) -> tuple[CallRecord, AgentRecord]:
        c = self._call(call_id)
        a = self._agent(agent_id)
        if c.state != RINGING or c.agent != agent_id:
            raise WrongCallState(f"call {call_id!r} is not ringing at agent {agent_id!r}")
        return c, a
