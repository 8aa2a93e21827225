"""The engine's mutable bookkeeping for one call and one agent (private to the engine)."""

from __future__ import annotations

from datetime import datetime

from agents.state import AgentState

from .callstate import CallInput, CallState, next_call_state
from .index import CallKey, Skills
from .timerkeys import CallTimer, ShiftCloseTimer, WrapUpTimer


class CallRecord:
    __slots__ = (
        "agent",
        "callback",
        "entered",
        "fallbacks",
        "id",
        "key",
        "preferred",
        "queue",
        "queue_since",
        "skills",
        "state",
        "timers",
        "version",
    )

    def __init__(
        self, call_id: str, queue: str, key: CallKey, skills: Skills, entered: datetime, at: datetime
    ) -> None:
        self.id = call_id
        self.queue = queue
        self.key = key  # (-priority, entered ts, arrival number): the call's place, kept on re-queue
        self.skills = skills
        self.entered = entered
        self.queue_since = at  # escalation counts from here
        self.state = next_call_state(call_id, CallState.IVR, CallInput.QUEUE)
        self.agent: str | None = None
        self.version = 0  # bumped whenever the call's heap entry goes stale
        self.callback = False
        self.preferred: str | None = None
        self.fallbacks = 0
        self.timers: set[CallTimer] = set()


class AgentRecord:
    __slots__ = (
        "call",
        "calls_today",
        "close_due",
        "close_key",
        "closing",
        "device_busy",
        "id",
        "idle_since",
        "last_offer",
        "logout_pending",
        "meets_cache",
        "on_break",
        "preferred_calls",
        "queues",
        "reason",
        "skills",
        "state",
        "wrap_key",
    )

    def __init__(self, agent_id: str, queues: tuple[str, ...], skills: dict[str, int]) -> None:
        self.id = agent_id
        self.queues = queues
        self.skills = dict(skills)
        self.state = AgentState.LOGGED_OUT
        self.reason = ""
        self.call: str | None = None
        self.idle_since = 0.0
        self.calls_today = 0
        self.last_offer: dict[str, int] = {}
        self.meets_cache: dict[Skills, bool] = {}
        self.preferred_calls: set[str] = set()
        self.wrap_key: WrapUpTimer | None = None
        self.close_due: datetime | None = None  # when offers stop for the current shift
        self.close_key: ShiftCloseTimer | None = None
        self.closing = False  # shift: in the last minutes, no new offers
        self.logout_pending = False  # shift over while on a call: log out once it is done
        self.on_break = False  # became ready inside a scheduled break: goes not_ready(break) instead
        self.device_busy = False  # the phone is on a call the ACD did not give (out of the ready index)

    def meets(self, required: Skills) -> bool:
        ok = self.meets_cache.get(required)
        if ok is None:
            skills = self.skills
            ok = all(skills.get(name, 0) >= level for name, level in required)
            self.meets_cache[required] = ok
        return ok
