"""Callback requests (预约回电) in the database (table `callbacks`, beside the call records).

A row is written when a caller asks to be called back (the IVR's callback node, or a queue whose fallback
is ``callback``) and updated on each attempt, so a daemon restart finds every callback still to dial, with
its place in the queue (``entered_at``: the original call's join time), and every result for the reports.
Few rows an hour: written synchronously from the event loop (a slow database delays a callback, not a call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, func, insert, select, update

metadata = MetaData()
TABLE = Table(
    "callbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),  # the call that asked for it
    Column("number", String(32), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),  # the place in the queue
    Column("state", String(16), nullable=False, index=True),  # pending | dialling | answered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", DateTime(timezone=True), nullable=True),  # not dialled before this time (a retry)
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_result", String(16), nullable=False, default=""),  # ANSWER, NOANSWER, BUSY, ...
    Column("agent_id", String(32), nullable=True),  # the agent who talked to the citizen
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True, index=True),
)
OPEN_STATES = ("pending", "dialling")


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass
class Callback:
    id: int
    call_id: str
    number: str
    queue: str
    requested_at: datetime
    entered_at: datetime
    state: str = "pending"
    attempts: int = 0
    next_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_result: str = ""
    agent_id: str | None = None
    answered_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def key(self) -> str:
        """The callback's id in the ACD engine (apart from every Asterisk uniqueid)."""
        return f"cb-{self.id}"

    def __repr__(self) -> str:  # the citizen's number stays out of logs
        return f"Callback(id={self.id}, queue={self.queue!r}, state={self.state!r}, attempts={self.attempts})"


_TIMES = ("requested_at", "entered_at", "next_at", "last_attempt_at", "answered_at", "finished_at")


def _row(r: Any) -> Callback:
    d = dict(r._mapping)
    for k in _TIMES:
        d[k] = _utc(d[k])
    return Callback(**d)


class CallbackStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # checkfirst: an Alembic-managed schema (alembic/versions/v0009_callbacks.py) is left alone
        metadata.create_all(self.engine, tables=[TABLE])

    def add(self, call_id: str, number: str, queue: str, requested_at: datetime, entered_at: datetime) -> Callback:
        with self.engine.begin() as conn:
            res = conn.execute(insert(TABLE).values(
                call_id=call_id, number=number, queue=queue, requested_at=requested_at, entered_at=entered_at,
                state="pending", attempts=0, last_result=""))
            new_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        return Callback(new_id, call_id, number, queue, requested_at, entered_at)

    def save(self, cb: Callback) -> None:
        values = {k: getattr(cb, k) for k in ("state", "attempts", "next_at", "last_attempt_at", "last_result",
                                              "agent_id", "answered_at", "finished_at")}
        with self.engine.begin() as conn:
            conn.execute(update(TABLE).where(TABLE.c.id == cb.id).values(**values))

    def open(self) -> list[Callback]:
        """Every callback still to dial (a restart re-queues them), oldest place first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(TABLE).where(TABLE.c.state.in_(OPEN_STATES)).order_by(TABLE.c.entered_at))
            return [_row(r) for r in rows]

    def all(self) -> list[Callback]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(TABLE).order_by(TABLE.c.id))]

    def get(self, cb_id: int) -> Callback | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(TABLE).where(TABLE.c.id == cb_id)).first()
            return _row(r) if r is not None else None

    def finished_since(self, since: datetime) -> dict[str, int]:
        """answered / failed callbacks finished since ``since`` (the wallboard's "today")."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(TABLE.c.state, func.count()).where(TABLE.c.finished_at >= since)
                                .group_by(TABLE.c.state))
            return {str(s): int(n) for s, n in rows}
