"""What Asterisk itself reports about calls the daemon could not see end: its CDRs (cdr_csv's Master.csv).

A call that ends while AMI is cut, while Asterisk restarts or while the daemon is down leaves no
Hangup for the daemon; the resync finds the channel gone. Instead of guessing the outcome from the
last stage the daemon knew, it reads the CDRs Asterisk wrote (``asterisk/conf/cdr.conf``:
``usegmtime``, ``loguniqueid``, ``loguserfield`` and ``newcdrcolumns`` on) and takes the call's fate
from them. Pure: :func:`parse_lines` (Master.csv lines -> :class:`CdrRow`), :func:`fate_of` (the
rows of one call -> :class:`Fate`) and :func:`reconcile` (gone calls + rows -> fates, calls still
without a CDR, and calls the daemon never saw at all). :func:`read_master` is the one file read.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

log = logging.getLogger("callcenter.cdr_import")

#: Master.csv columns in cdr_csv.c's order; the last five need loguniqueid, loguserfield, newcdrcolumns
COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
    "peeraccount", "linkedid", "sequence",
)
#: column counts a line may have: 17 (loguniqueid), 18 (+ loguserfield), 21 (+ newcdrcolumns)
WIDTHS = frozenset({17, 18, 21})
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: dialplan contexts (asterisk/conf/extensions_callcenter.conf) and what they say about a call
HOLD_CONTEXTS = frozenset({"cc-hold", "cc-route"})
FALLBACK_CONTEXTS = frozenset({"cc-fallback", "cc-voicemail", "cc-callback"})
#: a CDR in one of these is a citizen's call through the hotline (dcontext is the last context it ran in)
CALL_CONTEXTS = frozenset({"cc-incoming", "cc-survey"}) | HOLD_CONTEXTS | FALLBACK_CONTEXTS
#: a CDR that ended this long before the daemon lost sight of the calls may still be one it never saw
#: (its events were in the socket when the connection dropped; clocks differ by a second or so)
MARGIN = timedelta(seconds=60)

Phase = Literal["answered", "ivr", "queue", "ringing", "fallback"]


class CdrFormatError(ValueError):
    """A Master.csv line that is not a cdr_csv record this importer can use."""


@dataclass(frozen=True, slots=True)
class CdrRow:
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: datetime
    answer: datetime | None
    end: datetime
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str = ""
    sequence: int = 0
    accountcode: str = ""
    userfield: str = ""

    @property
    def caller(self) -> tuple[str, str]:
        """(number, name) from clid (``"张三" <13800138000>``), the number falling back to src."""
        m = re.fullmatch(r"(?P<name>.*?)\s*<(?P<num>[^<>]*)>\s*", self.clid, re.DOTALL)
        if m is None:
            return self.src, ""
        name = m.group("name").strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"')
        return m.group("num") or self.src, name


def _time(text: str, tz: tzinfo, column: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=tz).astimezone(UTC)
    except ValueError:
        raise CdrFormatError(f"{column}: {text!r} is not a time like 2026-03-01 08:00:00") from None


def _int(text: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CdrFormatError(f"{column}: {text!r} is not a whole number") from None


def parse_fields(fields: Sequence[str], tz: tzinfo = UTC) -> CdrRow:
    """One cdr_csv record (already split) -> CdrRow; times as written in ``tz`` (UTC with usegmtime)."""
    if len(fields) not in WIDTHS:
        raise CdrFormatError(f"{len(fields)} columns; expected 17, 18 or 21 "
                             "(cdr.conf [csv] loguniqueid=yes, loguserfield, newcdrcolumns)")
    f = dict(zip(COLUMNS, fields, strict=False))
    if not f["uniqueid"]:
        raise CdrFormatError("uniqueid is empty")
    start, end = _time(f["start"], tz, "start"), _time(f["end"], tz, "end")
    if start is None or end is None:
        raise CdrFormatError("start or end time is missing")
    return CdrRow(
        src=f["src"], dst=f["dst"], dcontext=f["dcontext"], clid=f["clid"], channel=f["channel"],
        dstchannel=f["dstchannel"], lastapp=f["lastapp"], lastdata=f["lastdata"], start=start,
        answer=_time(f["answer"], tz, "answer"), end=end, duration=_int(f["duration"], "duration"),
        billsec=_int(f["billsec"], "billsec"), disposition=f["disposition"], uniqueid=f["uniqueid"],
        linkedid=f.get("linkedid") or f["uniqueid"], sequence=_int(f.get("sequence") or "0", "sequence"),
        accountcode=f["accountcode"], userfield=f.get("userfield", ""),
    )


@dataclass
class ParseResult:
    rows: list[CdrRow] = field(default_factory=list)
    bad: int = 0


def parse_lines(lines: Iterable[str], tz: tzinfo = UTC, *, where: str = "Master.csv") -> ParseResult:
    """Master.csv text -> rows. A bad line is logged (line number and why, never its content: it holds
    callers' numbers), counted and skipped; a torn last line (Asterisk writing it now) is one of those."""
    out = ParseResult()
    for fields in csv.reader(lines):
        if not fields:
            continue
        try:
            out.rows.append(parse_fields(fields, tz))
        except CdrFormatError as exc:
            out.bad += 1
            log.warning("%s line %d: skipped (%s)", where, out.bad + len(out.rows), exc)
    return out


def read_master(path: str | Path, tz: tzinfo = UTC) -> ParseResult:
    """Blocking read of the whole file (run it in a thread); a missing file is no CDR at all."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8", errors="replace", newline="") as fh:
            return parse_lines(fh, tz, where=p.name)
    except FileNotFoundError:
        log.info("CDR file %s not found (yet): no CDR to import", p)
        return ParseResult()


# ---------------------------------------------------------------- what the rows say


@dataclass(frozen=True, slots=True)
class Fate:
    call_id: str
    phase: Phase
    started_at: datetime
    ended_at: datetime
    agent: str | None = None  # answered by / last rung
    answered_at: datetime | None = None
    talk_ended_at: datetime | None = None
    caller_number: str = ""
    caller_name: str = ""
    channel: str = ""
    linkedid: str = ""
    via_fallback: bool = False  # answered in Asterisk's own queue ([cc-fallback])


def device(channel: str) -> str:
    """``PJSIP/1001-0000000a`` -> ``PJSIP/1001`` (the endpoint an agent is configured with)."""
    return channel.rsplit("-", 1)[0] if "-" in channel else channel


def fate_of(rows: Sequence[CdrRow], agent_of: Callable[[str], str | None]) -> Fate:
    """The rows of one call (party A = the caller's channel, same uniqueid) -> how it ended.

    Answered: a row ANSWERED whose dstchannel is an agent's phone. Otherwise the last row says
    where the caller was: in a Dial (ringing), in the fallback, on hold / routing (queue), or the IVR.
    """
    if not rows:
        raise ValueError("fate_of needs at least one row")
    rows = sorted(rows, key=lambda r: (r.end, r.sequence))
    first, last = rows[0], rows[-1]
    number, name = first.caller
    base = Fate(call_id=first.uniqueid, phase="ivr", started_at=first.start, ended_at=last.end,
                caller_number=number, caller_name=name, channel=first.channel, linkedid=first.linkedid)
    talked = [r for r in rows if r.disposition == "ANSWERED" and r.dstchannel and agent_of(r.dstchannel)]
    if talked:
        r = talked[-1]
        # a CDR opened before the Dial keeps the IVR's Answer() as its answer time: never before its start
        return replace(base, phase="answered", agent=agent_of(r.dstchannel), answered_at=r.answer or r.start,
                       talk_ended_at=r.end, via_fallback=r.dcontext in FALLBACK_CONTEXTS or r.lastapp == "Queue")
    if any(r.dcontext in FALLBACK_CONTEXTS for r in rows):
        return replace(base, phase="fallback")
    if last.dstchannel and last.lastapp == "Dial":
        return replace(base, phase="ringing", agent=agent_of(last.dstchannel))
    if any(r.dcontext in HOLD_CONTEXTS for r in rows):
        return replace(base, phase="queue")
    return base


@dataclass
class Reconciled:
    fates: dict[str, Fate] = field(default_factory=dict)  # gone calls the daemon knew
    missing: list[str] = field(default_factory=list)  # gone calls with no CDR (yet)
    unseen: list[Fate] = field(default_factory=list)  # calls the daemon never saw, ended meanwhile


def reconcile(
    gone: Collection[str],
    rows: Iterable[CdrRow],
    agent_of: Callable[[str], str | None],
    *,
    blind_since: datetime | None,
    known: Callable[[str], bool],
    live: Collection[str] = (),
) -> Reconciled:
    """Pure: gone calls -> their fate from the CDRs; and citizens' calls that began after the daemon
    went blind (less :data:`MARGIN`), ended, and that the daemon does not know (``known``: open,
    recorded or in the store) -> a fate each, so they get their one record. ``blind_since`` None:
    no such search (a first start knows nothing of what it missed)."""
    by_call: dict[str, list[CdrRow]] = {}
    for r in rows:
        by_call.setdefault(r.uniqueid, []).append(r)
    out = Reconciled()
    for cid in gone:
        mine = by_call.get(cid)
        if mine:
            out.fates[cid] = fate_of(mine, agent_of)
        else:
            out.missing.append(cid)
    if blind_since is None:
        return out
    since = blind_since - MARGIN
    for cid, mine in by_call.items():
        first = min(mine, key=lambda r: (r.start, r.sequence))
        if cid in out.fates or cid in gone or cid in live or first.start < since:
            continue
        if not any(r.dcontext in CALL_CONTEXTS for r in mine):
            continue
        if agent_of(first.channel) is not None or known(cid):
            continue
        out.unseen.append(fate_of(mine, agent_of))
    out.unseen.sort(key=lambda f: f.ended_at)
    return out


def agent_lookup(endpoints: Mapping[str, str]) -> Callable[[str], str | None]:
    """agent id -> endpoint (``PJSIP/1001``) as configured -> a channel-name-to-agent function."""
    by_device = {ep: agent for agent, ep in endpoints.items()}

    def agent_of(channel: str) -> str | None:
        return by_device.get(device(channel))

    return agent_of

