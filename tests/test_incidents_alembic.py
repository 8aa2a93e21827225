"""Alembic builds the incident tables (incidents, 同源件 links, work alerts) exactly as incidents/ declares them,
on empty SQLite and PostgreSQL, and the services work on the migrated tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import MetaData

from incidents import alerts, journal, sources
from records import migrate
from records.store import Store
from tests.alembic_check import empty_db, table_names, upgraded

__all__ = ["empty_db"]  # the fixture, imported for pytest
TABLES = ("incidents", "incident_tickets", "work_alerts")


def test_upgrade_to_head_builds_the_incident_tables(empty_db: str) -> None:
    both = MetaData()
    for table in (journal.TABLE, sources.LINKS, alerts.ALERTS):
        table.to_metadata(both)
    indexes = upgraded(empty_db, TABLES, both)
    assert "ix_incident_tickets_incident" in indexes["incident_tickets"]
    assert "ix_work_alerts_department" in indexes["work_alerts"] and "ix_incidents_state" in indexes["incidents"]
    with Store(empty_db, create=False) as store:
        book = alerts.WorkAlerts(store.engine)
        at = datetime(2026, 9, 28, 2, tzinfo=UTC)
        sent = book.send("水电气@阳光花园", "xihu.gaj", "请核实停电范围", at + timedelta(hours=4), "s1", at)
        assert book.get(sent).department == "xihu.gaj"
    migrate.downgrade(empty_db, "0004")
    left = table_names(empty_db)
    assert not left & set(TABLES) and "agent_state_intervals" in left
