"""The agent desktop's daemon side: what the desk's routes (callcenter/web/desktop.py) ask of the daemon.

`DaemonDesk` implements `DeskBackend` on the running daemon: the screen-pop when an agent's phone rings,
state pushes, ready / not ready / log out (desk commands -> ACD events, :func:`desk_events`), and call
control, which maps to AMI with :func:`control_actions` (pure) through one table, `CONTROLS`: hold = Park,
retrieve (取回) = Redirect of the parked caller to [cc-route] (the agent's phone rings with the same call),
hang-up = Hangup of the agent's leg (of the parked caller while held), transfer to a department =
BlindTransfer, hand-off to 110/119/120/122 = Atxfer (the agent stays on until the emergency line takes the
call). The dialplan side is [cc-route], [cc-transfer] and [cc-handoff] in
asterisk/conf/extensions_callcenter.conf.

A held call is the agent's still (the ACD keeps them on the call); the desk hears `hold` events (held,
until when) and the call coming back rings with the same call id, so the page keeps its draft. The desk
page sends a heartbeat; an agent whose page is silent for ``web.desk_heartbeat_seconds`` is made not ready
(reason ``desk_offline``) once they are free (ready or in wrap-up), through the engine's own events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from asterisk.ami.client import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout
from callcenter.callflow import CallFlow
from callcenter.ivr_words import ivr_words
from callcenter.screenpop import AgentHub, RingingCall, ScreenPop
from config.models import Config
from queueing import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    EngineError,
    ExtendWrapUp,
    IllegalTransition,
    NotOnShift,
    UnknownAgent,
)
from queueing.events import Event
from tickets.departments import GROUP_NAMES
from tickets.service import TicketService

log = logging.getLogger("callcenter.desktop")

PARK_TIMEOUT_MS = 120_000
ROUTE_CONTEXT = "cc-route"
HEARTBEAT_CHECK_SECONDS = 1.0
# Dialplan contexts the call-control actions use (see docs/mqtt.md, "Call control in the dialplan").
TRANSFER_CONTEXT = "cc-transfer"
HANDOFF_CONTEXT = "cc-handoff"
HANDOFF_NUMBERS = {"110": "公安 Police", "119": "消防 Fire", "120": "急救 Ambulance", "122": "交警 Traffic police"}
# Departments' hotlines a call can be transferred to (extension in the cc-transfer context -> label).
TRANSFER_TARGETS = {"8101": "住建局 Housing", "8102": "交通运输局 Transport", "8103": "人社局 Social security",
                    "8104": "市场监管局 Market regulation", "8105": "生态环境局 Environment"}
# The unit groups (tickets/departments.py) a ticket can be dispatched to from the desk, in the directory's order.
DISPATCH_GROUPS = ("county", "city_department", "public_service")


class DeskError(Exception):
    """A desk command the daemon refused; `slug` is the stable error id."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


# ------------------------------------------------------------------ call control (pure)

Action = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Control:
    """One call-control button: the AMI action, its fields, and the targets it accepts (None: no target)."""

    ami_action: str
    fields: Callable[[str, str, str], dict[str, Any]]  # (target, caller channel, agent channel) -> fields
    targets: Mapping[str, str] | None = None


CONTROLS: dict[str, Control] = {
    "hold": Control("Park", lambda _t, caller, agent: {
        "Channel": caller, "TimeoutChannel": agent, "Timeout": PARK_TIMEOUT_MS}),
    # target: the agent id (the desk fills it in): [cc-route] rings that agent again with the caller
    "retrieve": Control("Redirect", lambda t, caller, _a: {
        "Channel": caller, "Context": ROUTE_CONTEXT, "Exten": t, "Priority": 1}),
    # target: the channel to hang up (the desk fills it in: the agent's leg, or the parked caller)
    "hangup": Control("Hangup", lambda t, _c, _a: {"Channel": t, "Cause": 16}),
    "transfer": Control("BlindTransfer", lambda t, _c, agent: {
        "Channel": agent, "Context": TRANSFER_CONTEXT, "Exten": t}, TRANSFER_TARGETS),
    "handoff": Control("Atxfer", lambda t, _c, agent: {
        "Channel": agent, "Context": HANDOFF_CONTEXT, "Exten": t}, HANDOFF_NUMBERS),
}


