"""`RecordWriter`: moves ended-call records from the routing loop to the store without ever
blocking routing or losing a record.

- `submit(record)` only appends to an in-memory queue.
- `run()` (a named task in the daemon's TaskGroup) writes batches through `asyncio.to_thread`.
- When the database fails, the batch goes to a durable spool (JSON lines, fsynced); while the
  spool holds records, new batches go there too (the database is known to be away), and a
  retry with a random, growing delay flushes the spool once the database answers again.
  Re-flushing is safe: the store skips call ids it already has.
- Cancelled mid-way, `run()` spools what it still holds before it ends.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
from collections.abc import Callable, Iterable
from typing import Protocol

from records.model import CallRecordData
from records.spool import Spool

log = logging.getLogger(__name__)

SPOOL_CHUNK = 1000  # records per transaction when flushing the spool


class BatchStore(Protocol):
    def write_batch(self, records: Iterable[CallRecordData]) -> int: ...

    def redact(self, text: str) -> str: ...


class WriterClosed(RuntimeError):
    """`submit` after `close`: the record was not taken."""


def _describe(exc: BaseException, store: BatchStore) -> str:
    # The driver's own message, first line only: SQLAlchemy's full text lists the batch's
    # parameters (callers' numbers), and the store removes any password from it.
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {store.redact(first)}"


class RecordWriter:
    def __init__(self, store: BatchStore, spool_path: str | os.PathLike[str], batch_size: int = 200,
                 flush_interval: float = 0.2, *, retry_min: float = 0.5, retry_max: float = 30.0) -> None:
        if batch_size < 1 or flush_interval < 0:
            raise ValueError("batch_size must be >= 1 and flush_interval >= 0")
        self._store = store
        self._spool = Spool(spool_path)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._queue: collections.deque[CallRecordData] = collections.deque()
        self._inflight: list[CallRecordData] = []
        self._wake = asyncio.Event()  # a record arrived, a flush or close was asked
        self._progress = asyncio.Event()  # a flush request was served, or run() ended
        # One database or spool step at a time, even when flush() works inline beside run().
        self._io = asyncio.Lock()
        self._flush_asked = 0
        self._flush_done = 0
        self._closing = False
        self._running = False
        self._spool_dirty = False
        self._retry_at = 0.0
        self._retries = 0
        # Counters (exported by metrics/prom.py).
        self.submitted = 0
        self.written = 0  # records committed to the database (directly or from the spool)
        self.inserted = 0  # of those, rows that were new (the rest were replays)
        self.spooled = 0  # records that went to the spool
        self.failures = 0  # failed database (or spool) attempts
        #: told (in a worker thread) of records once committed: tickets bound to a call before its record
        #: existed get the caller's fields (tickets/service.py calls_recorded). A failing hook is logged only.
        self.on_written: Callable[[list[CallRecordData]], object] | None = None

    @property
    def pending(self) -> int:
        """Records in memory, not yet in the database or the spool."""
        return len(self._queue) + len(self._inflight)

    @property
    def spool_dirty(self) -> bool:
        return self._spool_dirty

    def spooled_records(self) -> list[CallRecordData]:
        """Records waiting in the spool (blocking read). At start the daemon adds them to its live
        figures beside the store's, so a restart during an outage changes no figure either."""
        return self._spool.read()

    def submit(self, record: CallRecordData) -> None:
        """Queue one record; never blocks and never touches the database."""
        if self._closing:
            raise WriterClosed(f"record {record.call_id} submitted after close")
        self._queue.append(record)
        self.submitted += 1
        if len(self._queue) == 1 or len(self._queue) >= self.batch_size:
            self._wake.set()

    async def run(self) -> None:
        if self._running:
            raise RuntimeError("RecordWriter.run() is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        try:
            # Records spooled by an earlier run (the database was away, or a crash) go first.
            if not await asyncio.to_thread(self._spool.is_empty):
                self._spool_dirty = True
                self._retry_at = loop.time()
            while True:
                if self._flush_asked > self._flush_done or self._closing:
                    await self._serve_flush()
                    if self._closing and not self._queue:
                        return
                    continue
                if self._spool_dirty and loop.time() >= self._retry_at:
                    await self._retry_spool()
                if await self._collect(loop):
                    await self._write_next()
        except asyncio.CancelledError:
            self._save_on_cancel()
            raise
        finally:
            self._running = False
            self._progress.set()

    async def flush(self) -> None:
        """Return once every record submitted so far is in the database or the spool; if the spool
        holds records, try the database for them once now."""
        if not self._running:
            await self._serve_flush()
            return
        self._flush_asked += 1
        ticket = self._flush_asked
        self._wake.set()
        while self._flush_done < ticket:
            if not self._running:  # run() ended (cancelled or failed): finish the job here
                await self._serve_flush()
                return
            self._progress.clear()
            await self._progress.wait()

    async def close(self) -> None:
        """Drain everything (as `flush`), then let `run()` return. Records the database still cannot
        take stay in the spool for the next start."""
        self._closing = True
        await self.flush()

    # -- internals ---------------------------------------------------------------------------

    async def _serve_flush(self) -> None:
        asked = self._flush_asked
        # No run() may have looked at the spool yet. Only ever set the flag here: another path may
        # spool (and set it) while we await.
        if not self._running and not await asyncio.to_thread(self._spool.is_empty):
            self._spool_dirty = True
        while await self._write_next():
            pass
        if self._spool_dirty:
            await self._retry_spool()
        self._flush_done = max(self._flush_done, asked)
        self._progress.set()

    async def _write_next(self) -> bool:
        """Write (or spool) the next batch; False when the queue was empty.

        Records leave the queue only while holding the lock, so whoever finds the queue empty
        under the lock knows that no batch is still in flight: what flush() relies on.
        """
        async with self._io:
            if not self._queue:
                return False
            n = min(self.batch_size, len(self._queue))
            await self._write_locked([self._queue.popleft() for _ in range(n)])
            return True

    async def _collect(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Wait until a batch is due: full, or flush_interval after its first record arrived."""
        if not self._queue:
            timeout = max(0.0, self._retry_at - loop.time()) if self._spool_dirty else None
            await self._wait_wake(timeout)
            if not self._queue or self._flush_asked > self._flush_done or self._closing:
                return False
        deadline = loop.time() + self.flush_interval
        while len(self._queue) < self.batch_size and not (self._flush_asked > self._flush_done
                                                          or self._closing):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._wait_wake(remaining)
        return True

    async def _wait_wake(self, delay: float | None) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _write_locked(self, batch: list[CallRecordData]) -> None:
        # Kept (not cleared in a finally) if we are cancelled mid-way: _save_on_cancel spools it.
        self._inflight = batch
        if not self._spool_dirty:
            try:
                inserted = await asyncio.to_thread(self._store.write_batch, batch)
            except Exception as exc:
                self.failures += 1
                log.warning("store write of %d records failed (%s); spooling", len(batch),
                            _describe(exc, self._store))
                self._spool_dirty = True
                self._schedule_retry()
            else:
                self.written += len(batch)
                self.inserted += inserted
                self._inflight = []
                await self._tell_written(batch)
                return
        await self._to_spool(batch)
        self._inflight = []

    async def _to_spool(self, batch: list[CallRecordData]) -> None:
        try:
            await asyncio.to_thread(self._spool.append, batch)
        except OSError as exc:
            # Neither database nor disk: keep the records in memory, at the front, and wait.
            self.failures += 1
            log.error("spool %s unwritable (%s); holding %d records in memory", self._spool.path,
                      type(exc).__name__, len(batch))
            self._queue.extendleft(reversed(batch))
            await asyncio.sleep(self._backoff())
        else:
            self.spooled += len(batch)

    async def _retry_spool(self) -> None:
        async with self._io:
            if self._spool_dirty:
                await self._retry_spool_locked()

    async def _retry_spool_locked(self) -> None:
        records = await asyncio.to_thread(self._spool.read)
        try:
            inserted = 0
            for start in range(0, len(records), SPOOL_CHUNK):
                chunk = records[start:start + SPOOL_CHUNK]
                inserted += await asyncio.to_thread(self._store.write_batch, chunk)
        except Exception as exc:
            self.failures += 1
            log.info("store still unavailable (%s); %d records stay spooled", _describe(exc, self._store),
                     len(records))
            self._schedule_retry()
            return
        await asyncio.to_thread(self._spool.clear)
        self.written += len(records)
        self.inserted += inserted
        self._spool_dirty = False
        self._retries = 0
        if records:
            log.info("flushed %d spooled records to the store (%d new)", len(records), inserted)
            await self._tell_written(records)

    async def _tell_written(self, records: list[CallRecordData]) -> None:
        if self.on_written is None:
            return
        try:
            await asyncio.to_thread(self.on_written, records)
        except Exception as exc:  # the records are safe; only what hangs on them waits for the next start
            log.error("after writing %d records: %s", len(records), _describe(exc, self._store))

    def _backoff(self) -> float:
        delay = min(self.retry_max, self.retry_min * (2 ** min(self._retries, 16)))
        self._retries += 1
        return delay * random.uniform(0.5, 1.0)

    def _schedule_retry(self) -> None:
        self._retry_at = asyncio.get_running_loop().time() + self._backoff()
        self._wake.set()  # run() may be waiting with no deadline: let it see the retry time

    def _save_on_cancel(self) -> None:
        # Blocking on purpose: the task is being torn down and these records exist nowhere else.
        # The in-flight batch may also commit in its worker thread; the duplicate is skipped later.
        held = [*self._inflight, *self._queue]
        if not held:
            return
        try:
            self._spool.append(held)
        except OSError:
            log.critical("cancelled with %d records that neither the store nor the spool took", len(held))
            return
        self.spooled += len(held)
        self._spool_dirty = True
        self._inflight = []
        self._queue.clear()
