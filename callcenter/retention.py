"""Retention of callers' personal information (个人信息保护法 art. 19, 47; docs/security.md "Personal information").

After ``security.retention_days`` the caller's number and name are of no more use to the centre: the job masks them
and keeps the rest (times, queues, outcomes, the matter of a ticket), so reports and figures do not change.

- ``call_records`` that ended before the cutoff: number -> its first digits and ``****`` (``138****``: the
  mobile prefix or the area code, never enough to call back), name emptied, long digit entries of the IVR steps
  (an ID or account number typed in a collect node) blanked;
- tickets closed before the cutoff (open ones never): number masked, name, contact and address emptied, phone
  and ID-card numbers in title, content and reply masked, in their history notes too; one history line says so;
- the audit log (``callcenter-audit.jsonl``), the record spools and the open-call journal in the state directory:
  the lines of entries older than the cutoff, masked in place. A line keeps its length (padded with blanks, which
  JSON ignores), so an appender (the spool's writer, the audit log) never loses a line to this job.

Run daily by the daemon (``run_daily``) and on demand: ``callcenter retention run [--dry-run]``. On a caller's
request (art. 47) ``callcenter retention run --number N`` does the same now for that number's calls, closed
tickets and file lines, whatever their age, and lists the open tickets it left (close them first).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, exists, inspect, or_, select, update

from records.store import TABLE as CALLS
from records.store import Store
from tickets.tables import Ticket, TicketEvent

log = logging.getLogger(__name__)

TICKETS = Ticket.__table__  # type: ignore[attr-defined]
EVENTS = TicketEvent.__table__  # type: ignore[attr-defined]
CHUNK = 500  # rows per transaction
#: files of the state directory holding callers' numbers: audit log, spools (and their rejected lines), journal
STATE_FILES = ("callcenter-audit.jsonl", "callcenter-spool-*.jsonl", "callcenter-spool-*.jsonl.rejected",
               "callcenter-open-*.jsonl")
#: JSON keys whose value is the caller (in the audit log, spool and journal lines)
NUMBER_KEYS = frozenset({"caller_number", "caller", "number_full", "contact"})
NAME_KEYS = frozenset({"caller_name", "address"})
TIME_KEYS = ("ended_at", "at", "entered_at")
_ID_CARD = re.compile(r"(?<![0-9])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![0-9])")
Progress = Callable[[str], None]


def mask_number(number: str) -> str:
    """``13800138000`` -> ``138****``, ``057187654321`` -> ``0571****``; a masked or digit-less one unchanged."""
    if "*" in number or not any(c.isdigit() for c in number):
        return number
    keep = 4 if number.startswith("0") else 3
    return number[:keep] + "****" if len(number) > keep + 2 else "****"


def mask_text(text: str) -> str:
    """Phone and ID-card numbers in free text masked (the rest of the text is the citizen's matter: kept)."""
    text = _ID_CARD.sub(lambda m: m.group(0)[:6] + "*" * 12, text)
    return _PHONE.sub(lambda m: mask_number(m.group(0).replace("-", "").removeprefix("+86")), text)


def _mask_steps(steps: str) -> str:
    """IVR steps JSON with long digit entries (an ID, an account) blanked; menu keys (1-4 digits) kept."""
    try:
        data = json.loads(steps)
    except ValueError:
        return mask_text(steps)
    for step in data.get("steps", []) if isinstance(data, dict) else []:
        if isinstance(step, list) and len(step) > 1 and isinstance(step[1], str) and len(step[1]) > 4 \
                and step[1].strip("#*").isdigit():
            step[1] = "*" * len(step[1])
    return json.dumps(data, ensure_ascii=False)


def _mask_value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(key, v) for v in value]
    if not isinstance(value, str):
        return value
    if key in NUMBER_KEYS:
        return mask_number(value)
    if key in NAME_KEYS:
        return ""
    return _mask_steps(value) if key == "ivr_steps" and value else mask_text(value)


