"""Store on SQLite and on the real PostgreSQL: idempotent writes, UTC round trip, queries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from records.model import CallRecordData
from records.store import Store, StoreError, mask_url
from records.testing import make_record, throwaway_pg_database

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    try:
        with throwaway_pg_database() as url:
            yield url
    except Exception as exc:  # CI starts PostgreSQL: unreachable is a failure, never a skip
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'cc.db'}")
    else:
        s = Store(request.getfixturevalue("pg_url"))
        with s.engine.begin() as conn:
            conn.execute(text("DELETE FROM call_records"))
    try:
        yield s
    finally:
        s.close()


def batch(n: int, start: int = 0, caller: str = "13800000000") -> list[CallRecordData]:
    return [make_record(f"c{i}", entered_at=T0 + timedelta(minutes=i), caller=caller)
            for i in range(start, start + n)]


def test_write_batch_counts_only_new_rows(store: Store) -> None:
    assert store.write_batch(batch(5)) == 5
    assert store.write_batch(batch(8)) == 3  # a replay of c0..c4 plus three new
    assert store.write_batch(batch(8)) == 0
    assert store.count() == 8


def test_duplicates_inside_one_batch_make_one_row(store: Store) -> None:
    recs = batch(3)
    assert store.write_batch([*recs, *recs, recs[0]]) == 3
    assert store.count() == 3
    assert store.write(recs[1]) is False
    assert store.write_batch([]) == 0


def test_datetimes_come_back_utc_aware_and_equal(store: Store) -> None:
    rec = make_record("tz1", entered_at=datetime(2026, 3, 1, 15, 59, 59, 123456, tzinfo=UTC))
    store.write(rec)
    back = store.get("tz1")
    assert back == rec
    assert back is not None and back.ended_at.utcoffset() == timedelta(0)
    assert store.get("missing") is None


def test_records_in_range_by_end_time(store: Store) -> None:
    recs = batch(10)
    store.write_batch(recs)
    since, until = recs[2].ended_at, recs[6].ended_at
    got = store.records(since, until)
    assert [r.call_id for r in got] == ["c2", "c3", "c4", "c5"]
    assert [r.call_id for r in store.records(recs[8].ended_at)] == ["c8", "c9"]


def test_caller_history_newest_first_with_limit(store: Store) -> None:
    store.write_batch(batch(5, caller="13900000001") + batch(3, start=10, caller="13900000002"))
    hist = store.caller_history("13900000001", limit=3)
    assert [r.call_id for r in hist] == ["c4", "c3", "c2"]
    assert store.caller_history("nobody") == []


def test_outcome_counts(store: Store) -> None:
    store.write_batch([
        make_record("a", entered_at=T0),
        make_record("b", "abandoned_queue", entered_at=T0),
        make_record("c", "abandoned_ivr", entered_at=T0),
        make_record("d", entered_at=T0, queue="tax"),
    ])
    assert store.outcome_counts() == {("main", "answered"): 1, ("main", "abandoned_queue"): 1,
                                      (None, "abandoned_ivr"): 1, ("tax", "answered"): 1}


def test_caller_history_uses_the_index_on_sqlite(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'cc.db'}") as store:
        with store.engine.connect() as conn:
            plan = conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT * FROM call_records WHERE caller_number = '1' "
                "ORDER BY ended_at DESC LIMIT 10")).fetchall()
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "ix_call_records_caller_ended" in detail and "TEMP B-TREE" not in detail
    assert mode == "wal"
    assert busy == 5000


def test_password_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql+psycopg://cc:s3cret-pw@127.0.0.1:1/none"
    assert "s3cret-pw" not in mask_url(url)
    with caplog.at_level(logging.INFO, logger="records"):
        store = Store(url, create=False)
    try:
        assert "s3cret-pw" not in repr(store)
        assert "s3cret-pw" not in caplog.text and "***" in caplog.text
        assert store.redact("password s3cret-pw failed") == "password *** failed"
    finally:
        store.close()


def test_unsupported_database() -> None:
    with pytest.raises(StoreError, match="mysql"):
        Store("mysql://u:pw@localhost/db", create=False)
