"""Deadlines in working days, escalation timing and the follow-up day: pure functions.

Working days come from `agents.shifts.Calendar` (the `holidays` package's Chinese calendar with its
adjusted working days 调休, overridable from config). Conventions (hand-worked in the tests):

- A ticket accepted on day D with N working days is due at the END of the N-th working day after D
  (D itself never counts, even when it is a working day). `due_at` is the instant that day ends
  (local midnight of the next day, as UTC): overdue from that instant on.
- Escalation: a reminder (催办) on the first working day after the due day; a formal notice (督办通知)
  on the 5th working day after the reminder day. Both start at local midnight of their day.
- Follow-up (回访): due the calendar day after resolution (citizens are called on any day, within the
  permitted hours of `tickets.followup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agents.shifts import Calendar

MAX_SCAN_DAYS = 3660  # a calendar with no working day for ten years is a configuration error


class DeadlineError(ValueError):
    """A deadline that cannot be computed (naive datetime, negative days, no working day ahead)."""


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Working days of the centre in its time zone."""

    calendar: Calendar
    tz: ZoneInfo

    @classmethod
    def china(cls, timezone: str = "Asia/Shanghai", overrides: dict[date, bool] | None = None) -> WorkCalendar:
        return cls(Calendar(dict(overrides or {})), ZoneInfo(timezone))

    def is_workday(self, day: date) -> bool:
        return self.calendar.is_workday(day)

    def local_day(self, at: datetime) -> date:
        if at.tzinfo is None or at.utcoffset() is None:
            raise DeadlineError("naive datetime: times are timezone-aware")
        return at.astimezone(self.tz).date()

    def start_of(self, day: date) -> datetime:
        """Local midnight starting `day`, as UTC."""
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """The instant `day` ends (local midnight of the next day), as UTC."""
        return self.start_of(day + timedelta(days=1))

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (`day` itself not counted); n = 0 gives `day`."""
        if n < 0:
            raise DeadlineError("working days must be >= 0")
        current = day
        for _ in range(MAX_SCAN_DAYS):
            if n == 0:
                return current
            current += timedelta(days=1)
            if self.is_workday(current):
                n -= 1
        raise DeadlineError(f"no working day within {MAX_SCAN_DAYS} days after {day}")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days `end` is after `start` (0 if not after)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            count += self.is_workday(current)
        return count


def due_day(cal: WorkCalendar, accepted_at: datetime, working_days: int) -> date:
    """The local day a ticket accepted at `accepted_at` is due (end of that day)."""
    return cal.add_working_days(cal.local_day(accepted_at), working_days)


def due_at(cal: WorkCalendar, accepted_at: datetime, working_days: int) -> datetime:
    """The instant (UTC) the ticket becomes overdue."""
    return cal.end_of(due_day(cal, accepted_at, working_days))


def extend(cal: WorkCalendar, deadline: datetime, working_days: int) -> datetime:
    """A deadline moved by an approved extension (延期) of `working_days` more working days."""
    last_day = cal.local_day(deadline - timedelta(microseconds=1))
    return cal.end_of(cal.add_working_days(last_day, working_days))


@dataclass(frozen=True, slots=True)
class Escalation:
    reminder_at: datetime  # 催办
    notice_at: datetime  # 督办通知 (formal notice)


def escalation(cal: WorkCalendar, deadline: datetime, notice_after: int = 5) -> Escalation:
    """When a ticket still open after `deadline` is reminded, then formally noticed."""
    last_day = cal.local_day(deadline - timedelta(microseconds=1))
    reminder_day = cal.add_working_days(last_day, 1)
    notice_day = cal.add_working_days(reminder_day, notice_after)
    return Escalation(cal.start_of(reminder_day), cal.start_of(notice_day))


NOT_DUE, DUE_TODAY, OVERDUE, REMINDER, NOTICE = "not_due", "due_today", "overdue", "reminder", "notice"


def escalation_level(cal: WorkCalendar, deadline: datetime, now: datetime, notice_after: int = 5) -> str:
    """Where an open ticket stands at `now`: not_due, due_today (its last day), overdue (deadline passed,
    reminder not yet), reminder (催办 due), notice (formal notice due)."""
    if now < deadline:
        last_day = cal.local_day(deadline - timedelta(microseconds=1))
        return DUE_TODAY if cal.local_day(now) == last_day else NOT_DUE
    esc = escalation(cal, deadline, notice_after)
    if now >= esc.notice_at:
        return NOTICE
    if now >= esc.reminder_at:
        return REMINDER
    return OVERDUE


def follow_up_due(cal: WorkCalendar, resolved_at: datetime) -> datetime:
    """Start (UTC) of the calendar day after resolution: the follow-up may be made from then on."""
    return cal.start_of(cal.local_day(resolved_at) + timedelta(days=1))
