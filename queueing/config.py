"""The engine's configuration as plain dataclasses, validated once when built.

The pydantic loader in config/ builds these; the engine never reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from itertools import pairwise
from typing import Protocol


class Strategy(Enum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"  # fewest answered calls today, then longest idle
    ROUND_ROBIN = "round_robin"  # the agent offered a call of this queue longest ago
    HIGHEST_SKILL = "highest_skill"  # highest level in the queue's skill, then longest idle


class ConfigError(ValueError):
    """A configuration value the engine cannot use."""


FALLBACK_KINDS = ("voicemail", "callback", "queue", "overflow")


@dataclass(frozen=True, slots=True)
class Fallback:
    """Where a call goes when its queue is full or it waited too long.

    kind: voicemail | callback (the caller is offered a call back) | queue (moved to ``target``) |
    overflow (handed out of the ACD, e.g. to another center: ``target`` names it).
    """

    kind: str = "voicemail"
    target: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FALLBACK_KINDS:
            raise ConfigError(f"fallback kind {self.kind!r}: expected one of {', '.join(FALLBACK_KINDS)}")
        if self.kind == "queue" and not self.target:
            raise ConfigError("fallback kind 'queue' needs a target queue")


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After ``after_seconds`` of waiting: lower every required skill level by ``relax_levels``
    and/or move the call to ``overflow_to`` (it keeps its original entry time there)."""

    after_seconds: float
    relax_levels: int = 0
    overflow_to: str | None = None

    def __post_init__(self) -> None:
        if self.after_seconds <= 0:
            raise ConfigError("escalation after_seconds must be positive")
        if self.relax_levels < 0:
            raise ConfigError("escalation relax_levels must not be negative")
        if not self.relax_levels and not self.overflow_to:
            raise ConfigError("an escalation step needs relax_levels or overflow_to")


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    wrapup_seconds: float = 0.0
    max_length: int | None = None  # waiting calls; the next one goes to the fallback
    max_wait: float | None = None  # seconds; then the fallback
    fallback: Fallback = field(default_factory=Fallback)
    escalation: tuple[EscalationStep, ...] = ()
    skill: str | None = None  # the skill HIGHEST_SKILL ranks by (default: the queue's name)
    announce: bool = False  # emit Announce(position, expected_wait) when a call starts waiting

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a queue needs a name")
        if not isinstance(self.strategy, Strategy):
            try:
                object.__setattr__(self, "strategy", Strategy(self.strategy))
            except ValueError:
                names = ", ".join(s.value for s in Strategy)
                raise ConfigError(
                    f"queue {self.name!r}: strategy {self.strategy!r}: one of {names}"
                ) from None
        if self.wrapup_seconds < 0:
            raise ConfigError(f"queue {self.name!r}: wrapup_seconds must not be negative")
        if self.max_length is not None and self.max_length < 0:
            raise ConfigError(f"queue {self.name!r}: max_length must not be negative")
        if self.max_wait is not None and self.max_wait <= 0:
            raise ConfigError(f"queue {self.name!r}: max_wait must be positive")
        steps = tuple(self.escalation)
        if any(b.after_seconds <= a.after_seconds for a, b in pairwise(steps)):
            raise ConfigError(f"queue {self.name!r}: escalation steps must be in increasing after_seconds")
        object.__setattr__(self, "escalation", steps)

    @property
    def rank_skill(self) -> str:
        return self.skill or self.name


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: str
    queues: tuple[str, ...]
    skills: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ConfigError("an agent needs an id")
        object.__setattr__(self, "queues", tuple(self.queues))
        for name, level in self.skills.items():
            if not isinstance(level, int) or level < 0:
                raise ConfigError(f"agent {self.id!r}: skill {name!r} level must be an int >= 0")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentSpec, ...]
    timezone: str = "Asia/Shanghai"  # where "today" (calls today) starts and ends

    def __post_init__(self) -> None:
        queues = tuple(self.queues)
        agents = tuple(self.agents)
        object.__setattr__(self, "queues", queues)
        object.__setattr__(self, "agents", agents)
        names = [q.name for q in queues]
        if len(set(names)) != len(names):
            raise ConfigError("queue names must be unique")
        known = set(names)
        ids = [a.id for a in agents]
        if len(set(ids)) != len(ids):
            raise ConfigError("agent ids must be unique")
        for q in queues:
            targets = [s.overflow_to for s in q.escalation if s.overflow_to]
            if q.fallback.kind == "queue" and q.fallback.target:
                targets.append(q.fallback.target)
            for t in targets:
                if t not in known:
                    raise ConfigError(f"queue {q.name!r}: unknown target queue {t!r}")
        for a in agents:
            for name in a.queues:
                if name not in known:
                    raise ConfigError(f"agent {a.id!r}: unknown queue {name!r}")


class ShiftGate(Protocol):
    """What the engine asks of the shift rules (agents/shifts.py implements it)."""

    def ready_allowed(self, agent_id: str, at: datetime) -> bool: ...

    def offers_close_at(self, agent_id: str, at: datetime) -> datetime | None: ...

    def logout_at(self, agent_id: str, at: datetime) -> datetime | None: ...
