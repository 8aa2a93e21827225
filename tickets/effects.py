"""What each workflow action sets on a ticket besides its state: one effect per action, in one table.

`workflow.TRANSITIONS` says where an action leads; `EFFECTS` says what else it changes. An effect checks
the move's inputs first (raising `InvalidTicket`, so nothing is written) and returns the column changes.
No database here: the one action that touches other rows, merge, has its calls moved by the service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from tickets import deadlines
from tickets.departments import Directory
from tickets.errors import InvalidTicket
from tickets.followup import first_attempt
from tickets.settings import TicketsConfig
from tickets.workflow import Action


@dataclass(frozen=True, slots=True)
class Move:
    """One action on one ticket: the row as read and what the actor gave with it."""

    row: Any  # the ticket's row (number, department, due_at, extension_*, reminders, category ...)
    at: datetime
    department: str | None
    note: str
    days: int | None
    merge_into: str | None
    satisfaction: str | None
    cfg: TicketsConfig
    calendar: deadlines.WorkCalendar
    directory: Directory

    @property
    def working_days(self) -> int:
        """The category's time limit in working days (0: an unknown category has none)."""
        known = {c.code for c in self.cfg.categories}
        return self.cfg.category(self.row.category).working_days if self.row.category in known else 0

    def due_from_now(self) -> datetime:
        return deadlines.due_at(self.calendar, self.at, self.working_days)

    def need_note(self, what: str) -> None:
        if not self.note.strip():
            raise InvalidTicket(what)


Effect = Callable[[Move], dict[str, Any]]


def _to_department(m: Move, action: Action) -> dict[str, Any]:
    if not m.department:
        raise InvalidTicket(f"{action.value} needs a department")
    if len(m.directory) and m.department not in m.directory:
        raise InvalidTicket(f"unknown department {m.department!r}")
    if action is Action.REASSIGN and m.department == m.row.department:
        raise InvalidTicket("reassign to the department that has it")
    # The unit's deadline runs from the moment it receives the ticket.
    return {"department": m.department, "dispatched_at": m.at, "due_at": m.due_from_now(),
            "extension_requested_days": 0}


def _return(m: Move) -> dict[str, Any]:
    m.need_note("a return (退单) needs its reason")
    return {"department": None, "due_at": None, "extension_requested_days": 0}


def _request_extension(m: Move) -> dict[str, Any]:
    if m.days is None or not 1 <= m.days <= m.cfg.extension_max_days:
        raise InvalidTicket(f"an extension needs days between 1 and {m.cfg.extension_max_days}")
    m.need_note("an extension request needs its reason")
    return {"extension_requested_days": m.days}


def _approve_extension(m: Move) -> dict[str, Any]:
    base = m.row.due_at or m.due_from_now()
    return {"due_at": deadlines.extend(m.calendar, base, m.row.extension_requested_days),
            "extension_days": m.row.extension_days + m.row.extension_requested_days,
            "extension_requested_days": 0}


def _resolve(m: Move, action: Action) -> dict[str, Any]:
    m.need_note(f"{action.value} needs the reply given to the citizen")
    next_at = first_attempt(m.cfg.followup, m.calendar, deadlines.follow_up_due(m.calendar, m.at))
    return {"resolved_at": m.at, "reply": m.note, "follow_up_next_at": next_at, "follow_up_attempts": 0}


def _followed_up(default: str) -> Effect:
    return lambda m: {"satisfaction": m.satisfaction or default, "follow_up_next_at": None}


def _reopen(m: Move) -> dict[str, Any]:
    # Unsatisfied: reopened to its department with a fresh deadline.
    return {"satisfaction": m.satisfaction or "unsatisfied", "follow_up_next_at": None, "resolved_at": None,
            "due_at": m.due_from_now(), "follow_up_attempts": 0}


def _merge(m: Move) -> dict[str, Any]:
    if not m.merge_into or m.merge_into == m.row.number:
        raise InvalidTicket("merge needs the number of another ticket")
    return {"merged_into": m.merge_into, "closed_at": m.at, "follow_up_next_at": None}


A = Action
EFFECTS: Mapping[Action, Effect] = MappingProxyType({
    A.DISPATCH: lambda m: _to_department(m, A.DISPATCH),
    A.REASSIGN: lambda m: _to_department(m, A.REASSIGN),
    A.ANSWER: lambda m: _resolve(m, A.ANSWER),
    A.RESOLVE: lambda m: _resolve(m, A.RESOLVE),
    A.SIGN: lambda m: {},  # the state change is all
    A.RETURN: _return,
    A.REQUEST_EXTENSION: _request_extension,
    A.APPROVE_EXTENSION: _approve_extension,
    A.REJECT_EXTENSION: lambda m: {"extension_requested_days": 0},
    A.REMIND: lambda m: {"reminders": m.row.reminders + 1},
    A.SUPERVISE: lambda m: {"supervised": True},
    A.FOLLOW_UP_SATISFIED: _followed_up("satisfied"),
    A.FOLLOW_UP_UNREACHED: _followed_up("unreached"),
    A.FOLLOW_UP_UNSATISFIED: _reopen,
    A.CLOSE: lambda m: {"closed_at": m.at},
    A.MERGE: _merge,
})
