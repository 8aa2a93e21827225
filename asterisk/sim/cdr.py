"""Call detail records as Asterisk's ``cdr_csv`` backend writes them to ``Master.csv``.

The simulator's CDR engine follows its own AMI events, as Asterisk's follows its channel snapshots,
and appends one line per finished CDR with the columns of ``cdr/cdr_csv.c`` in ``cdr.conf``'s
``[csv]`` settings that ``asterisk/conf/cdr.conf`` ships (``usegmtime``, ``loguniqueid``,
``loguserfield``, ``newcdrcolumns`` all on):

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer,
    end, duration, billsec, disposition, amaflags, uniqueid, userfield, peeraccount, linkedid, sequence

Strings are always quoted (``"`` doubled), numbers are bare, an unset time is an empty bare field.

Which CDRs a call leaves (Asterisk 12+ semantics, party A = the citizen's channel):
- one opens at the channel's creation; the IVR's ``Answer()`` sets its answer time;
- a ``Dial`` puts the agent's channel in ``dstchannel``; the dialled channel gets no CDR of its own;
- a Dial that fails finalises the CDR (NO ANSWER / BUSY / ...); a bridge the caller leaves finalises
  it too; the caller's next dialplan step opens a new one (answered at once: the channel is up);
- the hang-up finalises the open CDR (ANSWERED when it has an answer time).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asterisk.sim.model import Headers

COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
    "peeraccount", "linkedid", "sequence",
)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: DIALSTATUS -> CDR disposition of a failed Dial (cdr.c dial_status_to_disposition)
DIAL_DISPOSITION = {"NOANSWER": "NO ANSWER", "CANCEL": "NO ANSWER", "BUSY": "BUSY",
                    "CONGESTION": "CONGESTION", "CHANUNAVAIL": "FAILED"}


@dataclass(slots=True)
class Cdr:
    channel: str
    uniqueid: str
    linkedid: str
    start: datetime
    src: str = ""
    clid: str = ""
    dst: str = ""
    dcontext: str = ""
    dstchannel: str = ""
    lastapp: str = ""
    lastdata: str = ""
    answer: datetime | None = None
    end: datetime | None = None
    disposition: str = ""
    accountcode: str = ""
    amaflags: str = "DOCUMENTATION"
    userfield: str = ""
    peeraccount: str = ""
    sequence: int = 0

    def csv_line(self) -> str:
        end = self.end or self.start
        duration = int((end - self.start).total_seconds())
        billsec = int((end - self.answer).total_seconds()) if self.answer is not None else 0
        disposition = self.disposition or ("ANSWERED" if self.answer is not None else "NO ANSWER")
        fields = [
            _q(self.accountcode), _q(self.src), _q(self.dst), _q(self.dcontext), _q(self.clid), _q(self.channel),
            _q(self.dstchannel), _q(self.lastapp), _q(self.lastdata), _date(self.start), _date(self.answer),
            _date(end), str(max(duration, 0)), str(max(billsec, 0)), _q(disposition), _q(self.amaflags),
            _q(self.uniqueid), _q(self.userfield), _q(self.peeraccount), _q(self.linkedid), str(self.sequence),
        ]
        return ",".join(fields) + "\n"


def _q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _date(at: datetime | None) -> str:
    # usegmtime=yes: UTC; cdr_csv writes an unset time as an empty, unquoted field
    return "" if at is None else _q(at.astimezone(UTC).strftime(DATE_FORMAT))


def _known(value: str) -> str:
    return "" if value == "<unknown>" else value


class CdrCsvWriter:
    """A listener on the simulator's AMI events (``PbxSimulator.add_listener``) appending to Master.csv."""

    def __init__(self, path: str | Path, now: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self.now = now
        self.written = 0
        self._open: dict[str, Cdr] = {}  # party A uniqueid -> its CDR in progress
        self._after: dict[str, Cdr] = {}  # finalised; the next dialplan step opens a new CDR
        self._up: set[str] = set()
        self._seq = itertools.count(1)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, headers: Headers) -> None:
        h: dict[str, str] = {}
        for k, v in headers:
            h.setdefault(k, v)
        name, uid = h.get("Event", ""), h.get("Uniqueid", "")
        if not uid:
            return
        if name == "Newchannel":
            self._open[uid] = self._new(h, self.now())
        elif name == "Newstate" and h.get("ChannelState") == "6":
            self._up.add(uid)
            cdr = self._open.get(uid)
            if cdr is not None and cdr.answer is None:
                cdr.answer = self.now()
        elif name == "Newexten":
            cdr = self._current(uid, h)
            if cdr is not None:
                cdr.lastapp, cdr.lastdata = h.get("Application", ""), h.get("AppData", "")
                cdr.dcontext, cdr.dst = h.get("Context", ""), h.get("Extension") or h.get("Exten", "")
        elif name == "DialBegin":
            self._open.pop(h.get("DestUniqueid", ""), None)  # party B: no CDR of its own
            cdr = self._current(uid, h)
            if cdr is not None:
                cdr.dstchannel = h.get("DestChannel", "")
        elif name == "DialEnd":
            cdr = self._open.get(uid)
            status = h.get("DialStatus", "")
            if cdr is not None and status != "ANSWER":
                cdr.disposition = DIAL_DISPOSITION.get(status, "FAILED")
                self._finish(uid, cdr)
        elif name == "BridgeLeave":
            cdr = self._open.get(uid)
            if cdr is not None and cdr.dstchannel:
                self._finish(uid, cdr)
        elif name == "Hangup":
            cdr = self._open.pop(uid, None)
            self._after.pop(uid, None)
            self._up.discard(uid)
            if cdr is not None:
                self._finish(uid, cdr, reopen=False)

    def _new(self, h: dict[str, str], at: datetime) -> Cdr:
        num, name = _known(h.get("CallerIDNum", "")), _known(h.get("CallerIDName", ""))
        clid = f'"{name}" <{num}>' if name else (f"<{num}>" if num else "")
        return Cdr(channel=h.get("Channel", ""), uniqueid=h["Uniqueid"], linkedid=h.get("Linkedid") or h["Uniqueid"],
                   start=at, src=num, clid=clid, dst=h.get("Exten", ""), dcontext=h.get("Context", ""),
                   accountcode=h.get("AccountCode", ""))

    def _current(self, uid: str, h: dict[str, str]) -> Cdr | None:
        cdr = self._open.get(uid)
        if cdr is None and uid in self._after:
            prev = self._after.pop(uid)
            at = self.now()
            cdr = self._new(h, at)
            cdr.src, cdr.clid, cdr.linkedid = prev.src, prev.clid, prev.linkedid
            cdr.answer = at if uid in self._up else None
            self._open[uid] = cdr
        return cdr

    def _finish(self, uid: str, cdr: Cdr, *, reopen: bool = True) -> None:
        cdr.end = self.now()
        cdr.sequence = next(self._seq)
        self._open.pop(uid, None)
        if reopen:
            self._after[uid] = cdr
        # cdr_csv opens, writes, flushes and closes Master.csv for every record
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(cdr.csv_line())
        self.written += 1
