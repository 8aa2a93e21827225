"""Alembic builds agent_state_intervals exactly as records/agentlog.py declares it, and takes it away again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine

from records import agentlog, migrate
from records.agent import AgentInterval
from records.agentlog import AgentLog
from tests.alembic_check import empty_db, table_names, upgraded

__all__ = ["empty_db"]  # the fixture, imported for pytest
TABLE = "agent_state_intervals"


def test_upgrade_builds_the_agent_log_and_downgrade_removes_it(empty_db: str) -> None:
    indexes = upgraded(empty_db, [TABLE], agentlog.metadata)
    assert "ix_agent_state_intervals_end" in indexes[TABLE]
    engine = create_engine(empty_db)
    try:  # the migrated table serves the log as is; an interval written twice is stored once
        log = AgentLog(engine)
        t0, t1 = datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
        iv = AgentInterval("1001", "not_ready", "meeting", t0, t1)
        log.write([iv, iv])
        assert log.intervals(t0, t1) == [iv]
    finally:
        engine.dispose()
    migrate.downgrade(empty_db, "0003")
    left = table_names(empty_db)
    assert TABLE not in left and "call_records" in left and "tickets" in left
    migrate.upgrade(empty_db)  # and back up again: the downgrade left nothing behind
    assert TABLE in table_names(empty_db)
