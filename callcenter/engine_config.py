"""Map the validated YAML config onto the ACD's own plain dataclasses (the core never sees pydantic)."""

from __future__ import annotations

from config.models import Config, QueueConfig
from queueing import AgentSpec, EngineConfig, Fallback, QueueSpec, Strategy

STRATEGIES = {
    "longest_idle": Strategy.LONGEST_IDLE,
    "fewest_calls": Strategy.FEWEST_CALLS,
    "round_robin": Strategy.ROUND_ROBIN,
    "skill_level": Strategy.HIGHEST_SKILL,
}


def queue_spec(q: QueueConfig) -> QueueSpec:
    # Without a fallback queue the daemon does not time callers out itself: the dialplan's
    # CC_HOLD_MAX hands a caller who waited too long to Asterisk's own queue.
    fallback = Fallback(kind="queue", target=q.fallback) if q.fallback else Fallback()
    return QueueSpec(
        name=q.name,
        strategy=STRATEGIES[str(q.strategy.value if hasattr(q.strategy, "value") else q.strategy)],
        wrapup_seconds=float(q.wrapup_seconds),
        max_length=q.max_length or None if q.fallback else None,
        max_wait=float(q.max_wait) if q.fallback and q.max_wait else None,
        fallback=fallback,
    )


def engine_config_from(cfg: Config) -> EngineConfig:
    return EngineConfig(
        queues=tuple(queue_spec(q) for q in cfg.queues),
        agents=tuple(AgentSpec(id=str(a.id), queues=tuple(a.queues), skills=dict(a.skills)) for a in cfg.agents),
        timezone=cfg.centre.timezone,
    )
