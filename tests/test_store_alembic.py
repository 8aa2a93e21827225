"""The Alembic migration builds exactly the schema the model declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import SQLModel

from records import migrate
from records.store import Store
from records.testing import make_record
from tests.alembic_check import empty_db, table_names, upgraded

__all__ = ["empty_db"]  # the fixture, imported for pytest


def test_upgrade_empty_database_to_head(empty_db: str) -> None:
    indexes = upgraded(empty_db, ["call_records"], SQLModel.metadata)["call_records"]
    assert {"ix_call_records_caller_ended", "ix_call_records_ended", "ix_call_records_queue_ended"} <= indexes

    with Store(empty_db, create=False) as store:  # the migrated schema serves the store as is
        rec = make_record("m1", entered_at=datetime(2026, 3, 1, tzinfo=UTC))
        assert store.write_batch([rec, rec]) == 1
        assert store.get("m1") == rec

    migrate.downgrade(empty_db, "base")
    assert "call_records" not in table_names(empty_db)
