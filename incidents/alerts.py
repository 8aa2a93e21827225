"""Work alerts (工作提示): from an incident or a hot topic, a supervisor alerts the responsible department,
which acknowledges it (签收) and replies (回复) by a deadline; tracked like a ticket, in its own table so
the ticket figures (connection rate, ticket reports) are not touched.

    sent ──acknowledge──▶ acknowledged ──reply──▶ replied
     └───────────────reply──────────────────────▶ replied    (a reply acknowledges too)

Overdue is not a state: an alert not replied by its deadline is overdue (``due``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select, update

from incidents.sources import SourceError
from records.table import UTCDateTime  # times stored in UTC, read back aware


class AlertState(StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REPLIED = "replied"


#: every legal (state, action) -> next state
ALERT_MOVES: dict[tuple[AlertState, str], AlertState] = {
    (AlertState.SENT, "acknowledge"): AlertState.ACKNOWLEDGED,
    (AlertState.SENT, "reply"): AlertState.REPLIED,
    (AlertState.ACKNOWLEDGED, "reply"): AlertState.REPLIED,
}

META = MetaData()
ALERTS = Table(
    "work_alerts", META,
    Column("id", Integer, primary_key=True),
    Column("subject", String(160), nullable=False),  # the incident key or the hot topic
    Column("department", String(64), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("sent_by", String(64), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", UTCDateTime()),
    Column("reply", Text, nullable=False, default=""),
    Column("replied_by", String(64)),
    Column("replied_at", UTCDateTime()),
)


@dataclass(frozen=True, slots=True)
class WorkAlert:
    id: int
    subject: str
    department: str
    text: str
    state: AlertState
    deadline: datetime
    sent_by: str
    sent_at: datetime
    acknowledged_at: datetime | None
    reply: str
    replied_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        return self.state is not AlertState.REPLIED and now > self.deadline


class WorkAlerts:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        META.create_all(engine, tables=[ALERTS])

    def send(self, subject: str, department: str, text: str, deadline: datetime, by: str, at: datetime) -> int:
        if not subject.strip() or not department.strip() or not text.strip():
            raise SourceError("bad_alert", "a work alert needs a subject, a department and its text")
        if deadline.tzinfo is None or at.tzinfo is None or deadline <= at:
            raise SourceError("bad_deadline", "the deadline is a time-zone-aware time after now")
        with self.engine.begin() as conn:
            return int(conn.execute(ALERTS.insert().values(
                subject=subject, department=department, text=text.strip(), state=AlertState.SENT.value,
                deadline=deadline, sent_by=by, sent_at=at, reply="").returning(ALERTS.c.id)).scalar_one())

    def get(self, alert_id: int) -> WorkAlert:
        with self.engine.connect() as conn:
            row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()
        if row is None:
            raise SourceError("no_such_alert", f"no work alert {alert_id}")
        return WorkAlert(row.id, row.subject, row.department, row.text, AlertState(row.state), row.deadline,
                         row.sent_by, row.sent_at, row.acknowledged_at, row.reply, row.replied_at)

    def _move(self, alert_id: int, action: str, department: str, values: dict[str, Any]) -> WorkAlert:
        alert = self.get(alert_id)
        if alert.department != department:
            raise SourceError("forbidden", f"work alert {alert_id} is for another department")
        target = ALERT_MOVES.get((alert.state, action))
        if target is None:
            raise SourceError("illegal_move", f"a work alert that is {alert.state} cannot {action}")
        with self.engine.begin() as conn:
            done = conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.state == alert.state.value)
                                .values(state=target.value, **values)).rowcount
        if done != 1:
            raise SourceError("concurrent_change", f"work alert {alert_id} changed meanwhile; reload it")
        return self.get(alert_id)

    def acknowledge(self, alert_id: int, department: str, by: str, at: datetime) -> WorkAlert:
        return self._move(alert_id, "acknowledge", department, {"acknowledged_by": by, "acknowledged_at": at})

    def reply(self, alert_id: int, department: str, text: str, by: str, at: datetime) -> WorkAlert:
        if not text.strip():
            raise SourceError("bad_reply", "a reply needs its text")
        values: dict[str, Any] = {"reply": text.strip(), "replied_by": by, "replied_at": at}
        if self.get(alert_id).acknowledged_at is None:
            values |= {"acknowledged_by": by, "acknowledged_at": at}
        return self._move(alert_id, "reply", department, values)

    def due(self, now: datetime, department: str | None = None) -> list[WorkAlert]:
        """Alerts not replied yet, earliest deadline first (overdue ones say so: ``overdue(now)``)."""
        query = select(ALERTS.c.id).where(ALERTS.c.state != AlertState.REPLIED.value).order_by(ALERTS.c.deadline)
        if department is not None:
            query = query.where(ALERTS.c.department == department)
        with self.engine.connect() as conn:
            ids = [i for (i,) in conn.execute(query)]
        return [self.get(i) for i in ids]