def control_actions(action: str, target: str, *, caller_channel: str, agent_channel: str) -> list[Action]:
    """The AMI actions for one call-control request (DeskError 422 for an unknown action or target)."""
    control = CONTROLS.get(action)
    if control is None:
        raise DeskError(422, "invalid_action", f"action is one of {', '.join(CONTROLS)}")
    if control.targets is not None and target not in control.targets:
        raise DeskError(422, "invalid_target", f"{action} goes to one of {', '.join(control.targets)}")
    return [(control.ami_action, control.fields(target, caller_channel, agent_channel))]


def ticket_choices(service: TicketService, language: str, timezone: str = "UTC") -> dict[str, Any]:
    """The ticket form's choices from the tickets configuration: {code: label} per field, and the category a
    queue pre-fills (a complaints queue files a complaint, every other queue the first category)."""
    cfg = service.cfg
    categories = {c.code: c.name.get(language) for c in cfg.categories}
    first = next(iter(categories), "")
    return {
        "categories": categories,
        "topics": dict(cfg.topic_names(language)),
        "districts": {d.code: d.name(language) for d in service.directory if d.group == "county"},
        "departments": {d.code: d.name(language) for d in service.directory if d.group in DISPATCH_GROUPS},
        "department_names": {d.code: d.name(language) for d in service.directory},  # the pop's open tickets
        # the searchable picker: one group per kind of unit, as the directory has them
        "department_groups": [
            {"group": g, "label": GROUP_NAMES["en" if language == "en" else "zh"][g],
             "departments": [[d.code, d.name(language)] for d in service.directory if d.group == g]}
            for g in DISPATCH_GROUPS],
        "queue_category": {"complaints": "complaint" if "complaint" in categories else first, "": first},
        "timezone": timezone,
    }


# ------------------------------------------------------------------ the daemon side


class DeskBackend(Protocol):
    hub: AgentHub
    tickets_api: bool

    def state(self, agent_id: str) -> dict[str, Any]: ...
    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]: ...
    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]: ...
    def extend_wrapup(self, agent_id: str, seconds: int) -> dict[str, Any]: ...
    def heartbeat(self, agent_id: str) -> None: ...
    def page_options(self) -> dict[str, Any]: ...
    def agents(self) -> list[dict[str, Any]]: ...


@dataclass
class ActiveCall:
    call_id: str
    caller_channel: str
    agent_channel: str
    queue: str | None
    held: bool = False  # parked by the agent, or waiting in [cc-hold] after a ring-back nobody answered
    held_until: datetime | None = None  # parked: the PBX rings the agent back then
    ringing_back: bool = False  # the held caller rings the agent again (taken back, or the hold ran out)


