"""The engine's timer keys: one small frozen dataclass per kind of timer.

A key leaves in ``StartTimer``/``CancelTimer`` and comes back in ``TimerFired``; the engine matches it with
``isinstance`` and reads its fields by name (no string tuples to parse back). Dataclasses, not NamedTuples:
two kinds with the same fields must never compare equal. ``order`` gives the stable order in which a call's
timers are cancelled (kind first, as the old string tuples sorted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeGuard


@dataclass(frozen=True, slots=True)
class WrapUpTimer:
    """The agent's wrap-up after a call is over; ``seq`` tells a stale timer from the live one."""

    kind: ClassVar[str] = "wrapup"
    agent_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class ShiftCloseTimer:
    """No new offers from here to the end of the agent's shift."""

    kind: ClassVar[str] = "close"
    agent_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class ShiftLogoutTimer:
    """The shift is over (plus grace): log the agent out once their call is done."""

    kind: ClassVar[str] = "logout"
    agent_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class MaxWaitTimer:
    """The queue's max wait: the call goes to the queue's fallback."""

    kind: ClassVar[str] = "maxwait"
    call_id: str


@dataclass(frozen=True, slots=True)
class EscalateTimer:
    """Step ``step`` of the queue's escalation (relax skills, overflow)."""

    kind: ClassVar[str] = "escalate"
    call_id: str
    step: int


@dataclass(frozen=True, slots=True)
class PreferTimer:
    """The call stops waiting for its preferred agent (after a resync) and goes to anyone."""

    kind: ClassVar[str] = "prefer"
    call_id: str


AgentTimer = WrapUpTimer | ShiftCloseTimer | ShiftLogoutTimer
CallTimer = MaxWaitTimer | EscalateTimer | PreferTimer
TimerKey = AgentTimer | CallTimer
TIMER_KEYS: tuple[type, ...] = (WrapUpTimer, ShiftCloseTimer, ShiftLogoutTimer, MaxWaitTimer, EscalateTimer,
                                PreferTimer)


def order(key: CallTimer) -> tuple[str, int]:
    return key.kind, key.step if isinstance(key, EscalateTimer) else 0


def is_timer_key(key: object) -> TypeGuard[TimerKey]:
    """True for the engine's own keys (the daemon's timer service also holds other parts' keys)."""
    return isinstance(key, TIMER_KEYS)
