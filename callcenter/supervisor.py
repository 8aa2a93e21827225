"""The supervisor's console, daemon side: the live board and the supervisor's actions.

The board (:meth:`SupervisorDesk.board`) is every configured agent (state, not-ready reason, since when,
current call with the caller's number masked, queues, calls and talk time today, what the roster says
now and whether the agent keeps to it) and every queue's waiting callers in order (place, since when,
the IVR path in words, masked number, priority). The page (callcenter/web/supervisor.py) gets it over SSE.

Each action goes into the ACD as a pure event through the call flow (``ForceAgentState``,
``SetAgentQueues``, ``SetCallPriority``), or to Asterisk as one AMI Originate (listen / whisper / barge:
the supervisor's own phone is rung and, once answered, runs ``ChanSpy`` on the agent's channel), and is
written to the audit log (who, when, what, before and after) beside the admin's edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agents.adherence import adherent, scheduled
from agents.shifts import ShiftRules
from asterisk.ami.client import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout
from callcenter.callflow import CallFlow
from callcenter.desk import DaemonDesk
from callcenter.web.admin import AuditLog
from callcenter.web.auth import mask_phone
from callcenter.web.supervisor import SupervisorError
from config.models import Config
from ivr.model import Menu
from ivr.words import path_in_words
from queueing import (
    AgentState,
    CallState,
    EngineError,
    ForceAgentState,
    IllegalTransition,
    NotOnShift,
    SetAgentQueues,
    SetCallPriority,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from records.model import CallRecordData

log = logging.getLogger("callcenter.supervisor")

#: ChanSpy options (apps/app_chanspy.c of Asterisk 22): q no beep and no channel name spoken; w whisper to
#: the agent; B barge (talk to both sides); E leave when the agent's channel hangs up; u the first
#: argument is the full channel name (spy on exactly that channel, not on every name it prefixes).
SPY_OPTIONS = {"listen": "qEu", "whisper": "qwEu", "barge": "qBEu"}
SPY_RING_MS = 30_000  # how long the supervisor's phone rings
FORCE_STATES = ("ready", "not_ready", "logged_out")
RECENT_ACTIONS = 20


def spy_originate(mode: str, *, supervisor_endpoint: str, agent_channel: str, agent_id: str) -> list[tuple[str, str]]:
    """The AMI Originate fields that ring the supervisor's phone into ChanSpy on the agent's channel."""
    options = SPY_OPTIONS.get(mode)
    if options is None:
        raise SupervisorError(422, "invalid_mode", f"mode is one of {', '.join(SPY_OPTIONS)}")
    return [("Channel", supervisor_endpoint), ("Application", "ChanSpy"), ("Data", f"{agent_channel},{options}"),
            ("CallerID", f'"{mode} {agent_id}" <{agent_id}>'), ("Timeout", str(SPY_RING_MS)), ("Async", "true")]


@dataclass
class AgentDay:
    """Answered calls and talk seconds per agent on one local day (from the records as they close)."""

    tz: ZoneInfo
    day: Any = None
    calls: dict[str, int] = field(default_factory=dict)
    talk: dict[str, float] = field(default_factory=dict)

    def add(self, record: CallRecordData, today: datetime) -> None:
        day = today.astimezone(self.tz).date()
        if day != self.day:
            self.day, self.calls, self.talk = day, {}, {}
        agent = record.agent_id
        if agent is None or record.answered_at is None or record.ended_at.astimezone(self.tz).date() != day:
            return
        self.calls[agent] = self.calls.get(agent, 0) + 1
        self.talk[agent] = self.talk.get(agent, 0.0) + float(record.talk_seconds or 0.0)

    def of(self, agent_id: str, now: datetime) -> tuple[int, float]:
        if now.astimezone(self.tz).date() != self.day:
            return 0, 0.0
        return self.calls.get(agent_id, 0), round(self.talk.get(agent_id, 0.0))


class SupervisorDesk:
    def __init__(self, *, flow: CallFlow, desk: DaemonDesk, cfg: Config, menu: Callable[[], Menu | None],
                 audit: AuditLog, shift_rules: ShiftRules | None, ami: AmiClient, now: Callable[[], datetime],
                 manual_agents: set[str]) -> None:
        """``manual_agents``: an agent the supervisor sets joins them (the autopilot stops standing in)."""
        self.flow, self.desk, self.cfg, self.menu, self.audit = flow, desk, cfg, menu, audit
        self.shift_rules, self.ami, self.now, self.manual_agents = shift_rules, ami, now, manual_agents
        self.language = cfg.centre.language
        self.tz = ZoneInfo(cfg.centre.timezone)
        self.queue_labels = {q.name: q.label(self.language) for q in cfg.queues}
        self.today = AgentDay(self.tz)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ACTIONS)

    # ------------------------------------------------------------------ facts
    def recorded(self, record: CallRecordData) -> None:
        self.today.add(record, self.now())

    def load(self, records: Iterable[CallRecordData]) -> None:
        now = self.now()
        for r in records:
            self.today.add(r, now)

    # ------------------------------------------------------------------ the board
    def board(self) -> dict[str, Any]:
        now = self.now()
        menu = self.menu()
        return {"now": now.isoformat(timespec="milliseconds"), "timezone": self.cfg.centre.timezone,
                "queues": [self._queue(q.name, now, menu) for q in self.cfg.queues],
                "agents": [self._agent(a, now) for a in self.cfg.agents],
                "recent": list(self.recent)}

    def _agent(self, a: Any, now: datetime) -> dict[str, Any]:
        agent_id = str(a.id)
        engine = self.flow.engine
        state, reason = engine.agent_state(agent_id)
        last = self.desk.hub.last_state.get(agent_id) or {}
        schedule = scheduled(self.shift_rules, agent_id, now)
        calls, talk = self.today.of(agent_id, now)
        return {"agent_id": agent_id, "name": a.name, "team": a.team or "", "state": state.value,
                "reason": reason, "since": last.get("since") if last.get("state") == state.value else None,
                "by": last.get("by", ""), "queues": list(engine.agent_queues(agent_id)),
                "call": self._call_of(agent_id, state), "calls_today": calls, "talk_seconds_today": talk,
                "schedule": schedule, "adherent": adherent(schedule, state.value),
                "can_spy": state is AgentState.ON_CALL}

    def _call_of(self, agent_id: str, state: AgentState) -> dict[str, Any] | None:
        if state not in (AgentState.RESERVED, AgentState.ON_CALL):
            return None
        active = self.desk.calls.get(agent_id)
        entry = self.flow.ledger.calls.get(active.call_id) if active is not None else None
        if entry is None:
            return None
        at = entry.answered_at or entry.offered_at
        return {"call_id": entry.call_id, "number": mask_phone(entry.caller_number), "queue": entry.queue or "",
                "since": at.isoformat(timespec="milliseconds") if at else None}

    def _queue(self, name: str, now: datetime, menu: Menu | None) -> dict[str, Any]:
        engine = self.flow.engine
        waiting = []
        for place, call_id in enumerate(engine.waiting_calls(name), start=1):
            entry = self.flow.ledger.calls.get(call_id)
            since = entry.queued_at if entry is not None and entry.queued_at else None
            waiting.append({
                "call_id": call_id, "position": place, "priority": engine.call_priority(call_id),
                "number": mask_phone(entry.caller_number) if entry else "",
                "since": since.isoformat(timespec="milliseconds") if since else None,
                "ivr": path_in_words(menu, entry.ivr_path, self.language, self.queue_labels) if entry else ""})
        return {"name": name, "label": self.queue_labels[name], "waiting": waiting}

    # ------------------------------------------------------------------ actions
    async def force_state(self, agent_id: str, state: str, reason: str, user: str) -> dict[str, Any]:
        """Ready / not ready (with a reason) / log out, whatever the agent's desk says."""
        if state not in FORCE_STATES:
            raise SupervisorError(422, "invalid_state", f"state is one of {', '.join(FORCE_STATES)}")
        before = self._state_of(agent_id)
        with refusals():
            self.flow.command(ForceAgentState(at=self.now(), agent_id=agent_id, state=AgentState(state),
                                              reason=reason if state == "not_ready" else "", by=user))
        self.manual_agents.add(agent_id)  # the autopilot must not undo a supervisor's decision
        after = self._state_of(agent_id)
        await self._audit(user, f"force_{state}", agent_id, before, after)
        return {"ok": True, "agent_id": agent_id, **after}

    async def set_queues(self, agent_id: str, queues: list[str], user: str) -> dict[str, Any]:
        """The agent serves ``queues`` from now on (move between queues, add or remove one)."""
        with refusals():
            before = list(self.flow.engine.agent_queues(agent_id))
            self.flow.command(SetAgentQueues(at=self.now(), agent_id=agent_id, queues=tuple(queues), by=user))
        after = list(self.flow.engine.agent_queues(agent_id))
        await self._audit(user, "set_queues", agent_id, {"queues": before}, {"queues": after})
        return {"ok": True, "agent_id": agent_id, "queues": after}

    async def set_priority(self, call_id: str, priority: int, user: str) -> dict[str, Any]:
        """A waiting caller's priority (higher is served first); their place among equals is kept."""
        engine = self.flow.engine
        state = engine.call_state(call_id)
        if state is None:
            raise SupervisorError(404, "no_such_call", "the caller is no longer waiting")
        if state is not CallState.WAITING:
            raise SupervisorError(409, "not_waiting", "the call is already ringing at an agent or answered")
        before = engine.call_priority(call_id)
        with refusals():
            self.flow.command(SetCallPriority(at=self.now(), call_id=call_id, priority=priority, by=user))
        entry = self.flow.ledger.calls.get(call_id)
        if entry is not None:
            entry.priority = priority  # kept if the call is queued again (a failed ring)
        await self._audit(user, "set_priority", call_id, {"priority": before}, {"priority": priority},
                          label=mask_phone(entry.caller_number) if entry is not None else "")
        return {"ok": True, "call_id": call_id, "priority": priority}

    async def spy(self, agent_id: str, mode: str, user: str, endpoint: str | None) -> dict[str, Any]:
        """Listen to / whisper to / barge into the agent's call from the supervisor's own phone."""
        if mode not in SPY_OPTIONS:
            raise SupervisorError(422, "invalid_mode", f"mode is one of {', '.join(SPY_OPTIONS)}")
        if not endpoint:
            raise SupervisorError(409, "no_endpoint", "your user has no phone (users[].endpoint) to ring")
        active = self.desk.calls.get(agent_id)
        state = self._state_of(agent_id)["state"]
        if active is None or not active.agent_channel or state != "on_call":
            raise SupervisorError(409, "no_call", "the agent is not on a call")
        fields = spy_originate(mode, supervisor_endpoint=endpoint, agent_channel=active.agent_channel,
                               agent_id=agent_id)
        try:
            await self.ami.action("Originate", fields)
        except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
            log.warning("%s of agent %s by %s failed: %s", mode, agent_id, user, exc)
            raise SupervisorError(502, "pbx_refused", "the PBX refused the call to your phone") from None
        await self._audit(user, mode, agent_id, {"call_id": active.call_id},
                          {"channel": active.agent_channel, "phone": endpoint})
        return {"ok": True, "agent_id": agent_id, "mode": mode, "call_id": active.call_id}

    def _state_of(self, agent_id: str) -> dict[str, str]:
        with refusals():
            state, reason = self.flow.engine.agent_state(agent_id)
        return {"state": state.value, "reason": reason}

    async def _audit(self, user: str, action: str, key: str, before: Any, after: Any, label: str = "") -> None:
        """One line of the audit log; ``label`` names the call for people (the number, masked)."""
        entry = {"at": self.now().isoformat(timespec="seconds"), "user": user, "section": "supervisor",
                 "key": key, "action": action, "before": before, "after": after}
        if label:
            entry["label"] = label
        self.recent.appendleft(entry)
        log.info("supervisor %s: %s %s", user, action, key)
        await asyncio.to_thread(self.audit.append, entry)


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """An ACD refusal as the supervisor's page words it (a stable slug, no internals)."""
    try:
        yield
    except UnknownAgent:
        raise SupervisorError(404, "unknown_agent", "no such agent") from None
    except NotOnShift:
        raise SupervisorError(409, "not_on_shift", "the agent is not on shift now") from None
    except (UnknownCall, UnknownQueue) as exc:
        slug = "unknown_queue" if isinstance(exc, UnknownQueue) else "no_such_call"
        raise SupervisorError(404, slug, str(exc)) from None
    except (EngineError, IllegalTransition) as exc:
        raise SupervisorError(409, "not_allowed", f"not possible in the agent's state ({type(exc).__name__})") \
            from None
    except ValueError as exc:  # an event the core refused to build (EventError)
        raise SupervisorError(422, "invalid", str(exc)) from None