class DaemonDesk:
    """`DeskBackend` on the running daemon."""

    def __init__(self, *, flow: CallFlow, cfg: Config, screenpop: ScreenPop, ami: AmiClient,
                 now: Callable[[], datetime], manual_agents: set[str], menu: Callable[[], Any] | None = None,
                 ami_of: Callable[[str], AmiClient] | None = None) -> None:
        """``manual_agents``: agents under the desktop's control (the autopilot leaves them alone);
        ``menu``: the IVR menu now (the pop says the caller's choices in words); ``ami_of(call_id)``: the AMI
        of the PBX a call is on (several PBXs), default ``ami``."""
        self.flow, self.cfg, self.screenpop, self.ami, self.now = flow, cfg, screenpop, ami, now
        self.ami_of = ami_of or (lambda _call_id: ami)
        self.manual_agents = manual_agents
        self.menu = menu
        self.hub: AgentHub = screenpop.hub
        self.calls: dict[str, ActiveCall] = {}  # agent id -> the call ringing at / talking with the agent
        # True once the tickets API (callcenter/web/tickets_api.py) is mounted in this app: the form posts there.
        self.tickets_api = False
        self.heard: dict[str, float] = {}  # agent id -> monotonic time of the desk page's last heartbeat
        self.desks_lost = 0

    # -- facts from the daemon (sync, on the loop thread)
    def ringing(self, call_id: str, agent_channel: str, at: datetime) -> None:
        entry = self.flow.ledger.calls.get(call_id)
        if entry is None or entry.offer_agent is None:
            return
        cfg = self.cfg
        lang = cfg.centre.language
        labels = {q.name: q.label(lang) for q in cfg.queues}
        back = self.calls.get(entry.offer_agent)
        again = back is not None and back.call_id == call_id
        if again and back is not None and back.held:
            self._publish_hold(entry.offer_agent, back, held=False)  # the held caller rings again
        self.calls[entry.offer_agent] = ActiveCall(call_id, entry.channel, agent_channel, entry.queue,
                                                   ringing_back=again)
        words = ivr_words(self.menu() if self.menu else None, entry.ivr_path, lang, labels)
        self.screenpop.ringing(RingingCall(
            call_id=call_id, agent_id=entry.offer_agent, caller_number=entry.caller_number,
            caller_name=entry.caller_name, ivr_path=entry.ivr_path, language=entry.language,
            queue=entry.queue, queue_label=labels.get(entry.queue or "", ""), queued_at=entry.queued_at,
            rang_at=at, offers=entry.offers, ivr_words=tuple(words),
        ))

    def answered(self, call_id: str, at: datetime) -> None:
        """An agent's phone answered: a ring-back (same call, agent still on it) is a talk again."""
        for agent_id, call in self.calls.items():
            if call.call_id == call_id and call.ringing_back:
                call.ringing_back = False
                self.hub.publish(agent_id, "talk", {"type": "talk", "call_id": call_id})

    def ring_back_failed(self, call_id: str, at: datetime) -> None:
        """The agent did not pick a held caller's ring-back up: the caller waits in [cc-hold] with music
        (the ACD still has them with this agent); the desk shows them held again, to take back."""
        for agent_id, call in self.calls.items():
            if call.call_id == call_id and call.ringing_back:
                call.ringing_back, call.held, call.held_until = False, True, None
                log.info("agent %s did not answer the ring-back of call %s: held again", agent_id, call_id)
                self._publish_hold(agent_id, call, held=True)

    def state_changed(self, cmd: AgentStateChanged) -> None:
        agent_id, state = cmd.agent_id, cmd.new.value
        call = self.calls.get(agent_id)
        wrapup = None
        if state == "wrap_up" and call is not None and call.queue:
            with contextlib.suppress(KeyError):
                wrapup = self.cfg.queue(call.queue).wrapup_seconds
        if state in ("ready", "not_ready", "logged_out"):
            self.calls.pop(agent_id, None)
        elif state == "wrap_up" and call is not None:
            call.held, call.held_until = False, None  # the held caller hung up: nothing left to take back
        self.screenpop.agent_state(agent_id, state, cmd.reason, cmd.at, by=cmd.by,
                                          call_id=call.call_id if call else None, wrapup_seconds=wrapup)

    def _publish_hold(self, agent_id: str, call: ActiveCall, *, held: bool) -> None:
        self.hub.publish(agent_id, "hold", self._hold_payload(call, held))

    @staticmethod
    def _hold_payload(call: ActiveCall, held: bool) -> dict[str, Any]:
        until = call.held_until.isoformat(timespec="seconds") if held and call.held_until else None
        return {"type": "hold", "call_id": call.call_id, "held": held, "until": until,
                "seconds": PARK_TIMEOUT_MS // 1000 if until else None}

    # -- DeskBackend
    def state(self, agent_id: str) -> dict[str, Any]:
        last = self.hub.last_state.get(agent_id)
        if last is None:
            st, reason = self.flow.engine.agent_state(agent_id)
            last = {"agent_id": agent_id, "state": st.value, "reason": reason}
        call = self.calls.get(agent_id)
        hold = self._hold_payload(call, True) if call is not None and call.held else None
        return {**last, "hold": hold}

    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]:
        """Ready / not ready / log out; raises DeskError when the ACD refuses."""
        self.manual_agents.add(agent_id)  # a person is at the desk now: the daemon stops standing in
        current = self.flow.engine.agent_state(agent_id)[0]
        for event in desk_events(current, agent_id, state, reason, self.now()):
            self._command(event)
        return self.state(agent_id)

    def _command(self, event: Event) -> None:
        try:
            self.flow.command(event)
        except (EngineError, IllegalTransition) as exc:
            raise engine_refusal(exc) from None

    def extend_wrapup(self, agent_id: str, seconds: int) -> dict[str, Any]:
        """More wrap-up time (the engine's ExtendWrapUp): the wrap-up now ends ``seconds`` from now."""
        at = self.now()
        self._command(ExtendWrapUp(at=at, agent_id=agent_id, seconds=seconds))
        call = self.calls.get(agent_id)
        self.screenpop.agent_state(agent_id, "wrap_up", "", at, by=agent_id,
                                   call_id=call.call_id if call else None, wrapup_seconds=seconds)
        return self.state(agent_id)

    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]:
        call = self.calls.get(agent_id)
        if call is None or not call.agent_channel:
            raise DeskError(409, "no_call", "you have no call to control")
        held = call.held
        if action == "retrieve":
            if not held:
                raise DeskError(409, "not_held", "the call is not on hold")
            target = agent_id
        elif action == "hangup":  # while held or ringing back there is no agent leg to end: end the caller's
            target = call.caller_channel if held or call.ringing_back else call.agent_channel
        elif held:
            raise DeskError(409, "on_hold", "the caller is on hold: take them back first")
        actions = control_actions(action, target, caller_channel=call.caller_channel, agent_channel=call.agent_channel)
        for name, fields in actions:
            try:
                await self.ami_of(call.call_id).action(name, fields)
            except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
                log.warning("call control %s failed: %s", name, exc)
                raise DeskError(502, "pbx_refused", f"the PBX refused {name}") from None
        if action in ("hold", "retrieve"):
            call.held = action == "hold"
            call.held_until = self.now() + timedelta(milliseconds=PARK_TIMEOUT_MS) if call.held else None
            self._publish_hold(agent_id, call, held=action == "hold")
        return {"ok": True, "action": action, "target": "" if action in ("retrieve", "hangup") else target,
                "call_id": call.call_id}

    def agents(self) -> list[dict[str, Any]]:
        out = []
        for a in self.cfg.agents:
            st, reason = self.flow.engine.agent_state(str(a.id))
            out.append({"agent_id": str(a.id), "name": a.name, "state": st.value, "reason": reason})
        return out

    def page_options(self) -> dict[str, Any]:
        """What the page needs of the configuration: queue names, its heartbeat's pace."""
        lang = self.cfg.centre.language
        return {"queues": {q.name: q.label(lang) for q in self.cfg.queues},
                "agents": {str(a.id): a.name for a in self.cfg.agents},
                "heartbeat_seconds": self.cfg.web.desk_heartbeat_seconds}

    # -- the desk page's heartbeat
    def heartbeat(self, agent_id: str) -> None:
        self.heard[agent_id] = time.monotonic()

    def check_desks(self, now_mono: float) -> list[str]:
        """Agents whose desk went silent, made not ready (desk_offline) once they are free; returns them.
        An agent on a call is left alone (a call is never cut) and checked again next time."""
        limit = self.cfg.web.desk_heartbeat_seconds
        lost = []
        for agent_id, heard in list(self.heard.items()):
            if now_mono - heard < limit:
                continue
            state = self.flow.engine.agent_state(agent_id)[0]
            if state in (AgentState.RESERVED, AgentState.ON_CALL):
                continue
            del self.heard[agent_id]
            if state in (AgentState.READY, AgentState.WRAP_UP):
                try:
                    self.flow.command(AgentNotReady(at=self.now(), agent_id=agent_id, reason="desk_offline"))
                except (EngineError, IllegalTransition) as exc:
                    log.warning("agent %s: desk offline, but not ready refused: %s", agent_id, exc)
                    continue
                self.desks_lost += 1
                lost.append(agent_id)
                log.warning("agent %s: no heartbeat from the desk for %.0f s: made not ready", agent_id, limit)
        return lost

    async def watch_desks(self) -> None:
        """Check the desks' heartbeats every second, until cancelled."""
        while True:
            await asyncio.sleep(HEARTBEAT_CHECK_SECONDS)
            self.check_desks(time.monotonic())


