"""A durable local spool: records the database could not take, one JSON line each, fsynced.

Blocking file I/O: the writer calls it through `asyncio.to_thread` (or directly while being
cancelled, when a short blocking write beats losing records).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from records.model import CallRecordData, RecordError
from records.private import narrow, open_private

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.corrupt_lines = 0  # unreadable lines skipped (e.g. torn by a crash mid-append)
        # Unreadable lines are not thrown away: `clear` moves them to <spool>.rejected for a human.
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")
        self._bad_lines: list[bytes] = []
        self._read_size = 0  # bytes covered by the last read(): what clear() may drop

    def append(self, records: Sequence[CallRecordData]) -> None:
        """Append and fsync: when this returns, the records survive a crash."""
        if not records:
            return
        data = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            narrow(fd)  # a spool left by an older version with a wider mode
            # flock: an append (e.g. from a cancelled writer) and a clear in a worker thread never interleave.
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A torn line left by an earlier crash must not swallow the first new record.
            if os.fstat(fd).st_size > 0 and not self._ends_with_newline():
                data = "\n" + data
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def is_empty(self) -> bool:
        try:
            return self.path.stat().st_size == 0
        except FileNotFoundError:
            return True

    def read(self) -> list[CallRecordData]:
        """Every readable record in the spool, in append order."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        self._bad_lines = []
        self._read_size = len(raw)
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(CallRecordData.from_dict(json.loads(line)))
            except (ValueError, TypeError, RecordError) as exc:
                # ValueError covers bad JSON; such a line was never acknowledged as spooled.
                self.corrupt_lines += 1
                self._bad_lines.append(line)
                log.error("spool %s line %d unreadable, skipped: %s", self.path, lineno, type(exc).__name__)
        return records

    def clear(self) -> None:
        """Drop what the last `read` returned, once those records are committed (a crash before this
        only means a harmless re-flush: the store skips call ids it already has). Lines appended
        since that read are kept."""
        if self._bad_lines:
            with open_private(self.rejected_path, "ab") as f:
                f.write(b"".join(line + b"\n" for line in self._bad_lines))
                f.flush()
                os.fsync(f.fileno())
            self._bad_lines = []
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size > self._read_size:
                # Move the newer lines to the front. Crash-safe: until the truncate, their original
                # copy stays intact at the end; at worst a committed record is seen twice.
                rest = os.pread(fd, size - self._read_size, self._read_size)
                os.pwrite(fd, rest, 0)
                os.ftruncate(fd, len(rest))
            else:
                os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._read_size = 0
