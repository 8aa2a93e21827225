"""Alembic builds the ticket tables exactly as the models declare them, on empty SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import SQLModel

from records import migrate
from records.store import Store
from tests.alembic_check import empty_db, table_names, upgraded
from tickets.access import Role, Viewer
from tickets.deadlines import WorkCalendar
from tickets.service import TicketDraft, TicketService
from tickets.settings import TicketsConfig

__all__ = ["empty_db"]  # the fixture, imported for pytest
TABLES = ("tickets", "ticket_events", "ticket_calls", "ticket_counters")


def test_upgrade_to_head_builds_the_ticket_tables(empty_db: str) -> None:
    indexes = upgraded(empty_db, TABLES, SQLModel.metadata)
    assert "ix_tickets_caller_open_created" in indexes["tickets"]
    with Store(empty_db, create=False) as store:
        svc = TicketService(store, TicketsConfig(), WorkCalendar.china(), create_tables=False)
        t = svc.create(TicketDraft(category="help", content="x"), Viewer(Role.AGENT, user="a"),
                       datetime(2026, 11, 28, tzinfo=UTC))
        assert t.number == "12345-20261128-000001"
    migrate.downgrade(empty_db, "0001")
    left = table_names(empty_db)
    assert "tickets" not in left and "call_records" in left
