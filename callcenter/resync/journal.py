"""The journal of calls in flight: so that a daemon killed with ``kill -9`` knows, after its restart, which
calls it had and can account for the ones that ended while it was down."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from callcenter.ledger import CallEntry
from records.model import CallRecordData
from records.private import open_private

log = logging.getLogger("callcenter.resync")


class OpenCallJournal:
    """Calls in flight on disk: ``{"open": entry}`` on every change, ``{"closed": record}`` at the end.

    Lines are appended as things happen (the kernel keeps them across a ``kill -9`` of the daemon).
    A call whose record is in the store is forgotten at the next start; a closed call whose record
    is not (the writer had not flushed it) is handed back for a second submit (the store is
    idempotent on call_id, so a record is never written twice).
    """

    COMPACT_EVERY = 20_000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None
        self._lines = 0

    def load(self) -> tuple[dict[str, CallEntry], dict[str, CallRecordData]]:
        """(calls open at the last stop, records of closed calls) as written; no de-dup against the store."""
        open_calls: dict[str, CallEntry] = {}
        closed: dict[str, CallRecordData] = {}
        if not self.path.exists():
            return open_calls, closed
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    item = json.loads(line)
                    if "open" in item:
                        e = _entry_from(item["open"])
                        open_calls[e.call_id] = e
                    elif "closed" in item:
                        rec = CallRecordData.from_dict(item["closed"])
                        open_calls.pop(rec.call_id, None)
                        closed[rec.call_id] = rec
                except (ValueError, KeyError, TypeError) as exc:  # a torn last line after a crash
                    log.warning("open-call journal %s: line skipped (%s)", self.path.name, type(exc).__name__)
        return open_calls, closed

    def rewrite(self, open_calls: Iterable[CallEntry], closed: Iterable[CallRecordData] = ()) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open_private(tmp, "w", encoding="utf-8") as fh:
            for e in open_calls:
                fh.write(json.dumps({"open": _entry_dict(e)}) + "\n")
            for rec in closed:
                fh.write(json.dumps({"closed": rec.to_dict()}, default=str) + "\n")
        os.replace(tmp, self.path)
        self._lines = 0

    def _write(self, item: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open_private(self.path, "a", encoding="utf-8", buffering=1)
        self._fh.write(json.dumps(item, default=str) + "\n")
        self._lines += 1

    def save(self, e: CallEntry) -> None:
        self._write({"open": _entry_dict(e)})

    def close_call(self, record: CallRecordData, live: Iterable[CallEntry]) -> None:
        self._write({"closed": record.to_dict()})
        if self._lines >= self.COMPACT_EVERY:
            self.close()
            self.rewrite(live)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _entry_dict(e: CallEntry) -> dict[str, Any]:
    d = dataclasses.asdict(e)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v.isoformat()
    return d


def _entry_from(d: dict[str, Any]) -> CallEntry:
    names = {f.name: f.type for f in dataclasses.fields(CallEntry)}
    kw: dict[str, Any] = {}
    for k, v in d.items():
        if k not in names:
            continue
        if isinstance(v, str) and k.endswith("_at"):
            v = datetime.fromisoformat(v)
        if k == "skills":
            v = tuple(tuple(x) for x in v)
        kw[k] = v
    return CallEntry(**kw)
