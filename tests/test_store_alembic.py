"""The Alembic migration builds exactly the schema the model declares, on SQLite and PostgreSQL."""

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
from tickets.store import Store
from tickets.testing import make_record, throwaway_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    try:
        ctx = throwaway_pg_database()
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


def test_upgrade_empty_database_to_head(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == migrate.head()
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
            indexes = {ix["name"] for ix in inspect(conn).get_indexes("call_records")}
    finally:
        engine.dispose()
    assert [d for d in diffs if "call_records" in repr(d)] == []
    assert {"ix_call_records_caller_ended", "ix_call_records_ended", "ix_call_records_queue_ended"} <= indexes

    with Store(empty_db, create=False) as store:  # the migrated schema serves the store as is
        rec = make_record("m1", entered_at=datetime(2026, 3, 1, tzinfo=UTC))
        assert store.write_batch([rec, rec]) == 1
        assert store.get("m1") == rec

    migrate.downgrade(empty_db, "base")
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert not inspect(conn).has_table("call_records")
    finally:
        engine.dispose()
