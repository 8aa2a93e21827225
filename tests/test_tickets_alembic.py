"""Alembic builds the ticket tables exactly as the models declare them, on empty SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from tickets import migrate
from tickets.access import Role, Viewer
from tickets.deadlines import WorkCalendar
from tickets.service import TicketDraft, TicketService
from tickets.settings import TicketsConfig
from tickets.store import Store
from tickets.testing import database_url

TABLES = ("tickets", "ticket_events", "ticket_calls", "ticket_counters")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    try:
        ctx = database_url(request.param, str(tmp_path))
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


def test_upgrade_to_head_builds_the_ticket_tables(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == migrate.head()
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            indexes = {ix["name"] for ix in inspect(conn).get_indexes("tickets")}
    finally:
        engine.dispose()
    assert [d for d in diffs if any(t in repr(d) for t in TABLES)] == []
    assert "ix_tickets_caller_open_created" in indexes
    with Store(empty_db, create=False) as store:
        svc = TicketService(store, TicketsConfig(), WorkCalendar.china(), create_tables=False)
        t = svc.create(TicketDraft(category="help", content="x"), Viewer(Role.AGENT, user="a"),
                       datetime(2026, 11, 28, tzinfo=UTC))
        assert t.number == "12345-20261128-000001"
    migrate.downgrade(empty_db, "0001")
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert not inspect(conn).has_table("tickets")
            assert inspect(conn).has_table("call_records")
    finally:
        engine.dispose()
