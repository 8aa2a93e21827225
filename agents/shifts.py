"""7x24 shifts: templates in a local time zone, weekly team rotations, breaks, Chinese public holidays
with adjusted working days, the shift rules the engine asks (ShiftRules implements queueing.ShiftGate),
and ``check_week`` for ``callcenter shifts check``.

Pure: no clock. Times given to the rules are tz-aware; results are tz-aware in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_KINDS = ("daily", "workdays", "offdays")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=256)
def weekday_set(kind: str) -> frozenset[int] | None:
    """'mon,tue,sat' -> {0, 1, 5}; a day kind (daily, workdays, offdays) -> None; else ShiftError."""
    if kind in DAY_KINDS:
        return None
    names = [n.strip() for n in kind.split(",")]
    if not names or any(n not in WEEKDAYS for n in names):
        raise ShiftError(f"days {kind!r}: one of {', '.join(DAY_KINDS)} or weekdays such as 'mon,tue'")
    return frozenset(WEEKDAYS.index(n) for n in names)


class ShiftError(ValueError):
    """A roster or week string the shift rules cannot use."""


@lru_cache(maxsize=64)
def _china_holidays(year: int) -> object:
    import holidays  # imported lazily: only rosters that ask about working days need it

    return holidays.country_holidays("CN", years=year)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Chinese working days: weekends and public holidays are off, adjusted weekend working days (调休)
    are on. ``overrides`` from config win: date -> True (a working day) / False (a day off)."""

    overrides: dict[date, bool] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        cal = _china_holidays(day.year)
        return bool(cal.is_working_day(day))  # type: ignore[attr-defined]

    def runs_on(self, kind: str, day: date) -> bool:
        if kind == "daily":
            return True
        weekdays = weekday_set(kind)
        if weekdays is not None:
            return day.weekday() in weekdays
        work = self.is_workday(day)
        return work if kind == "workdays" else not work


@dataclass(frozen=True, slots=True)
class Break:
    """A break of ``minutes`` from ``start`` (local time; after midnight of a night shift it belongs to
    that shift). ``waves`` > 1: the team takes it in turns (轮流), agent k of the team in wave
    k % waves, each wave ``minutes`` after the previous one, so the line stays staffed."""

    start: time
    minutes: int
    waves: int = 1

    def __post_init__(self) -> None:
        if self.minutes <= 0 or self.waves < 1:
            raise ShiftError(f"break at {self.start}: minutes must be positive and waves at least 1")


@dataclass(frozen=True, slots=True)
class ShiftTemplate:
    """A shift from ``start`` to ``end`` local time; ``end <= start`` means it ends the next day."""

    name: str
    start: time
    end: time
    days: str = "daily"  # daily | workdays | offdays | weekdays 'mon,tue' (of the day the shift starts)
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        try:
            weekday_set(self.days)
        except ShiftError as exc:
            raise ShiftError(f"shift {self.name!r}: {exc}") from None
        object.__setattr__(self, "breaks", tuple(self.breaks))


@dataclass(frozen=True, slots=True)
class Team:
    """A team works ``rotation[k]`` (a shift name, or "off") in the k-th week after the roster's anchor
    week, cycling."""

    name: str
    agents: tuple[str, ...]
    rotation: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "agents", tuple(self.agents))
        object.__setattr__(self, "rotation", tuple(self.rotation))
        if not self.rotation:
            raise ShiftError(f"team {self.name!r} needs a rotation")


@dataclass(frozen=True, slots=True)
class Staffing:
    """At least ``minimum`` agents of ``queue`` on shift (not on a break) from ``start`` to ``end`` local
    time on the given days (``end <= start``: until that time the next day)."""

    queue: str
    minimum: int
    start: time = time(0)
    end: time = time(0)
    days: str = "daily"  # as ShiftTemplate.days, of the day the interval starts

    def __post_init__(self) -> None:
        weekday_set(self.days)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    start: datetime  # UTC
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class Gap:
    queue: str
    start: datetime  # local time of the roster's zone
    end: datetime
    required: int
    scheduled: int

    def __str__(self) -> str:
        return (
            f"{self.queue}: {self.start:%a %Y-%m-%d %H:%M}-{self.end:%H:%M} "
            f"{self.scheduled}/{self.required} agents"
        )


