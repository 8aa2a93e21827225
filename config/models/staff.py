"""Queues, agents, shifts, teams, staffing rules and holidays."""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from config.models.base import Name, NumberOrStr, Section, Skill, Text, TimeZoneName, hhmm_time


class QueueStrategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    SKILL_LEVEL = "skill_level"


class QueueConfig(Section):
    name: Name
    label_zh: Text
    label_en: Text
    strategy: QueueStrategy = QueueStrategy.LONGEST_IDLE
    wrapup_seconds: int = Field(15, ge=0, le=3600)
    ring_timeout: int = Field(15, ge=1, le=300)
    max_wait: int = Field(600, ge=0, description="seconds before the call overflows to fallback; 0: none")
    max_length: int = Field(0, ge=0, description="callers waiting at most; 0: no limit")
    fallback: Name | None = None

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_zh


class AgentConfig(Section):
    id: Annotated[NumberOrStr, Field(pattern=r"^[0-9]{1,10}$")]
    name: Text
    endpoint: Annotated[str, Field(pattern=r"^[^\s,]+$", description="a dial string, e.g. PJSIP/1001")]
    queues: list[Name] = Field(default_factory=list)
    skills: dict[str, Skill] = Field(default_factory=dict)
    team: Text | None = None
    #: the PBX (``pbxs[].name``) the agent's phone is registered on; None: the first (or only) one
    pbx: Name | None = None


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


DayKind = Literal["workdays", "offdays"]


def _parse_days(value: Any) -> Any:
    """['mon', 'fri'], 'mon-fri', ['mon-fri', 'sun'] or 'daily' -> list of day names; 'workdays'
    (Chinese working days: holidays off, adjusted weekend working days on) and 'offdays' stay."""
    if value == "daily":
        return list(_DAYS)
    if value in ("workdays", "offdays"):
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    days: list[Any] = []
    for item in items:
        if isinstance(item, str) and "-" in item:
            first, _, last = item.partition("-")
            if first in _DAYS and last in _DAYS:
                a, b = _DAYS.index(first), _DAYS.index(last)
                days.extend(_DAYS[a : b + 1] if a <= b else _DAYS[a:] + _DAYS[: b + 1])
                continue
        days.append(item)
    return days


Days = Annotated[list[Day] | DayKind, BeforeValidator(_parse_days)]


def days_spec(days: list[Day] | str) -> str:
    """The shift rules' form: 'daily', 'workdays', 'offdays' or 'mon,tue,...'."""
    if isinstance(days, str):
        return days
    if set(days) == set(_DAYS):
        return "daily"
    return ",".join(d for d in _DAYS if d in days)


def _clock_time(value: Any) -> Any:
    return hhmm_time(value) if isinstance(value, str) else value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class BreakConfig(Section):
    start: ClockTime
    minutes: int = Field(ge=1, le=240)
    waves: int = Field(1, ge=1, le=20, description="the team takes the break in turns, in this many groups")


class ShiftConfig(Section):
    name: Text
    teams: list[Text] = Field(default_factory=list, description="teams working this shift every week")
    start: ClockTime
    end: ClockTime
    days: Days = Field(default_factory=lambda: list(_DAYS))
    breaks: list[BreakConfig] = Field(default_factory=list)
    timezone: TimeZoneName | None = None  # None: the centre's

    @model_validator(mode="before")
    @classmethod
    def _team_alias(cls, data: Any) -> Any:
        # 'team: A' reads better for one team; it means 'teams: [A]'.
        if isinstance(data, dict) and "team" in data and "teams" not in data:
            data = dict(data)
            team = data.pop("team")
            data["teams"] = [team] if isinstance(team, str) else team
        return data

    @property
    def crosses_midnight(self) -> bool:
        """True for e.g. 22:00-06:00 (start == end, e.g. 00:00-24:00, is a 24-hour shift)."""
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (end - start) % (24 * 60) or 24 * 60


class TeamConfig(Section):
    """A team's weekly rotation: week k after ``shift_rules.rotation_start`` it works
    ``rotation[k % len]`` (a shift name, or ``off``). Its members are the agents with ``team: NAME``."""

    name: Text
    rotation: list[Text] = Field(min_length=1, max_length=52)


Minutes = Annotated[int, Field(ge=0, le=240)]


class ShiftRulesConfig(Section):
    ready_grace_minutes: Minutes = 10  # may go ready this long before the start
    no_offer_last_minutes: Minutes = 5  # no new call offered in the shift's last minutes
    logout_grace_minutes: Minutes = 5  # logged out this long after the end (a call is never cut)
    rotation_start: Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$")] = "2026-W01"  # week 0 of rotations

    @field_validator("rotation_start")
    @classmethod
    def _iso_week(cls, value: str) -> str:
        year, week = value.split("-W")
        try:
            date.fromisocalendar(int(year), int(week), 1)
        except ValueError:
            raise ValueError(f"no ISO week {value!r}") from None
        return value


class StaffingConfig(Section):
    """At least ``minimum`` agents of ``queue`` on shift (off their breaks) from ``start`` to ``end``
    (``end <= start``: until then the next day; 00:00-00:00: all day) on ``days``."""

    queue: Name
    minimum: int = Field(ge=1, le=10_000)
    start: ClockTime = time(0)
    end: ClockTime = time(0)
    days: Days = Field(default_factory=lambda: list(_DAYS))


class HolidaysConfig(Section):
    """The Chinese public-holiday calendar (with its adjusted working days) is built in; these dates
    override it: extra days off, and extra working days (调休)."""

    days_off: list[date] = Field(default_factory=list)
    working_days: list[date] = Field(default_factory=list)
