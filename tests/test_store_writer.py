"""RecordWriter: batches, durable spool during an outage, flush after it, nothing lost."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from records.model import CallRecordData
from records.spool import Spool
from records.store import RecordWriter, Store, WriterClosed
from records.testing import make_record

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def records(n: int, start: int = 0) -> list[CallRecordData]:
    return [make_record(f"c{i}", entered_at=T0 + timedelta(seconds=i)) for i in range(start, start + n)]


class FlakyStore:
    """In-memory store that fails while `down` (or from its `fail_after`-th batch on)."""

    def __init__(self) -> None:
        self.rows: dict[str, CallRecordData] = {}
        self.down = False
        self.fail_after: int | None = None
        self.batches = 0
        self.gate: threading.Event | None = None  # when set, writes wait for it
        self.entered = threading.Event()  # a write has started

    def write_batch(self, recs: Iterable[CallRecordData]) -> int:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.batches += 1
        if self.fail_after is not None and self.batches > self.fail_after:
            self.down = True
            self.fail_after = None
        if self.down:
            raise OperationalError("INSERT ...", {}, Exception("connection refused (password=hunter2)"))
        new = 0
        for r in recs:
            if r.call_id not in self.rows:
                self.rows[r.call_id] = r
                new += 1
        return new

    def redact(self, text: str) -> str:
        return text.replace("hunter2", "***")


async def test_batches_and_counters(tmp_path: Path) -> None:
    store = FlakyStore()
    writer = RecordWriter(store, tmp_path / "spool.jsonl", batch_size=50, flush_interval=0.01)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(writer.run(), name="record-writer")
        for rec in records(120):
            writer.submit(rec)
        await writer.flush()
        assert len(store.rows) == 120
        assert store.batches == 3  # 50 + 50 + 20: batched, not one write per record
        await writer.close()
    assert (writer.submitted, writer.written, writer.inserted, writer.spooled) == (120, 120, 120, 0)


async def test_outage_mid_burst_spools_then_flushes_everything(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.fail_after = 2  # the third batch finds the database gone
    spool_path = tmp_path / "spool.jsonl"
    writer = RecordWriter(store, spool_path, batch_size=25, flush_interval=0.01,
                          retry_min=0.01, retry_max=0.02)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(writer.run(), name="record-writer")
        for i, rec in enumerate(records(300)):
            writer.submit(rec)
            if i % 40 == 0:
                await asyncio.sleep(0.005)  # a burst in several waves, the writer running in between
        await writer.flush()
        assert writer.spooled > 0 and writer.failures > 0
        assert len(store.rows) + len(Spool(spool_path).read()) == 300  # durable: DB or spool
        assert len(store.rows) < 300
        store.down = False
        await writer.flush()  # tries the spool once more, now successfully
        assert sorted(store.rows) == sorted(r.call_id for r in records(300))
        assert Spool(spool_path).is_empty() and not writer.spool_dirty
        await writer.close()
    assert writer.written == 300
    assert "hunter2" not in caplog.text


async def test_retry_loop_flushes_spool_without_being_asked(tmp_path: Path) -> None:
    store = FlakyStore()
    store.down = True
    writer = RecordWriter(store, tmp_path / "spool.jsonl", flush_interval=0.0, retry_min=0.01, retry_max=0.02)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(writer.run(), name="record-writer")
        for rec in records(10):
            writer.submit(rec)
        await writer.flush()
        assert store.rows == {}
        store.down = False
        for _ in range(500):  # the retry timer alone brings them over (bounded: fail, never hang)
            if not writer.spool_dirty:
                break
            await asyncio.sleep(0.01)
        assert len(store.rows) == 10
        await writer.close()


async def test_spool_survives_a_restart(tmp_path: Path) -> None:
    store = FlakyStore()
    store.down = True
    spool_path = tmp_path / "spool.jsonl"
    first = RecordWriter(store, spool_path, flush_interval=0.0)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(first.run())
        for rec in records(7):
            first.submit(rec)
        await first.close()  # the database is still away: the records stay in the spool
    assert len(Spool(spool_path).read()) == 7 and store.rows == {}
    assert len(first.spooled_records()) == 7

    store.down = False
    second = RecordWriter(store, spool_path, flush_interval=0.0)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(second.run())
        await second.close()
    assert len(store.rows) == 7 and Spool(spool_path).is_empty()


async def test_cancel_spools_what_is_held(tmp_path: Path) -> None:
    store = FlakyStore()
    store.gate = threading.Event()  # the first write hangs in its thread
    spool_path = tmp_path / "spool.jsonl"
    writer = RecordWriter(store, spool_path, batch_size=5, flush_interval=0.0)
    task = asyncio.create_task(writer.run())
    for rec in records(12):
        writer.submit(rec)
    assert await asyncio.to_thread(store.entered.wait, 5)  # the first batch is in its worker thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    spooled = {r.call_id for r in Spool(spool_path).read()}
    # The in-flight batch is spooled too (it may still commit: the store skips the duplicate later).
    assert spooled == {f"c{i}" for i in range(12)}
    assert writer.pending == 0 and writer.spool_dirty
    store.gate.set()
    await asyncio.sleep(0.05)  # let the released worker thread end while the loop still runs


async def test_flush_and_close_without_run(tmp_path: Path) -> None:
    store = FlakyStore()
    writer = RecordWriter(store, tmp_path / "spool.jsonl")
    for rec in records(3):
        writer.submit(rec)
    await writer.close()
    assert len(store.rows) == 3
    with pytest.raises(WriterClosed):
        writer.submit(records(1, start=99)[0])


async def test_replayed_records_make_no_second_row(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'cc.db'}") as store:
        writer = RecordWriter(store, tmp_path / "spool.jsonl", batch_size=16, flush_interval=0.0)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(writer.run())
            for rec in records(40) + records(40) + records(10, start=35):
                writer.submit(rec)
            await writer.close()
        assert store.count() == 45
        assert writer.written == 90 and writer.inserted == 45


async def test_sqlite_locked_mid_burst_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cc.db"
    with Store(f"sqlite:///{db}", busy_timeout=0.05) as store:
        writer = RecordWriter(store, tmp_path / "spool.jsonl", batch_size=20, flush_interval=0.0,
                              retry_min=0.01, retry_max=0.02)
        blocker = sqlite3.connect(db, timeout=0.05, isolation_level=None)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(writer.run())
                for rec in records(50):
                    writer.submit(rec)
                await writer.flush()
                assert store.count() == 50
                blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock: an outage
                for rec in records(50, start=50):
                    writer.submit(rec)
                await writer.flush()
                assert writer.spooled == 50
                blocker.execute("ROLLBACK")
                await writer.flush()
                await writer.close()
        finally:
            blocker.close()
        assert store.count() == 100


def test_torn_spool_line_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    spool = Spool(path)
    spool.append(records(2))
    with path.open("ab") as f:
        f.write(b'{"call_id": "torn", "linkedid"')  # a crash mid-append
    spool.append(records(1, start=5))
    got = spool.read()
    assert [r.call_id for r in got] == ["c0", "c1", "c5"]
    assert spool.corrupt_lines == 1
    spool.clear()
    assert spool.is_empty()
    assert spool.rejected_path.read_bytes().startswith(b'{"call_id": "torn"')
    json.loads(path.with_name("x").name and '{"ok": 1}')  # the spool format is plain JSON lines


def test_clear_keeps_lines_appended_after_the_read(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    spool = Spool(path)
    spool.append(records(3))
    assert len(spool.read()) == 3
    Spool(path).append(records(2, start=10))  # e.g. a cancelled writer spooling what it held
    spool.clear()  # the three read (and committed) go; the two newer stay
    assert [r.call_id for r in spool.read()] == ["c10", "c11"]
    spool.clear()
    assert spool.is_empty()


async def test_no_password_in_writer_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.down = True
    writer = RecordWriter(store, tmp_path / "spool.jsonl", flush_interval=0.0)
    with caplog.at_level(logging.INFO, logger="records"):
        writer.submit(records(1)[0])
        await writer.close()
    assert "connection refused" in caplog.text and "hunter2" not in caplog.text