@dataclass
class RetentionSummary:
    cutoff: datetime
    dry_run: bool
    call_records: int = 0  # rows masked (or that would be, in a dry run)
    tickets: int = 0  # closed tickets past the period, masked and marked (once each)
    ticket_events: int = 0
    file_lines: int = 0  # audit log, spool and journal lines
    files: int = 0  # files changed
    number: str | None = None  # one caller's erasure (art. 47) instead of the period's
    open_tickets: list[str] = field(default_factory=list)  # the caller's tickets still open: left whole

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"cutoff": self.cutoff.isoformat(), "number": mask_number(self.number or "") or None}

    def line(self) -> str:
        verb = "would mask" if self.dry_run else "masked"
        scope = f"caller {mask_number(self.number)}" if self.number else f"cutoff {self.cutoff.isoformat()}"
        left = f"; still open, left whole: {', '.join(self.open_tickets)}" if self.open_tickets else ""
        return (f"retention: {verb} {self.call_records} call records, {self.tickets} tickets "
                f"({self.ticket_events} history notes), {self.file_lines} lines in {self.files} files; {scope}{left}")


class RetentionJob:
    def __init__(self, store: Store, state_dir: str | Path, days: int) -> None:
        self.store, self.state_dir, self.days = store, Path(state_dir), days
        #: set by a stopping daemon: the run ends after the chunk in hand (the rest waits for the next run)
        self.stopping = threading.Event()

    def run(self, now: datetime, *, dry_run: bool = False, progress: Progress | None = None,
            number: str | None = None) -> RetentionSummary:
        """Mask what is past the period; with ``number``, that caller's data whatever its age."""
        say = progress or (lambda _text: None)
        summary = RetentionSummary(cutoff=now - timedelta(days=self.days), dry_run=dry_run, number=number or None)
        self._call_records(summary, say)
        if inspect(self.store.engine).has_table("tickets"):
            self._tickets(summary, now, say)
        for pattern in STATE_FILES:
            for path in sorted(self.state_dir.glob(pattern)):
                lines = mask_file(path, summary.cutoff, dry_run, number=summary.number)
                summary.file_lines += lines
                summary.files += lines > 0
                if lines:
                    say(f"{path.name}: {lines} lines")
        return summary

    # --- the database ---------------------------------------------------------------------------------

    def _call_records(self, summary: RetentionSummary, say: Progress) -> None:
        c = CALLS.c
        after = ""
        while True:
            due = c.caller_number == summary.number if summary.number else c.ended_at < summary.cutoff
            query = (select(c.call_id, c.caller_number, c.caller_name, c.ivr_steps)
                     .where(due, c.call_id > after, or_(c.caller_name != "", c.caller_number.not_like("%*%")))
                     .order_by(c.call_id).limit(CHUNK))
            with self.store.engine.begin() as conn:
                rows = list(conn.execute(query))
                for row in rows:
                    masked = {"caller_number": mask_number(row.caller_number), "caller_name": "",
                              "ivr_steps": _mask_steps(row.ivr_steps) if row.ivr_steps else ""}
                    if masked == {"caller_number": row.caller_number, "caller_name": row.caller_name,
                                  "ivr_steps": row.ivr_steps}:
                        continue
                    summary.call_records += 1
                    if not summary.dry_run:
                        conn.execute(update(CALLS).where(c.call_id == row.call_id).values(**masked))
            if rows:
                say(f"call records: {summary.call_records} up to call {rows[-1].call_id}")
            if len(rows) < CHUNK or self.stopping.is_set():
                return
            after = rows[-1].call_id

    def _tickets(self, summary: RetentionSummary, now: datetime, say: Progress) -> None:
        t = TICKETS.c
        after = 0
        while True:
            done = exists().where(EVENTS.c.ticket_id == t.id, EVENTS.c.action == "retention")
            if summary.number:
                due = or_(t.caller_number == summary.number, t.contact == summary.number)
            else:
                due = or_(t.closed_at < summary.cutoff, t.closed_at.is_(None) & (t.updated_at < summary.cutoff))
            query = select(TICKETS).where(t.id > after, ~done, due).order_by(t.id).limit(CHUNK)
            with self.store.engine.begin() as conn:
                rows = list(conn.execute(query))
                for row in rows:
                    if row.is_open:  # still being handled (only a caller's erasure selects open ones)
                        summary.open_tickets.append(row.number)
                    else:
                        self._ticket(conn, row, summary, now)
            if rows:
                say(f"tickets: {summary.tickets} up to ticket {rows[-1].number}")
            if len(rows) < CHUNK or self.stopping.is_set():
                return
            after = rows[-1].id

    def _ticket(self, conn: Connection, row: Any, summary: RetentionSummary, now: datetime) -> None:
        masked = {"caller_number": mask_number(row.caller_number), "caller_name": "", "contact": "", "address": "",
                  "title": mask_text(row.title), "content": mask_text(row.content), "reply": mask_text(row.reply)}
        changes = {k: v for k, v in masked.items() if v != getattr(row, k)}
        events = list(conn.execute(select(EVENTS.c.id, EVENTS.c.note).where(EVENTS.c.ticket_id == row.id)))
        notes = [(e.id, mask_text(e.note)) for e in events if mask_text(e.note) != e.note]
        summary.tickets += 1
        summary.ticket_events += len(notes)
        if summary.dry_run:
            return
        for event_id, note in notes:
            conn.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(note=note))
        if changes:
            conn.execute(update(TICKETS).where(TICKETS.c.id == row.id).values(**changes, version=row.version + 1))
        # Also marks the ticket done: the next runs skip it.
        conn.execute(EVENTS.insert().values(ticket_id=row.id, at=now, actor="retention", role="system",
                                            action="retention", from_state=row.state, to_state=row.state,
                                            department=row.department, note=", ".join(sorted(changes))))


