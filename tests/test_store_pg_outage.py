"""A PostgreSQL outage in the middle of a burst: records are spooled, then flushed, none lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from records.spool import Spool
from records.store import RecordWriter, Store
from records.testing import make_record, set_pg_reachable, throwaway_pg_database

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


async def test_pg_outage_mid_burst(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    try:
        ctx = throwaway_pg_database()
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    # Trust auth ignores the password, so it can stand in for a real secret that must not leak.
    secret_url = url.replace("postgres@", "postgres:Pw-n0t-for-logs@")
    store = Store(secret_url, connect_timeout=2)
    try:
        spool_path = tmp_path / "spool.jsonl"
        writer = RecordWriter(store, spool_path, batch_size=20, flush_interval=0.0,
                              retry_min=0.01, retry_max=0.05)
        recs = [make_record(f"pg{i}", entered_at=T0 + timedelta(seconds=i)) for i in range(120)]
        with caplog.at_level(logging.DEBUG):
            async with asyncio.TaskGroup() as tg:
                tg.create_task(writer.run(), name="record-writer")
                for rec in recs[:40]:
                    writer.submit(rec)
                await writer.flush()
                assert store.count() == 40

                await asyncio.to_thread(set_pg_reachable, url, False)  # the database goes away
                for rec in recs[40:100]:
                    writer.submit(rec)
                await writer.flush()
                assert writer.failures >= 1
                assert {r.call_id for r in Spool(spool_path).read()} == {r.call_id for r in recs[40:100]}

                await asyncio.to_thread(set_pg_reachable, url, True)  # and comes back
                for rec in [*recs[100:], *recs[:10]]:  # new records plus a replay
                    writer.submit(rec)
                await writer.flush()
                await writer.close()
        assert store.count() == 120
        assert Spool(spool_path).is_empty()
        assert "Pw-n0t-for-logs" not in caplog.text
    finally:
        store.close()
        ctx.__exit__(None, None, None)