# ------------------------------------------------------------------ desk commands -> ACD events (pure)


def desk_events(current: AgentState, agent_id: str, state: str, reason: str, at: datetime) -> list[Event]:
    """The engine events for a desk command, given the agent's current state."""
    logged_out = current is AgentState.LOGGED_OUT
    if state == "ready":
        return [AgentLoggedIn(at=at, agent_id=agent_id), AgentReady(at=at, agent_id=agent_id)] if logged_out \
            else [AgentReady(at=at, agent_id=agent_id)]
    if state == "not_ready":
        head = [AgentLoggedIn(at=at, agent_id=agent_id)] if logged_out else []
        return [*head, AgentNotReady(at=at, agent_id=agent_id, reason=reason or "other")]
    if state == "logged_out":
        return [] if logged_out else [AgentLoggedOut(at=at, agent_id=agent_id)]
    raise DeskError(422, "invalid_state", "state is one of ready, not_ready, logged_out")


def engine_refusal(exc: Exception) -> DeskError:
    """An ACD error as the desk shows it (a stable slug, no internals)."""
    if isinstance(exc, NotOnShift):
        return DeskError(409, "not_on_shift", "you are not on shift now")
    if isinstance(exc, UnknownAgent):
        return DeskError(404, "unknown_agent", "the ACD does not know this agent")
    return DeskError(409, "not_allowed", f"not possible in your current state ({type(exc).__name__})")