@dataclass
class Roster:
    shifts: tuple[ShiftTemplate, ...]
    teams: tuple[Team, ...]
    anchor: date  # a Monday: week 0 of every team's rotation
    timezone: str = "Asia/Shanghai"
    calendar: Calendar = field(default_factory=Calendar)
    staffing: tuple[Staffing, ...] = ()
    agent_queues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _by_name: dict[str, ShiftTemplate] = field(init=False, repr=False, compare=False)
    _team_of: dict[str, Team] = field(init=False, repr=False, compare=False)
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _cache: dict[tuple[str, date], tuple[ShiftInstance, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {s.name for s in self.shifts}
        for team in self.teams:
            for name in team.rotation:
                if name != "off" and name not in names:
                    raise ShiftError(f"team {team.name!r}: unknown shift {name!r}")
        if self.anchor.weekday() != 0:
            raise ShiftError("the roster anchor must be a Monday")
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError):
            raise ShiftError(f"unknown time zone {self.timezone!r}") from None
        self.shifts = tuple(self.shifts)
        self.teams = tuple(self.teams)
        self.staffing = tuple(self.staffing)
        self._by_name = {s.name: s for s in self.shifts}
        self._team_of = {a: t for t in self.teams for a in t.agents}
        self._tz = ZoneInfo(self.timezone)
        self._cache: dict[tuple[str, date], tuple[ShiftInstance, ...]] = {}

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._team_of

    def template_for(self, team: Team, day: date) -> ShiftTemplate | None:
        """The shift ``team`` starts on local date ``day`` (None: off)."""
        monday = day - timedelta(days=day.weekday())
        week = (monday - self.anchor).days // 7
        name = team.rotation[week % len(team.rotation)]
        if name == "off":
            return None
        tpl = self._by_name[name]
        return tpl if self.calendar.runs_on(tpl.days, day) else None

    def starting_on(self, agent_id: str, day: date) -> tuple[ShiftInstance, ...]:
        key = (agent_id, day)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        team = self._team_of.get(agent_id)
        tpl = self.template_for(team, day) if team else None
        found: tuple[ShiftInstance, ...] = ()
        if tpl is not None and team is not None:
            found = (self._instance(tpl, day, team.agents.index(agent_id)),)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = found
        return found

    def shifts_around(self, agent_id: str, at: datetime) -> list[ShiftInstance]:
        """The agent's shifts that start the local day before ``at`` up to the day after, in order,
        adjacent ones merged (a double shift is one shift)."""
        day = at.astimezone(self._tz).date()
        found: list[ShiftInstance] = []
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            for s in self.starting_on(agent_id, d):
                if found and s.start <= found[-1].end:
                    prev = found.pop()
                    s = ShiftInstance(prev.start, max(prev.end, s.end), prev.breaks + s.breaks)
                found.append(s)
        return found

    def _instance(self, tpl: ShiftTemplate, day: date, member: int = 0) -> ShiftInstance:
        start = self._utc(day, tpl.start)
        end_day = day + timedelta(days=1) if tpl.end <= tpl.start else day
        end = self._utc(end_day, tpl.end)
        breaks = []
        for b in tpl.breaks:
            b_day = day + timedelta(days=1) if b.start < tpl.start else day
            b_start = self._utc(b_day, b.start) + timedelta(minutes=b.minutes * (member % b.waves))
            breaks.append((b_start, b_start + timedelta(minutes=b.minutes)))
        return ShiftInstance(start, end, tuple(breaks))

    def _utc(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self._tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ShiftRules:
    """The rules the engine asks (``queueing.ShiftGate``). An agent in no team is not bound by shifts
    (supervisors, stand-ins)."""

    roster: Roster
    ready_grace: timedelta = timedelta(minutes=10)  # may go ready this long before the start
    no_offer_last: timedelta = timedelta(minutes=5)  # no new offer in the shift's last minutes
    logout_grace: timedelta = timedelta(minutes=5)  # logged out this long after the end

    def current(self, agent_id: str, at: datetime) -> ShiftInstance | None:
        for s in self.roster.shifts_around(agent_id, at):
            if s.start - self.ready_grace <= at < s.end + self.logout_grace:
                return s
        return None

    def break_until(self, agent_id: str, at: datetime) -> datetime | None:
        """The end of the scheduled break the agent is on at ``at`` (None: not on a break)."""
        for s in self.roster.shifts_around(agent_id, at):
            for b0, b1 in s.breaks:
                if b0 <= at < b1:
                    return b1
        return None

    def next_change(self, agent_id: str, at: datetime, days: int = 35) -> datetime | None:
        """The first moment after ``at`` when the agent may become ready (a shift's start less the
        grace), a break starts or a break ends; None when nothing is planned within ``days``."""
        if not self.roster.has_agent(agent_id):
            return None
        local = at.astimezone(self.roster.tz).date()
        best: datetime | None = None
        for offset in range(-1, days + 1):
            for s in self.roster.starting_on(agent_id, local + timedelta(days=offset)):
                for moment in (s.start - self.ready_grace, *(t for b in s.breaks for t in b)):
                    if moment > at and (best is None or moment < best):
                        best = moment
            if best is not None and offset >= 1:
                return best
        return best

    def ready_allowed(self, agent_id: str, at: datetime) -> bool:
        if not self.roster.has_agent(agent_id):
            return True
        s = self.current(agent_id, at)
        if s is None or at >= s.end:
            return False
        return not any(b0 <= at < b1 for b0, b1 in s.breaks)

    def offers_close_at(self, agent_id: str, at: datetime) -> datetime | None:
        if not self.roster.has_agent(agent_id):
            return None
        s = self.current(agent_id, at)
        return at if s is None else s.end - self.no_offer_last

    def logout_at(self, agent_id: str, at: datetime) -> datetime | None:
        if not self.roster.has_agent(agent_id):
            return None
        s = self.current(agent_id, at)
        return at if s is None else s.end + self.logout_grace


def parse_week(week: str) -> date:
    """'2026-W10' -> the Monday of that ISO week."""
    try:
        year, w = week.split("-W")
        return date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise ShiftError(f"week {week!r}: expected YYYY-Www, e.g. 2026-W10") from None


def check_week(roster: Roster, week: str, slot_minutes: int = 30) -> list[Gap]:
    """Intervals of the ISO week where a queue has fewer agents on shift (off their breaks) than its
    staffing minimum; consecutive short slots with the same figures are merged."""
    monday = parse_week(week)
    tz = roster.tz
    gaps: list[Gap] = []
    slot = timedelta(minutes=slot_minutes)
    agents = sorted({a for t in roster.teams for a in t.agents})
    for rule in roster.staffing:
        members = [a for a in agents if rule.queue in roster.agent_queues.get(a, ())]
        for offset in range(7 * 24 * 60 // slot_minutes):
            local = datetime.combine(monday, time(0), tzinfo=tz) + offset * slot
            if not _rule_applies(roster, rule, local):
                continue
            at = local.astimezone(UTC)
            on = sum(1 for a in members if _on_duty(roster, a, at))
            if on >= rule.minimum:
                continue
            end = local + slot
            last = gaps[-1] if gaps else None
            if last and last.queue == rule.queue and last.end == local and last.scheduled == on:
                gaps[-1] = Gap(rule.queue, last.start, end, rule.minimum, on)
            else:
                gaps.append(Gap(rule.queue, local, end, rule.minimum, on))
    return gaps


def _rule_applies(roster: Roster, rule: Staffing, local: datetime) -> bool:
    t = local.timetz().replace(tzinfo=None)
    if rule.start < rule.end:
        inside, day = rule.start <= t < rule.end, local.date()
    else:  # crosses midnight (or 00:00-00:00: the whole day)
        inside = t >= rule.start or t < rule.end
        day = local.date() if t >= rule.start else local.date() - timedelta(days=1)
    return inside and roster.calendar.runs_on(rule.days, day)


def _on_duty(roster: Roster, agent_id: str, at: datetime) -> bool:
    for s in roster.shifts_around(agent_id, at):
        if s.start <= at < s.end:
            return not any(b0 <= at < b1 for b0, b1 in s.breaks)
    return False
