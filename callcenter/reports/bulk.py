"""Bulk inserts for seeding a month (tens of thousands of rows per table) in seconds, on SQLite and PostgreSQL.

SQLAlchemy's executemany binds every parameter through its type processors, and psycopg's executemany
still sends one statement per row: a month took half a minute. Here, on the same connection and in the
caller's transaction:
- PostgreSQL: COPY (through a temporary table and INSERT ... ON CONFLICT DO NOTHING when existing keys
  must be skipped);
- SQLite: the driver's executemany with values already in the form SQLAlchemy stores them (a UTC
  instant as naive 'YYYY-MM-DD HH:MM:SS.ffffff' text, see records/table.py UTCDateTime), so rows
  written here and by the store read back the same and sort the same.
Identifiers come from the table definitions (fixed names), values are bound or copied, never formatted in.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, text

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        return v.astimezone(UTC).strftime(SQLITE_TIME)
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, bool):
        return int(v)
    return v


def _pg_value(v: Any) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                skip_existing: Sequence[str] = ()) -> int:
    """Insert `rows` (dicts with the same keys) into `table`; with `skip_existing` (the key columns) a row
    whose key is already stored is skipped. Returns how many rows were inserted."""
    if not rows:
        return 0
    cols = [c.name for c in table.columns if c.name in rows[0]]
    collist = ", ".join(_q(c) for c in cols)
    dbapi = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:  # type: ignore[union-attr]
            target = _q(table.name)
            if skip_existing:
                target = _q(f"bulk_{table.name}")
                cur.execute(f"CREATE TEMP TABLE {target} (LIKE {_q(table.name)} INCLUDING DEFAULTS)")
            with cur.copy(f"COPY {target} ({collist}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(_pg_value(row[c]) for c in cols))
            if not skip_existing:
                return len(rows)
            keys = ", ".join(_q(k) for k in skip_existing)
            cur.execute(f"INSERT INTO {_q(table.name)} ({collist}) SELECT {collist} FROM {target} "
                        f"ON CONFLICT ({keys}) DO NOTHING")
            inserted = int(cur.rowcount)
            cur.execute(f"DROP TABLE {target}")
            return inserted
    marks = ", ".join("?" for _ in cols)
    conflict = f" ON CONFLICT ({', '.join(_q(k) for k in skip_existing)}) DO NOTHING" if skip_existing else ""
    before = dbapi.total_changes  # type: ignore[union-attr]
    cur = dbapi.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"INSERT INTO {_q(table.name)} ({collist}) VALUES ({marks}){conflict}",
                        [tuple(_sqlite_value(row[c]) for c in cols) for row in rows])
    finally:
        cur.close()
    return int(dbapi.total_changes - before)  # type: ignore[union-attr]


def next_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """`n` fresh values of the table's integer primary key `id` (PostgreSQL: from its sequence)."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        query = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
        return [int(i) for (i,) in conn.execute(query, {"t": table.name, "n": n})]
    last = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {_q(table.name)}")).scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + n))