# --- files --------------------------------------------------------------------------------------------------


def _when(entry: dict[str, Any]) -> datetime | None:
    for key in TIME_KEYS:
        value = entry.get(key)
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                continue
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def _masked_line(line: bytes, cutoff: datetime, file_old: bool, number: str | None = None) -> bytes | None:
    """The line masked and padded to its length (None: nothing to change)."""
    text = line.decode("utf-8", errors="replace")
    if number is not None:
        if number not in text:
            return None
        file_old = True  # an unreadable line holding the number is masked too
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        when = _when(entry)
        if number is None and (when is None or when >= cutoff):
            return None
        new = json.dumps(_mask_value("", entry), ensure_ascii=False)
    elif file_old:  # an unreadable line (a spool's rejected ones) carries no time: the file's age counts
        new = mask_text(text)
    else:
        return None
    data = new.encode("utf-8")
    if data == line.rstrip(b" ") or len(data) > len(line):
        return None
    return data + b" " * (len(line) - len(data))


def mask_file(path: Path, cutoff: datetime, dry_run: bool, *, number: str | None = None) -> int:
    """Mask the lines of ``path`` older than ``cutoff`` (or holding ``number``) in place, under the spool's
    lock; returns how many."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the spool takes the same lock to append and to clear
        file_old = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC) < cutoff
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        changed, offset = 0, 0
        for line in data.split(b"\n"):
            new = _masked_line(line, cutoff, file_old, number) if line.strip() else None
            if new is not None:
                changed += 1
                if not dry_run:
                    os.pwrite(fd, new, offset)  # same length: lines appended meanwhile are untouched
            offset += len(line) + 1
        if changed and not dry_run:
            os.fsync(fd)
        return changed
    finally:
        os.close(fd)


async def run_daily(job: RetentionJob, now: Callable[[], datetime], every: float = 24 * 3600) -> None:
    """The daemon's task: the job at start, then once a day, off the event loop; a failure waits for the next."""
    while True:
        running = asyncio.ensure_future(asyncio.to_thread(job.run, now()))
        try:
            summary = await asyncio.shield(running)
            log.info("%s", summary.line())
        except asyncio.CancelledError:
            # The store closes when the daemon stops: let the job end its chunk first, never under it.
            job.stopping.set()
            await asyncio.wait([running])
            if not running.cancelled():
                running.exception()  # retrieved: a failure here is the next start's to report
            raise
        except Exception as exc:  # the database may be away; the data waits one more day, nothing is lost
            log.error("retention job failed (%s): it runs again in %.0f h", type(exc).__name__, every / 3600)
        await asyncio.sleep(every)
