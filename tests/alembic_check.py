"""Shared by the Alembic tests: an empty database of each kind, and the upgrade check.

`upgraded(url, tables, metadata)` migrates an empty database to head and asserts that the revision is the
head and that the named tables are exactly what `metadata` declares (no autogenerate difference).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from records import migrate
from records.testing import database_url

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database: SQLite in tmp_path, or a throwaway PostgreSQL database."""
    try:
        ctx = database_url(request.param, str(tmp_path))
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


def upgraded(url: str, tables: Sequence[str], metadata: MetaData) -> dict[str, set[str]]:
    """Upgrade `url` to head; check the revision and that `tables` match `metadata`. Returns the index
    names of each of `tables`."""
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == migrate.head()
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
            insp = inspect(conn)
            assert all(insp.has_table(t) for t in tables), [t for t in tables if not insp.has_table(t)]
            indexes = {t: {str(ix["name"]) for ix in insp.get_indexes(t)} for t in tables}
    finally:
        engine.dispose()
    # A difference names its table, quoted, in its repr ('tickets', not 'incident_tickets'); differences of
    # other tables are other tests' business.
    assert [d for d in diffs if any(repr(t) in repr(d) for t in tables)] == []
    return indexes


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
