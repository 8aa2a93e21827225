"""Caller history for the screen-pop: a number's open tickets and last calls in ONE query.

    SELECT ... FROM (open tickets of the number, newest first, LIMIT t)      -- ix_tickets_caller_open_created
    UNION ALL
    SELECT ... FROM (calls of the number, newest first, LIMIT c)             -- ix_call_records_caller_ended

Each half is a range scan on its index that stops after its LIMIT, so the look-up costs the same with a
million tickets as with a hundred. Confidential tickets follow the viewer's access policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, CompoundSelect, cast, false, literal, null, select, type_coerce, union_all

from records.store import Store
from records.table import CallRecordRow, UTCDateTime
from tickets import access
from tickets.access import Viewer
from tickets.tables import Ticket

T = Ticket.__table__  # type: ignore[attr-defined]
C = CallRecordRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PastCall:
    call_id: str
    ended_at: datetime
    outcome: str
    queue: str | None
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class OpenTicket:
    number: str
    created_at: datetime
    state: str
    category: str
    department: str | None
    due_at: datetime | None
    title: str
    confidential: bool


@dataclass(frozen=True, slots=True)
class CallerHistory:
    number: str
    calls: tuple[PastCall, ...]
    open_tickets: tuple[OpenTicket, ...]

    def to_dict(self) -> dict[str, object]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v is not None else None

        return {
            "number": self.number,
            "calls": [{"call_id": c.call_id, "ended_at": iso(c.ended_at), "outcome": c.outcome, "queue": c.queue,
                       "agent_id": c.agent_id} for c in self.calls],
            "open_tickets": [{"number": t.number, "created_at": iso(t.created_at), "state": t.state,
                              "category": t.category, "department": t.department, "due_at": iso(t.due_at),
                              "title": t.title, "confidential": t.confidential} for t in self.open_tickets],
        }


def history_query(number: str, viewer: Viewer, calls: int = 10, tickets: int = 10) -> CompoundSelect:
    tickets_part = (
        select(literal("ticket").label("kind"), T.c.number.label("key"), T.c.created_at.label("at"),
               T.c.state.label("status"), T.c.category.label("what"), T.c.department.label("who"),
               T.c.due_at.label("due_at"), T.c.title.label("title"), T.c.confidential.label("confidential"))
        .where(T.c.caller_number == number, T.c.is_open.is_(True), access.sql_filter(viewer, T))
        .order_by(T.c.created_at.desc())
        .limit(tickets)
        .subquery()
    )
    calls_part = (
        select(literal("call").label("kind"), C.c.call_id.label("key"), C.c.ended_at.label("at"),
               C.c.outcome.label("status"), C.c.queue.label("what"), C.c.agent_id.label("who"),
               cast(null(), UTCDateTime()).label("due_at"), C.c.ivr_path.label("title"),
               type_coerce(false(), Boolean()).label("confidential"))
        .where(C.c.caller_number == number)
        .order_by(C.c.ended_at.desc())
        .limit(calls)
        .subquery()
    )
    return union_all(select(tickets_part), select(calls_part))


def caller_history(store: Store, number: str, *, viewer: Viewer | None = None, calls: int = 10,
                   tickets: int = 10) -> CallerHistory:
    """The number's last `calls` calls and up to `tickets` open tickets, newest first (one round trip)."""
    viewer = viewer or Viewer(access.Role.SYSTEM)
    query = history_query(number, viewer, calls, tickets)
    with store.engine.connect() as conn:
        rows = list(conn.execute(query))
    past: list[PastCall] = []
    open_: list[OpenTicket] = []
    for r in rows:
        at = _utc(r.at)
        if r.kind == "call":
            past.append(PastCall(r.key, at, r.status, r.what, r.who))
        else:
            open_.append(OpenTicket(r.key, at, r.status, r.what, r.who, _utc(r.due_at) if r.due_at else None,
                                    r.title, bool(r.confidential)))
    past.sort(key=lambda c: c.ended_at, reverse=True)
    open_.sort(key=lambda t: t.created_at, reverse=True)
    return CallerHistory(number, tuple(past), tuple(open_))


def _utc(value: object) -> datetime:
    # SQLite hands a union's datetimes back as text when the type does not survive the compound select.
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
