"""The agent desktop's daemon side: what the desk's routes (callcenter/web/desktop.py) ask of the daemon.

`DaemonDesk` implements `DeskBackend` on the running daemon: the screen-pop when an agent's phone rings,
state pushes, ready / not ready / log out (desk commands -> ACD events, :func:`desk_events`), and call
control, which maps to AMI with :func:`control_actions` (pure) through one table, `CONTROLS`: hold = Park,
transfer to a department = BlindTransfer, hand-off to 110/119/120/122 = Atxfer (the agent stays on until the
emergency line takes the call). The dialplan side is [cc-transfer] and [cc-handoff] in
asterisk/conf/extensions_callcenter.conf.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from asterisk.ami.client import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout
from callcenter.callflow import CallFlow
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
    IllegalTransition,
    NotOnShift,
    UnknownAgent,
)
from queueing.events import Event
from tickets.service import TicketService

log = logging.getLogger("callcenter.desktop")

PARK_TIMEOUT_MS = 120_000
# Dialplan contexts the call-control actions use (see docs/mqtt.md, "Call control in the dialplan").
TRANSFER_CONTEXT = "cc-transfer"
HANDOFF_CONTEXT = "cc-handoff"
HANDOFF_NUMBERS = {"110": "公安 Police", "119": "消防 Fire", "120": "急救 Ambulance", "122": "交警 Traffic police"}
# Departments' hotlines a call can be transferred to (extension in the cc-transfer context -> label).
TRANSFER_TARGETS = {"8101": "住建局 Housing", "8102": "交通运输局 Transport", "8103": "人社局 Social security",
                    "8104": "市场监管局 Market regulation", "8105": "生态环境局 Environment"}
# The unit groups (tickets/departments.py) a ticket can be dispatched to from the desk.
DISPATCH_GROUPS = ("city_department", "public_service", "county")


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


def ticket_choices(service: TicketService, language: str) -> dict[str, Any]:
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
        "queue_category": {"complaints": "complaint" if "complaint" in categories else first, "": first},
    }


# ------------------------------------------------------------------ the daemon side


class DeskBackend(Protocol):
    hub: AgentHub
    tickets_api: bool

    def state(self, agent_id: str) -> dict[str, Any]: ...
    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]: ...
    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]: ...
    def agents(self) -> list[dict[str, Any]]: ...


@dataclass
class ActiveCall:
    call_id: str
    caller_channel: str
    agent_channel: str
    queue: str | None


class DaemonDesk:
    """`DeskBackend` on the running daemon."""

    def __init__(self, *, flow: CallFlow, cfg: Config, screenpop: ScreenPop, ami: AmiClient,
                 now: Callable[[], datetime], manual_agents: set[str],
                 ami_of: Callable[[str], AmiClient] | None = None) -> None:
        """``manual_agents``: agents under the desktop's control (the autopilot leaves them alone).
        ``ami_of(call_id)``: the AMI of the PBX a call is on (several PBXs); default ``ami``."""
        self.flow, self.cfg, self.screenpop, self.ami, self.now = flow, cfg, screenpop, ami, now
        self.ami_of = ami_of or (lambda _call_id: ami)
        self.manual_agents = manual_agents
        self.hub: AgentHub = screenpop.hub
        self.calls: dict[str, ActiveCall] = {}  # agent id -> the call ringing at / talking with the agent
        # True once the tickets API (callcenter/web/tickets_api.py) is mounted in this app: the form posts there.
        self.tickets_api = False

    # -- facts from the daemon (sync, on the loop thread)
    def ringing(self, call_id: str, agent_channel: str, at: datetime) -> None:
        entry = self.flow.ledger.calls.get(call_id)
        if entry is None or entry.offer_agent is None:
            return
        cfg = self.cfg
        label = ""
        if entry.queue:
            with contextlib.suppress(KeyError):
                label = cfg.queue(entry.queue).label(cfg.centre.language)
        self.calls[entry.offer_agent] = ActiveCall(call_id, entry.channel, agent_channel, entry.queue)
        self.screenpop.ringing(RingingCall(
            call_id=call_id, agent_id=entry.offer_agent, caller_number=entry.caller_number,
            caller_name=entry.caller_name, ivr_path=entry.ivr_path, language=entry.language,
            queue=entry.queue, queue_label=label, queued_at=entry.queued_at, rang_at=at, offers=entry.offers,
        ))

    def state_changed(self, cmd: AgentStateChanged) -> None:
        agent_id, state = cmd.agent_id, cmd.new.value
        call = self.calls.get(agent_id)
        wrapup = None
        if state == "wrap_up" and call is not None and call.queue:
            with contextlib.suppress(KeyError):
                wrapup = self.cfg.queue(call.queue).wrapup_seconds
        if state in ("ready", "not_ready", "logged_out"):
            self.calls.pop(agent_id, None)
        self.screenpop.agent_state(agent_id, state, cmd.reason, cmd.at, by=cmd.by,
                                          call_id=call.call_id if call else None, wrapup_seconds=wrapup)

    # -- DeskBackend
    def state(self, agent_id: str) -> dict[str, Any]:
        last = self.hub.last_state.get(agent_id)
        if last is not None:
            return last
        st, reason = self.flow.engine.agent_state(agent_id)
        return {"agent_id": agent_id, "state": st.value, "reason": reason}

    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]:
        """Ready / not ready / log out; raises DeskError when the ACD refuses."""
        self.manual_agents.add(agent_id)  # a person is at the desk now: the daemon stops standing in
        current = self.flow.engine.agent_state(agent_id)[0]
        for event in desk_events(current, agent_id, state, reason, self.now()):
            try:
                self.flow.command(event)
            except (EngineError, IllegalTransition) as exc:
                raise engine_refusal(exc) from None
        return self.state(agent_id)

    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]:
        call = self.calls.get(agent_id)
        if call is None or not call.agent_channel:
            raise DeskError(409, "no_call", "you have no call to control")
        actions = control_actions(action, target, caller_channel=call.caller_channel, agent_channel=call.agent_channel)
        for name, fields in actions:
            try:
                await self.ami_of(call.call_id).action(name, fields)
            except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
                log.warning("call control %s failed: %s", name, exc)
                raise DeskError(502, "pbx_refused", f"the PBX refused {name}") from None
        return {"ok": True, "action": action, "target": target, "call_id": call.call_id}

    def agents(self) -> list[dict[str, Any]]:
        out = []
        for a in self.cfg.agents:
            st, reason = self.flow.engine.agent_state(str(a.id))
            out.append({"agent_id": str(a.id), "name": a.name, "state": st.value, "reason": reason})
        return out


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
