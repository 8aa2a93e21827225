"""Resync after an AMI reconnect, an Asterisk restart or a daemon restart: nothing lost, duplicated or stuck.

Events sent while the daemon was not listening are lost for good, so after every AMI login the
daemon compares what it believes with what Asterisk has (``CoreShowChannels`` + ``Getvar`` of the
dialplan's ``CC_*`` variables on each caller channel) and repairs the difference:

- a call the daemon holds open that Asterisk no longer has is closed with a record now (outcome
  from its last known state, ``ended_at`` = the resync, ``hangup_cause`` = None marks such records);
- a caller on hold the daemon does not know (it restarted) joins the queue at its ORIGINAL place
  (``CC_ENTERED``, set by the dialplan to ``${EPOCH}``, becomes ``CallQueued.entered_at``);
- a caller ringing or talking to an agent (``CC_AGENT``) is tracked as offered / answered by that agent;
- a known call whose stage moved while the daemon was deaf (CcHold, DialEnd, CcFallback lost) is moved on;
- with ``cdr.master_csv`` configured, a gone call is closed with what Asterisk's CDRs say (answered by
  whom, or where the caller gave up), not from its last known stage; and a citizen's call that began and
  ended while the daemon was blind (so it never saw it) gets its one record from them
  (:mod:`callcenter.cdr_import`).

Two halves: :func:`plan` is pure (the daemon's view + the channel list -> :class:`Step` list, one
table of (known stage, live stage) -> step kinds), :class:`Resyncer` runs the AMI actions and applies
the steps to the daemon. :class:`OpenCallJournal` keeps the calls in flight on disk (one JSON line per
change, appended as it happens) so that a daemon killed with ``kill -9`` knows, after its restart,
which calls it had and can account for the ones that ended while it was down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from asterisk.ami.client import AmiActionError, AmiNotConnected, AmiTimeout
from asterisk.ami.codec import Message
from asterisk.ami.tracker import Channel
from callcenter.cdr_import import Fate, Reconciled, agent_lookup, read_master, reconcile
from callcenter.ledger import CallEntry
from queueing.callstate import CallState
from records.model import CallRecordData

if TYPE_CHECKING:
    from callcenter.daemon import Daemon

log = logging.getLogger("callcenter.resync")

#: the channel variables read on each caller channel
VARIABLES = ("CC_INCOMING", "CC_ENTERED", "CC_QUEUE", "CC_IVR_PATH", "CC_LANG", "CC_HOLD", "CC_AGENT")
#: contexts of the shipped dialplan a caller channel can be in
CALL_CONTEXTS = frozenset({"cc-incoming", "cc-hold", "cc-route", "cc-survey", "cc-fallback"})
GETVAR_CONCURRENCY = 32
#: ids of calls recorded lately, so that a CDR import never records one twice before the store has it
RECENT = 50_000


class Live(enum.StrEnum):
    """Where a caller channel is, from the channel list."""

    IVR = "ivr"
    HOLD = "hold"
    RINGING = "ringing"
    TALKING = "talking"
    AFTER = "after"  # cc-survey: talk over
    FALLBACK = "fallback"


#: Where the daemon believes a call is: the call states of queueing/callstate.py (OFFERED = RINGING).
Known = CallState


class Kind(enum.StrEnum):
    CLOSE = "close"  # gone from Asterisk: record it now
    ADOPT = "adopt"  # alive, unknown to the daemon: take it at its live stage
    QUEUE = "queue"  # the CcHold was lost
    RING_FAILED = "ring_failed"  # back on hold: the Dial failed while deaf
    ANSWERED = "answered"  # the agent answered while deaf
    TALK_ENDED = "talk_ended"
    FELL_BACK = "fell_back"
    MISMATCH = "mismatch"  # a pair that cannot happen: counted and logged, nothing changed


@dataclass(frozen=True, slots=True)
class LiveChannel:
    uniqueid: str
    linkedid: str
    name: str
    context: str
    exten: str = ""
    caller_number: str = ""
    caller_name: str = ""
    state: str = ""
    bridge_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_event(cls, msg: Message, variables: Mapping[str, str] | None = None) -> LiveChannel:
        uid = msg["Uniqueid"]
        return cls(
            uniqueid=uid, linkedid=msg.get("Linkedid") or uid, name=msg["Channel"], context=msg.get("Context") or "",
            exten=msg.get("Exten") or "", caller_number=msg.get("CallerIDNum") or "",
            caller_name=msg.get("CallerIDName") or "", state=msg.get("ChannelStateDesc") or "",
            bridge_id=msg.get("BridgeId") or msg.get("BridgeID") or "", variables=dict(variables or {}),
        )

    def var(self, name: str) -> str:
        return self.variables.get(name, "")

    @property
    def stage(self) -> Live | None:
        """None: not a caller channel of the call-center dialplan (an agent leg, another call)."""
        if self.context == "cc-incoming":
            # Only citizens' calls enter [cc-incoming]; one caught before its Set(CC_INCOMING=1) (NoOp,
            # Answer come first) is a caller all the same, else its fallback and hang-up go unrecorded.
            return Live.IVR
        if self.context not in CALL_CONTEXTS or (self.variables and self.var("CC_INCOMING") != "1"):
            return None
        if self.context == "cc-hold":
            return Live.HOLD
        if self.context == "cc-route":
            return Live.TALKING if self.bridge_id else Live.RINGING
        if self.context == "cc-survey":
            return Live.AFTER
        return Live.FALLBACK

    def entered_at(self, default: datetime) -> datetime:
        """CC_ENTERED (the dialplan's ${EPOCH} at entry), never after ``default``."""
        try:
            at = datetime.fromtimestamp(float(self.var("CC_ENTERED")), UTC)
        except (ValueError, OverflowError, OSError):
            return default
        return min(at, default)


@dataclass(frozen=True, slots=True)
class KnownCall:
    call_id: str
    stage: Known
    agent: str | None = None
    #: the offer went out after the last login: its Redirect may still be on its way
    offer_in_flight: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    call_id: str
    live: LiveChannel | None = None


#: (what the daemon believes, what Asterisk has) -> the steps that reconcile them, in order.
#: A pair that is absent needs nothing. None on the live side = the channel is gone.
TABLE: dict[tuple[Known, Live], tuple[Kind, ...]] = {
    (Known.IVR, Live.HOLD): (Kind.QUEUE,),
    (Known.IVR, Live.RINGING): (Kind.MISMATCH,),
    (Known.IVR, Live.TALKING): (Kind.MISMATCH,),
    (Known.IVR, Live.AFTER): (Kind.MISMATCH,),
    (Known.IVR, Live.FALLBACK): (Kind.FELL_BACK,),
    (Known.WAITING, Live.RINGING): (Kind.MISMATCH,),
    (Known.WAITING, Live.TALKING): (Kind.MISMATCH,),
    (Known.WAITING, Live.AFTER): (Kind.MISMATCH,),
    (Known.WAITING, Live.FALLBACK): (Kind.FELL_BACK,),
    (Known.OFFERED, Live.IVR): (Kind.MISMATCH,),
    (Known.OFFERED, Live.HOLD): (Kind.RING_FAILED,),
    (Known.OFFERED, Live.TALKING): (Kind.ANSWERED,),
    (Known.OFFERED, Live.AFTER): (Kind.ANSWERED, Kind.TALK_ENDED),
    (Known.OFFERED, Live.FALLBACK): (Kind.RING_FAILED, Kind.FELL_BACK),
    (Known.TALKING, Live.IVR): (Kind.MISMATCH,),
    (Known.TALKING, Live.HOLD): (Kind.MISMATCH,),
    (Known.TALKING, Live.RINGING): (Kind.MISMATCH,),
    (Known.TALKING, Live.AFTER): (Kind.TALK_ENDED,),
    (Known.TALKING, Live.FALLBACK): (Kind.MISMATCH,),
    (Known.AFTER, Live.IVR): (Kind.MISMATCH,),
    (Known.AFTER, Live.HOLD): (Kind.MISMATCH,),
    (Known.AFTER, Live.RINGING): (Kind.MISMATCH,),
    (Known.AFTER, Live.TALKING): (Kind.MISMATCH,),
    (Known.AFTER, Live.FALLBACK): (Kind.MISMATCH,),
}


def plan(known: Mapping[str, KnownCall], live: Iterable[LiveChannel]) -> list[Step]:
    """Pure: the steps that bring the daemon's view in line with Asterisk's channel list.

    Every known call gets exactly one outcome here: kept (no step), moved on, or closed; every live
    caller channel the daemon does not know is adopted once.
    """
    steps: list[Step] = []
    callers = {ch.uniqueid: ch for ch in live if ch.stage is not None}
    for call_id, k in known.items():
        ch = callers.get(call_id)
        if ch is None:
            steps.append(Step(Kind.CLOSE, call_id))
            continue
        stage = ch.stage
        assert stage is not None
        kinds = TABLE.get((k.stage, stage), ())
        if kinds == (Kind.RING_FAILED,) and k.offer_in_flight:
            kinds = ()  # the Redirect sent after the login has not reached the channel yet
        if kinds and kinds[0] is Kind.ANSWERED and k.agent and ch.var("CC_AGENT") not in ("", k.agent):
            kinds = (Kind.MISMATCH,)
        steps.extend(Step(kind, call_id, ch) for kind in kinds)
    for uid, ch in callers.items():
        if uid not in known:
            steps.append(Step(Kind.ADOPT, uid, ch))
    return steps


def known_stage(e: CallEntry) -> CallState:
    return e.state


# ---------------------------------------------------------------- the journal of calls in flight


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
        self._fh: Any = None
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
        with tmp.open("w", encoding="utf-8") as fh:
            for e in open_calls:
                fh.write(json.dumps({"open": _entry_dict(e)}) + "\n")
            for rec in closed:
                fh.write(json.dumps({"closed": rec.to_dict()}, default=str) + "\n")
        os.replace(tmp, self.path)
        self._lines = 0

    def _write(self, item: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8", buffering=1)
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


# ---------------------------------------------------------------- the async part


@dataclass
class ResyncStats:
    runs: int = 0
    failures: int = 0
    closed: int = 0
    adopted: int = 0
    moved: int = 0
    mismatches: int = 0
    getvar_failures: int = 0
    restored_records: int = 0
    cdr_closed: int = 0  # gone calls closed with what Asterisk's CDRs say
    cdr_unseen: int = 0  # calls the daemon never saw, recorded from their CDRs
    cdr_missing: int = 0  # gone calls with no CDR in time: closed from their last known stage
    cdr_bad_lines: int = 0
    last_steps: dict[str, int] = field(default_factory=dict)


class Resyncer:
    """Runs at each AMI login (in order with the events: see ``AmiClient(on_login=...)``)."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.stats = ResyncStats()
        #: calls restored from the journal after a daemon restart: known, but not to the engine
        self.restored: dict[str, CallEntry] = {}
        #: login generation; offers carry the generation they were sent in
        self.generation = 0
        self.synced = asyncio.Event()
        #: the end of the last resync: every call that began before it was seen (by its events or that resync)
        self.synced_at: datetime | None = None
        #: after a restart, the latest time the journal holds (the killed daemon's last sight of a call)
        self.blind_since: datetime | None = None
        self._recent_ids: deque[str] = deque(maxlen=RECENT)
        self._recent: set[str] = set()
        self._fates: dict[str, Fate] = {}

    def recorded(self, call_id: str) -> None:
        """The daemon wrote this call's record (the store may not have it yet): never import it again."""
        if len(self._recent_ids) == RECENT:
            self._recent.discard(self._recent_ids[0])
        self._recent_ids.append(call_id)
        self._recent.add(call_id)

    # ---- start-up
    def restore(self, journal: OpenCallJournal, in_store: Any) -> list[CallRecordData]:
        """Read the journal at start: open calls wait for the first resync; returns closed records
        missing from the store (to submit again)."""
        open_calls, closed = journal.load()
        times = [t for e in open_calls.values() for t in (e.entered_at, e.queued_at, e.offered_at, e.answered_at,
                                                         e.talk_ended_at) if t is not None]
        times += [r.ended_at for r in closed.values()]
        self.blind_since = max(times, default=None)
        for cid in closed:
            self.recorded(cid)
        resubmit = [r for r in closed.values() if not in_store(r.call_id)]
        self.restored = {cid: e for cid, e in open_calls.items() if not in_store(cid)}
        journal.rewrite(self.restored.values(), resubmit)
        self.stats.restored_records += len(resubmit)
        return resubmit

    # ---- each login
    async def run(self) -> None:
        self.generation += 1
        self.synced.clear()
        self.stats.runs += 1
        try:
            live = await self._snapshot()
        except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
            # The next login tries again; until then the calls stay as they are (none is closed blind).
            self.stats.failures += 1
            log.warning("resync failed: %s", exc)
            self.synced.set()
            return
        known = {cid: KnownCall(cid, known_stage(e), e.offer_agent or e.agent_id,
                                e.offer_agent is not None and self.d.offer_generation.get(cid) == self.generation)
                 for cid, e in self.d.ledger.calls.items()}
        known.update({cid: KnownCall(cid, Known.IVR) for cid in self.restored if cid not in known})
        steps: list[Step] = []
        planned = plan(known, live)
        gone = [s.call_id for s in planned if s.kind is Kind.CLOSE]
        found = await self._read_cdrs(gone, {ch.uniqueid for ch in live})
        self._fates = found.fates if found else {}
        for step in planned:
            if step.call_id in self.restored and step.kind is not Kind.CLOSE:
                # Known from the journal only: the engine has never seen it; take it at its live stage.
                if step.kind is not Kind.ADOPT and any(s.call_id == step.call_id for s in steps):
                    continue
                step = Step(Kind.ADOPT, step.call_id, step.live)
            steps.append(step)
        counts: dict[str, int] = {}
        for step in steps:
            counts[step.kind.value] = counts.get(step.kind.value, 0) + 1
            self._apply(step)
        self._fates = {}
        for fate in found.unseen if found else ():
            if fate.call_id not in self.d.ledger.calls and fate.call_id not in self._recent:
                counts["cdr_unseen"] = counts.get("cdr_unseen", 0) + 1
                self.stats.cdr_unseen += 1
                self.d.ledger.calls[fate.call_id] = CallEntry(
                    call_id=fate.call_id, entered_at=fate.started_at, linkedid=fate.linkedid, channel=fate.channel,
                    caller_number=fate.caller_number, caller_name=fate.caller_name)
                self.d.close_from_cdr(fate.call_id, fate)
        self.blind_since = None
        self.synced_at = self.d.clock.now()
        self.stats.last_steps = counts
        # The tracker follows the channel list: gone channels forgotten, live callers known as callers.
        alive = {ch.uniqueid for ch in live}
        for uid in [u for u in self.d.tracker.channels if u not in alive]:
            self.d.tracker.forget(uid)
        for ch in live:
            if ch.stage is not None or ch.uniqueid not in self.d.tracker.channels:
                self.d.tracker.adopt(Channel(ch.uniqueid, ch.linkedid, ch.name, ch.caller_number, ch.caller_name,
                                             ch.context, ch.exten, ch.state, is_caller=ch.stage is not None))
        self.restored.clear()
        if steps:
            log.info("resync: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        self.synced.set()

    async def _read_cdrs(self, gone: Sequence[str], live: set[str]) -> Reconciled | None:
        """What Asterisk's CDRs say of the gone calls and of calls never seen; waits up to ``cdr.wait``
        for the CDRs of gone calls (Asterisk writes one just after the channel goes)."""
        cfg = self.d.cfg.cdr
        # Calls begun since then may have come and gone unseen. Those the daemon recorded meanwhile are in
        # the recent set, so the wide window costs a file read, not a store lookup per call.
        since = self.blind_since if self.blind_since is not None else self.synced_at
        if cfg is None or (not gone and since is None):
            return None
        tz = ZoneInfo(cfg.timezone)
        agent_of = agent_lookup(self.d.endpoints)
        known_ids = set(self.d.ledger.calls) | set(self.restored) | self._recent
        in_store = self.d._in_store
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.wait
        while True:
            def work() -> tuple[Reconciled, int]:
                parsed = read_master(cfg.master_csv, tz)
                return reconcile(gone, parsed.rows, agent_of, blind_since=since, live=live,
                                 known=lambda cid: cid in known_ids or in_store(cid)), parsed.bad

            found, bad = await asyncio.to_thread(work)
            if not found.missing or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        self.stats.cdr_bad_lines += bad
        self.stats.cdr_missing += len(found.missing)
        if found.missing:
            log.warning("resync: %d gone call(s) have no CDR in %s after %.1f s: closed from their last known "
                        "stage", len(found.missing), cfg.master_csv, cfg.wait)
        return found

    async def _snapshot(self) -> list[LiveChannel]:
        ami = self.d.ami
        _, items = await ami.list_action("CoreShowChannels")
        sem = asyncio.Semaphore(GETVAR_CONCURRENCY)

        async def getvar(channel: str, name: str) -> str | None:
            async with sem:
                try:
                    return (await ami.action("Getvar", {"Channel": channel, "Variable": name})).get("Value") or ""
                except AmiActionError:  # the channel hung up meanwhile
                    self.stats.getvar_failures += 1
                    return None

        out: list[LiveChannel] = []
        for msg in items:
            if msg.name != "CoreShowChannel" or "Uniqueid" not in msg or "Channel" not in msg:
                continue
            ch = LiveChannel.from_event(msg)
            if ch.context in CALL_CONTEXTS:
                values = await asyncio.gather(*(getvar(ch.name, v) for v in VARIABLES))
                if None in values:
                    # Gone since the list: not live (taken as live with empty variables it was neither a caller
                    # to adopt nor a gone call to find in the CDRs, and its record was lost).
                    continue
                ch = dataclasses.replace(ch, variables={k: v or "" for k, v in zip(VARIABLES, values, strict=True)})
            out.append(ch)
        return out

    # ---- steps
    def _apply(self, step: Step) -> None:
        d, now, cid, ch = self.d, self.d.clock.now(), step.call_id, step.live
        if step.kind is Kind.CLOSE:
            self.stats.closed += 1
            restored = self.restored.pop(cid, None)
            if restored is not None and cid not in d.ledger.calls:
                d.ledger.calls[cid] = restored
            fate = self._fates.get(cid)
            if fate is not None:
                self.stats.cdr_closed += 1
                d.close_from_cdr(cid, fate)
            else:
                d.close_gone(cid, now)
        elif step.kind is Kind.ADOPT:
            assert ch is not None
            self.stats.adopted += 1
            self._adopt(ch, self.restored.pop(cid, None), now)
        elif step.kind is Kind.MISMATCH:
            self.stats.mismatches += 1
            log.warning("resync: call %s is %s in Asterisk; the daemon's view differs; left as is",
                        cid, ch.stage if ch else "gone")
        else:
            assert ch is not None
            self.stats.moved += 1
            d.resync_move(step.kind.value, cid, ch, now)

    def _adopt(self, ch: LiveChannel, base: CallEntry | None, now: datetime) -> None:
        d = self.d
        stage = ch.stage
        entered = base.entered_at if base is not None else ch.entered_at(now)
        e = base or CallEntry(call_id=ch.uniqueid, entered_at=entered)
        e.linkedid, e.channel = ch.linkedid, ch.name
        e.caller_number = e.caller_number or ch.caller_number
        e.caller_name = e.caller_name or ch.caller_name
        e.ivr_path = e.ivr_path or ch.var("CC_IVR_PATH")
        e.language = e.language or ch.var("CC_LANG")
        e.queue = e.queue or ch.var("CC_QUEUE") or None
        # The daemon that knew the call is gone: what it had in flight is void; Asterisk says where it is.
        e.offer_agent, e.ringing, e.agent_id, e.answered_at, e.talk_ended_at = None, False, None, None, None
        d.ledger.calls[ch.uniqueid] = e
        d.journal_save(e)
        if stage is Live.IVR:
            return  # its CcHold (or the fallback) comes later
        if stage is Live.FALLBACK:
            d.ledger.fell_back(e.call_id, now)
            return
        agent = ch.var("CC_AGENT")
        if e.queue is None or e.queue not in d.queue_names:
            e.queue = d.cfg.queues[0].name
        if e.queued_at is None:
            e.queued_at = entered
        if stage is Live.HOLD:
            d.requeue(e, entered, now)
        elif stage is Live.AFTER:
            e.offer_agent = e.agent_id = agent or None
            e.offers = max(e.offers, 1)
            e.offered_at = e.offered_at or e.queued_at
            e.answered_at = e.talk_ended_at = now if agent else None
        else:  # ringing or talking with CC_AGENT
            d.adopt_routed(e, agent, talking=stage is Live.TALKING, entered=entered, now=now)


def live_channels(items: Sequence[Message]) -> list[LiveChannel]:
    """CoreShowChannel events -> LiveChannel (no variables), for tests and tools."""
    return [LiveChannel.from_event(m) for m in items if m.name == "CoreShowChannel"]


class ResyncCollector:
    """Prometheus: AMI faults (timeouts, bad frames, ignored events) and what the resyncs repaired."""

    def __init__(self, resync: ResyncStats, ami: Any, tracker: Any) -> None:
        self.resync, self.ami, self.tracker = resync, ami, tracker

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily

        a, r = self.ami, self.resync
        for name, doc, value in (
            ("callcenter_ami_action_timeouts", "AMI actions that got no answer in time", a.action_timeouts),
            ("callcenter_ami_ping_timeouts", "AMI connections declared dead by the ping watchdog", a.ping_timeouts),
            ("callcenter_ami_bad_frames", "malformed or oversized AMI frames dropped", a.bad_frames),
            ("callcenter_ami_callback_errors", "AMI events whose handling failed", a.callback_errors),
            ("callcenter_ami_events_ignored", "AMI events of no interest, counted and dropped", self.tracker.ignored),
            ("callcenter_ami_events_malformed", "AMI events lacking a header, counted and dropped",
             self.tracker.dropped),
            ("callcenter_resync_runs", "resyncs after an AMI login", r.runs),
            ("callcenter_resync_failures", "resyncs that could not read the channel list", r.failures),
            ("callcenter_resync_closed", "calls gone from Asterisk, closed by a resync", r.closed),
            ("callcenter_resync_adopted", "calls alive in Asterisk taken over by a resync", r.adopted),
            ("callcenter_resync_moved", "calls whose stage a resync moved on", r.moved),
            ("callcenter_resync_mismatches", "calls whose state a resync could not explain", r.mismatches),
            ("callcenter_resync_restored_records", "records resubmitted from the journal at start",
             r.restored_records),
            ("callcenter_cdr_closed", "gone calls closed with what Asterisk's CDRs say", r.cdr_closed),
            ("callcenter_cdr_unseen", "calls the daemon never saw, recorded from Asterisk's CDRs", r.cdr_unseen),
            ("callcenter_cdr_missing", "gone calls with no CDR in time, closed from their last stage",
             r.cdr_missing),
            ("callcenter_cdr_bad_lines", "Master.csv lines that could not be read, skipped", r.cdr_bad_lines),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield CounterMetricFamily("callcenter_ami_oversized_frames",
                                  "AMI frames over ami.max_message bytes, dropped (the reader resyncs)",
                                  value=a.oversized_frames)
        by_name = CounterMetricFamily("callcenter_ami_events_ignored_by_name",
                                      "AMI events of no interest by event name (50 names, then _other)",
                                      labels=["event"])
        for event, count in sorted(self.tracker.ignored_names.counts.items()):
            by_name.add_metric([event], count)
        yield by_name
