"""Deadlines in working days across National Day and Spring Festival 2026/2027, hand-worked.

What `holidays` 0.86 says for CN (checked): 2026 Spring Festival Feb 15-23 off (16-20, 23 holidays + the
weekend), Sat Feb 14 and Sat Feb 28 are working days; 2026 National Day Oct 1-7 off (Mid-Autumn Sep 25
too), Sun Sep 20 and Sat Oct 10 are working days. 2027: Feb 5-10 and Oct 1-5 off, and NO adjusted working
days yet (the State Council publishes them late in the year before): the config's overrides add them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.deadlines import (
    DUE_TODAY,
    NOT_DUE,
    NOTICE,
    OVERDUE,
    REMINDER,
    DeadlineError,
    WorkCalendar,
    due_at,
    due_day,
    escalation,
    escalation_level,
    extend,
    follow_up_due,
)
from tickets.followup import first_attempt, next_attempt
from tickets.settings import FollowUpConfig

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.china()


def local(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def midnight(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(0), TZ).astimezone(UTC)


@pytest.mark.parametrize(("accepted", "days", "due"), [
    # National Day 2026: Sep 29 (1), Sep 30 (2), Oct 8 (3), 9 (4), Sat 10 (5, adjusted), 12..16 (6-10),
    # 19 (11), 20 (12), 21 (13).
    (local(2026, 9, 28), 13, date(2026, 10, 21)),
    (local(2026, 9, 30), 3, date(2026, 10, 10)),  # Oct 8, 9, Sat 10
    (local(2026, 9, 19), 1, date(2026, 9, 20)),  # Sat -> Sun Sep 20, an adjusted working day
    (local(2026, 9, 24), 1, date(2026, 9, 28)),  # Thu -> Fri Sep 25 is Mid-Autumn: Mon 28
    (local(2026, 10, 3), 1, date(2026, 10, 8)),  # accepted during the holiday
    # Spring Festival 2026: Sat Feb 14 works; Feb 15-23 off; Sat Feb 28 works.
    (local(2026, 2, 13), 3, date(2026, 2, 25)),  # Sat 14 (1), Tue 24 (2), Wed 25 (3)
    (local(2026, 2, 27), 1, date(2026, 2, 28)),  # Fri -> Sat Feb 28, adjusted
    # Feb 13 (1), Sat 14 (2), 24 (3), 25 (4), 26 (5), 27 (6), Sat 28 (7), Mar 2 (8), 3, 4, 5, 6 (12), Mon 9 (13).
    (local(2026, 2, 12), 13, date(2026, 3, 9)),
    # 2027 as holidays 0.86 has it (no adjusted days published).
    (local(2027, 2, 4), 1, date(2027, 2, 11)),  # Fri 5 .. Wed 10 off
    (local(2027, 9, 30), 1, date(2027, 10, 6)),  # Oct 1-5 off
    (local(2027, 9, 30), 3, date(2027, 10, 8)),
])
def test_due_day(accepted: datetime, days: int, due: date) -> None:
    assert due_day(CAL, accepted, days) == due
    assert due_at(CAL, accepted, days) == midnight(due.year, due.month, due.day) + timedelta(days=1)


def test_the_acceptance_day_never_counts_even_late_at_night() -> None:
    # 23:59 local on Mon Sep 28 is still Sep 28 locally (15:59 UTC): due on Tue Sep 29 for one day.
    assert due_day(CAL, local(2026, 9, 28, 23, 59).astimezone(UTC), 1) == date(2026, 9, 29)
    # 00:30 local on Tue Sep 29 is Mon 16:30 UTC: the local day decides.
    assert due_day(CAL, local(2026, 9, 29, 0, 30).astimezone(UTC), 1) == date(2026, 9, 30)


def test_overrides_publish_2027_adjusted_days() -> None:
    # Suppose the 2027 schedule makes Sat Feb 20 a working day and Thu Feb 11 a day off.
    cal = WorkCalendar.china(overrides={date(2027, 2, 20): True, date(2027, 2, 11): False})
    assert due_day(cal, local(2027, 2, 4), 1) == date(2027, 2, 12)
    assert due_day(cal, local(2027, 2, 18), 2) == date(2027, 2, 20)


def test_escalation_across_spring_festival() -> None:
    # Help (3 days) accepted Thu Feb 12 2026: Feb 13 (1), Sat 14 (2), Tue 24 (3): due end of Feb 24.
    deadline = due_at(CAL, local(2026, 2, 12), 3)
    assert deadline == midnight(2026, 2, 25)
    esc = escalation(CAL, deadline)
    assert esc.reminder_at == midnight(2026, 2, 25)  # the next working day
    # 5 more working days: Feb 26 (1), 27 (2), Sat 28 (3, adjusted), Mar 2 (4), Mar 3 (5).
    assert esc.notice_at == midnight(2026, 3, 3)
    assert escalation_level(CAL, deadline, local(2026, 2, 23)) == NOT_DUE
    assert escalation_level(CAL, deadline, local(2026, 2, 24, 23, 59)) == DUE_TODAY
    assert escalation_level(CAL, deadline, local(2026, 2, 25, 0, 0)) == REMINDER
    assert escalation_level(CAL, deadline, local(2026, 3, 2, 23, 59)) == REMINDER
    assert escalation_level(CAL, deadline, local(2026, 3, 3, 0, 0)) == NOTICE


def test_overdue_on_a_holiday_is_reminded_on_the_next_working_day() -> None:
    # Consultation accepted Tue Sep 29 2026: due end of Wed Sep 30; Oct 1-7 off.
    deadline = due_at(CAL, local(2026, 9, 29), 1)
    assert escalation(CAL, deadline).reminder_at == midnight(2026, 10, 8)
    assert escalation_level(CAL, deadline, local(2026, 10, 3)) == OVERDUE
    # Oct 8 (reminder); 9 (1), Sat 10 (2), 12 (3), 13 (4), 14 (5).
    assert escalation(CAL, deadline).notice_at == midnight(2026, 10, 14)


def test_extension_adds_working_days_to_the_deadline() -> None:
    deadline = due_at(CAL, local(2026, 9, 28), 1)  # end of Sep 29
    assert extend(CAL, deadline, 2) == midnight(2026, 10, 9)  # Sep 30, Oct 8


def test_follow_up_the_day_after_resolution_within_permitted_hours() -> None:
    cfg = FollowUpConfig(start=time(9), end=time(20), retry_minutes=120)
    due = follow_up_due(CAL, local(2026, 9, 30, 23, 50))
    assert due == midnight(2026, 10, 1)  # calendar day: citizens are asked on holidays too
    first = first_attempt(cfg, CAL, due)
    assert first == local(2026, 10, 1, 9, 0)
    assert next_attempt(cfg, CAL, local(2026, 10, 1, 17, 0)) == local(2026, 10, 1, 19, 0)
    assert next_attempt(cfg, CAL, local(2026, 10, 1, 18, 30)) == local(2026, 10, 2, 9, 0)


def test_bad_input() -> None:
    with pytest.raises(DeadlineError):
        due_day(CAL, datetime(2026, 1, 1, 10), 1)  # naive
    with pytest.raises(DeadlineError):
        CAL.add_working_days(date(2026, 1, 1), -1)
