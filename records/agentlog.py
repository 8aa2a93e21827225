"""Agent state intervals in the database (table `agent_state_intervals`, beside the call records).

The daemon closes an interval on every `AgentStateChanged` (metrics/agents.py) and hands it to
`AgentLogWriter`, which inserts in batches from a worker thread, off the routing path. Reports and the
daemon's start read them back, so after-call work, occupancy and not-ready reasons survive a restart.
An interval is keyed on (agent_id, start): writing it twice stores it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from records.agent import AgentInterval

log = logging.getLogger(__name__)

metadata = MetaData()
TABLE = Table(
    "agent_state_intervals",
    metadata,
    Column("agent_id", String(32), primary_key=True),
    Column("start", DateTime(timezone=True), primary_key=True),
    Column("end", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(64), nullable=False, default=""),
)
MAX_PENDING = 100_000


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class AgentLog:
    """Synchronous access; `engine` may be shared with the call-record store."""

    def __init__(self, engine: Engine | str) -> None:
        self.engine = create_engine(engine) if isinstance(engine, str) else engine
        self.dialect = self.engine.dialect.name
        metadata.create_all(self.engine, tables=[TABLE])

    def write(self, intervals: Iterable[AgentInterval]) -> int:
        rows = [{"agent_id": i.agent_id, "start": _utc(i.start), "end": _utc(i.end), "state": i.state,
                 "reason": i.reason[:64]} for i in intervals]
        if not rows:
            return 0
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(TABLE).on_conflict_do_nothing(index_elements=["agent_id", "start"])
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def intervals(self, since: datetime, until: datetime | None = None) -> list[AgentInterval]:
        """Intervals that overlap [since, until)."""
        query = select(TABLE).where(TABLE.c.end > since)
        if until is not None:
            query = query.where(TABLE.c.start < until)
        query = query.order_by(TABLE.c.start, TABLE.c.agent_id)
        with self.engine.connect() as conn:
            return [AgentInterval(r.agent_id, r.state, r.reason, _utc(r.start), _utc(r.end))
                    for r in conn.execute(query)]


class AgentLogWriter:
    """Batches intervals; `run()` is a TaskGroup task flushing every `interval` seconds. A database
    error keeps the batch for the next try (bounded: the oldest are dropped past MAX_PENDING)."""

    def __init__(self, log_: AgentLog, interval: float = 1.0) -> None:
        self.log = log_
        self.interval = interval
        self._pending: list[AgentInterval] = []
        self.written = 0
        self.errors = 0
        self.dropped = 0

    def submit(self, interval: AgentInterval) -> None:
        self._pending.append(interval)
        if len(self._pending) > MAX_PENDING:
            self.dropped += len(self._pending) - MAX_PENDING
            del self._pending[: len(self._pending) - MAX_PENDING]

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self.written += await asyncio.to_thread(self.log.write, batch)
        except SQLAlchemyError as exc:
            self.errors += 1
            log.warning("agent state log: %d intervals kept for retry: %s", len(batch), type(exc).__name__)
            self._pending[:0] = batch

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()
