"""Map the validated YAML config onto the ACD's own plain dataclasses (the core never sees pydantic)."""

from __future__ import annotations

from datetime import timedelta

from agents.shifts import Break, Calendar, Roster, ShiftRules, ShiftTemplate, Staffing, Team, parse_week
from config.models import Config, QueueConfig, days_spec
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
    if q.fallback in ("voicemail", "callback"):
        fallback = Fallback(kind=q.fallback)
    else:
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


def roster_from(cfg: Config) -> Roster:
    """The shift roster of the config (without shifts: empty, nobody is bound by shifts).

    A team is bound by the weekly ``rotation`` under ``teams``, or (the short form) works every week the
    one shift that lists it under ``shifts[].teams``. Agents in no team are never bound (supervisors,
    stand-ins)."""
    templates = tuple(
        ShiftTemplate(
            name=s.name,
            start=s.start,
            end=s.end,
            days=days_spec(s.days),
            breaks=tuple(Break(b.start, b.minutes, b.waves) for b in s.breaks),
        )
        for s in cfg.shifts
    )
    rotations = {t.name: tuple(t.rotation) for t in cfg.teams}
    for s in cfg.shifts:
        for team in s.teams:
            rotations.setdefault(team, (s.name,))
    members: dict[str, list[str]] = {}
    for a in cfg.agents:
        if a.team:
            members.setdefault(a.team, []).append(str(a.id))
    teams = tuple(Team(name, tuple(members.get(name, ())), rotation) for name, rotation in rotations.items())
    overrides = dict.fromkeys(cfg.holidays.days_off, False) | dict.fromkeys(cfg.holidays.working_days, True)
    return Roster(
        shifts=templates,
        teams=teams,
        anchor=parse_week(cfg.shift_rules.rotation_start),
        timezone=cfg.centre.timezone,
        calendar=Calendar(overrides),
        staffing=tuple(Staffing(r.queue, r.minimum, r.start, r.end, days_spec(r.days)) for r in cfg.staffing),
        agent_queues={str(a.id): tuple(a.queues) for a in cfg.agents},
    )


def shift_rules_from(cfg: Config) -> ShiftRules | None:
    """The engine's shift gate (``Engine(config, shifts=...)``); None without shifts."""
    if not cfg.shifts:
        return None
    r = cfg.shift_rules
    return ShiftRules(
        roster_from(cfg),
        ready_grace=timedelta(minutes=r.ready_grace_minutes),
        no_offer_last=timedelta(minutes=r.no_offer_last_minutes),
        logout_grace=timedelta(minutes=r.logout_grace_minutes),
    )
