"""Who may see and do what: ONE decision, `policy(viewer)`, from which both the Python check and the SQL
filter are derived (so a list and a single look-up never disagree).

Roles (the login and role store arrive with callcenter/web/auth.py; here a viewer is passed in):
- admin, supervisor: every ticket, confidential ones (保密件) in full.
- agent: every ticket that is not confidential, and the confidential ones the agent created; edits
  (`may_edit`) only the tickets it created.
- department: the tickets its unit (or a unit under it) handles; a confidential ticket is shown with the
  caller's identity removed (the department handles the matter, never learns who complained).
- system: the daemon's own timers (escalation, follow-up): everything, in full.
- any other role: nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from tickets.workflow import Action

REDACTED = "***"


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    DEPARTMENT = "department"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Viewer:
    role: str
    user: str = ""
    department: str | None = None  # for role department: its unit
    # The department's unit and every unit under it (resolved from the directory by the caller).
    departments: frozenset[str] = frozenset()

    @classmethod
    def for_department(cls, code: str, subtree: Iterable[str] = (), user: str = "") -> Viewer:
        return cls(Role.DEPARTMENT, user=user, department=code, departments=frozenset(subtree) | {code})


@dataclass(frozen=True, slots=True)
class Policy:
    everything: bool  # no filter on department
    departments: frozenset[str]  # when not everything: only these units' tickets
    confidential: str  # "full", "redacted" (caller hidden), "hidden", "own" (only those the user created)
    user: str = ""

    @property
    def nothing(self) -> bool:
        return not self.everything and not self.departments


def policy(viewer: Viewer) -> Policy:
    """THE decision: what `viewer` may see."""
    role = viewer.role
    if role in (Role.ADMIN, Role.SUPERVISOR, Role.SYSTEM):
        return Policy(True, frozenset(), "full")
    if role == Role.AGENT:
        return Policy(True, frozenset(), "own", user=viewer.user)
    if role == Role.DEPARTMENT and viewer.department:
        return Policy(False, viewer.departments | {viewer.department}, "redacted")
    return Policy(False, frozenset(), "hidden")


def can_see(viewer: Viewer, ticket: Any) -> bool:
    """`ticket`: anything with department, confidential, created_by."""
    p = policy(viewer)
    if p.nothing:
        return False
    if not p.everything and ticket.department not in p.departments:
        return False
    if ticket.confidential:
        if p.confidential == "hidden":
            return False
        if p.confidential == "own":
            return bool(p.user) and ticket.created_by == p.user
    return True


def caller_visible(viewer: Viewer, ticket: Any) -> bool:
    """Whether the caller's name, number and contact may be shown (False: show REDACTED)."""
    return not (ticket.confidential and policy(viewer).confidential == "redacted")


def sql_filter(viewer: Viewer, table: Any) -> ColumnElement[bool]:
    """The same decision as `can_see`, as a WHERE clause on the tickets table."""
    p = policy(viewer)
    if p.nothing:
        return false()
    clauses: list[ColumnElement[bool]] = []
    if not p.everything:
        clauses.append(table.c.department.in_(sorted(p.departments)))
    if p.confidential == "hidden":
        clauses.append(table.c.confidential.is_(False))
    elif p.confidential == "own":
        clauses.append(or_(table.c.confidential.is_(False), table.c.created_by == p.user) if p.user
                       else table.c.confidential.is_(False))
    return and_(true(), *clauses)


CENTRE = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})
LEADS = frozenset({Role.ADMIN, Role.SUPERVISOR})
_BY_ACTION: dict[Action, frozenset[str]] = {
    Action.DISPATCH: CENTRE,
    Action.ANSWER: CENTRE,
    Action.REASSIGN: CENTRE,
    Action.MERGE: CENTRE,
    Action.REMIND: CENTRE | {Role.SYSTEM},
    Action.SUPERVISE: LEADS | {Role.SYSTEM},
    Action.APPROVE_EXTENSION: LEADS,
    Action.REJECT_EXTENSION: LEADS,
    Action.SIGN: frozenset({Role.DEPARTMENT}) | LEADS,
    Action.RETURN: frozenset({Role.DEPARTMENT}) | LEADS,
    Action.REQUEST_EXTENSION: frozenset({Role.DEPARTMENT}) | LEADS,
    Action.RESOLVE: frozenset({Role.DEPARTMENT}) | LEADS,
    Action.FOLLOW_UP_SATISFIED: CENTRE | {Role.SYSTEM},
    Action.FOLLOW_UP_UNSATISFIED: CENTRE | {Role.SYSTEM},
    Action.FOLLOW_UP_UNREACHED: CENTRE | {Role.SYSTEM},
    Action.CLOSE: CENTRE | {Role.SYSTEM},
}


def may_edit(viewer: Viewer, ticket: Any) -> bool:
    """Whether `viewer` may edit `ticket`'s fields: an agent only the tickets it created (its own work);
    supervisors and admins any ticket of the centre; nobody else (departments act through transitions)."""
    if viewer.role in LEADS:
        return can_see(viewer, ticket)
    if viewer.role == Role.AGENT:
        return bool(viewer.user) and ticket.created_by == viewer.user and can_see(viewer, ticket)
    return False


def may_act(viewer: Viewer, action: Action, ticket: Any) -> bool:
    """Whether `viewer` may take `action` on `ticket` (it must also see it)."""
    return viewer.role in _BY_ACTION.get(action, frozenset()) and can_see(viewer, ticket)
