"""The resync's async half: at each AMI login, read Asterisk's channels (and CDRs), plan, and hand the steps
to the call flow through :class:`CallRepairs` (the only door into the daemon's view of calls)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from asterisk.ami.client import AmiActionError, AmiNotConnected, AmiTimeout
from asterisk.ami.codec import Message
from callcenter.cdr_import import Fate, Reconciled, agent_lookup, device, read_master, reconcile
from callcenter.ledger import CallEntry
from callcenter.resync.journal import OpenCallJournal
from callcenter.resync.plan import CALL_CONTEXTS, VARIABLES, Kind, Known, KnownCall, LiveChannel, Step, plan
from config.models import CdrConfig
from records.model import CallRecordData

log = logging.getLogger("callcenter.resync")

GETVAR_CONCURRENCY = 32
#: device states that say nothing of a call: a live channel on such a device makes it in use
FREE_STATES = frozenset({"NOT_INUSE", "UNKNOWN", "INVALID", ""})
#: ids of calls recorded lately, so that a CDR import never records one twice before the store has it
RECENT = 50_000


class CallRepairs(Protocol):
    """What the resync may ask of the call flow (callcenter/callflow.py implements it)."""

    def known_calls(self, generation: int) -> dict[str, KnownCall]:
        """Every call in flight, as the plan sees it; ``generation``: the current AMI login."""
        ...

    def call_ids(self) -> set[str]: ...

    def take_over(self, entry: CallEntry) -> None:
        """A call from the journal (a killed daemon's) becomes the flow's, to be closed or adopted."""
        ...

    def close_gone(self, call_id: str, now: datetime) -> None: ...

    def close_from_cdr(self, call_id: str, fate: Fate) -> None: ...

    def record_unseen(self, fate: Fate) -> None:
        """A call that began and ended while the daemon was blind: its one record, from the CDRs."""
        ...

    def adopt(self, ch: LiveChannel, base: CallEntry | None, now: datetime) -> None: ...

    def repair(self, kind: Kind, call_id: str, ch: LiveChannel, now: datetime) -> None:
        """A known call moved on while the daemon was deaf: replay the fact it missed (a move kind)."""
        ...

    def follow_channels(self, live: Sequence[LiveChannel]) -> None:
        """The AMI tracker follows the channel list: gone channels forgotten, live callers known."""
        ...

    def devices_seen(self, states: dict[str, str], at: datetime) -> None:
        """Every device's state now (device -> DeviceStateChange state); agents' devices not listed are free."""
        ...


class AmiLister(Protocol):
    async def list_action(self, name: str) -> tuple[Message, list[Message]]: ...

    async def action(self, name: str, headers: dict[str, str]) -> Message: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


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

    def __init__(self, ami: AmiLister, calls: CallRepairs, *, clock: Callable[[], datetime] = _utcnow,
                 cdr: CdrConfig | None = None, endpoints: Mapping[str, str] | None = None,
                 in_store: Callable[[str], bool] = lambda _cid: False) -> None:
        self.ami, self.calls, self.clock, self.cdr = ami, calls, clock, cdr
        self.endpoints = dict(endpoints or {})
        self.in_store = in_store
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
    def restore(self, journal: OpenCallJournal) -> list[CallRecordData]:
        """Read the journal at start: open calls wait for the first resync; returns closed records
        missing from the store (to submit again)."""
        open_calls, closed = journal.load()
        times = [t for e in open_calls.values() for t in (e.entered_at, e.queued_at, e.offered_at, e.answered_at,
                                                         e.talk_ended_at) if t is not None]
        times += [r.ended_at for r in closed.values()]
        self.blind_since = max(times, default=None)
        for cid in closed:
            self.recorded(cid)
        resubmit = [r for r in closed.values() if not self.in_store(r.call_id)]
        self.restored = {cid: e for cid, e in open_calls.items() if not self.in_store(cid)}
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
        known = self.calls.known_calls(self.generation)
        known.update({cid: KnownCall(cid, Known.IVR) for cid in self.restored if cid not in known})
        planned = plan(known, live)
        gone = [s.call_id for s in planned if s.kind is Kind.CLOSE]
        found = await self._read_cdrs(gone, {ch.uniqueid for ch in live})
        self._fates = found.fates if found else {}
        steps = self._journal_calls_adopted(planned)
        counts: dict[str, int] = {}
        for step in steps:
            counts[step.kind.value] = counts.get(step.kind.value, 0) + 1
            self._apply(step)
        self._fates = {}
        for fate in found.unseen if found else ():
            if fate.call_id not in self.calls.call_ids() and fate.call_id not in self._recent:
                counts["cdr_unseen"] = counts.get("cdr_unseen", 0) + 1
                self.stats.cdr_unseen += 1
                self.calls.record_unseen(fate)
        self.blind_since = None
        self.synced_at = self.clock()
        self.stats.last_steps = counts
        self.calls.follow_channels(live)
        self.calls.devices_seen(await self._device_states(live), self.clock())
        self.restored.clear()
        if steps:
            log.info("resync: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        self.synced.set()

    def _journal_calls_adopted(self, planned: list[Step]) -> list[Step]:
        """A call known from the journal only (the engine has never seen it) is adopted at its live stage."""
        steps: list[Step] = []
        for step in planned:
            if step.call_id in self.restored and step.kind is not Kind.CLOSE:
                if step.kind is not Kind.ADOPT and any(s.call_id == step.call_id for s in steps):
                    continue
                step = Step(Kind.ADOPT, step.call_id, step.live)
            steps.append(step)
        return steps

    async def _read_cdrs(self, gone: Sequence[str], live: set[str]) -> Reconciled | None:
        """What Asterisk's CDRs say of the gone calls and of calls never seen; waits up to ``cdr.wait``
        for the CDRs of gone calls (Asterisk writes one just after the channel goes)."""
        cfg = self.cdr
        # Calls begun since then may have come and gone unseen. Those the daemon recorded meanwhile are in
        # the recent set, so the wide window costs a file read, not a store lookup per call.
        since = self.blind_since if self.blind_since is not None else self.synced_at
        if cfg is None or (not gone and since is None):
            return None
        tz = ZoneInfo(cfg.timezone)
        agent_of = agent_lookup(self.endpoints)
        known_ids = self.calls.call_ids() | set(self.restored) | self._recent
        in_store = self.in_store
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
        ami = self.ami
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

    async def _device_states(self, live: Sequence[LiveChannel]) -> dict[str, str]:
        """Which phones are in use now: Asterisk's DeviceStateList, and every device with a live channel.

        Both, because on the real Asterisk 22 DeviceStateList left out the busy Local-channel phones (their
        state is not cached) while the channel list had their calls; where DeviceStateList is refused (no
        ``call``/``reporting`` write permission) the channel list alone decides."""
        states: dict[str, str] = {}
        try:
            _, items = await self.ami.list_action("DeviceStateList")
            states = {m["Device"]: m.get("State") or "UNKNOWN" for m in items
                      if m.name == "DeviceStateChange" and "Device" in m}
        except (AmiActionError, AmiTimeout) as exc:
            log.warning("resync: DeviceStateList failed (%s): busy phones taken from the channel list", exc)
        except AmiNotConnected:
            return {}
        for ch in live:
            dev = device(ch.name)
            if states.get(dev, "NOT_INUSE") in FREE_STATES:
                states[dev] = "INUSE"
        return states

    # ---- steps
    def _apply(self, step: Step) -> None:
        now, cid, ch = self.clock(), step.call_id, step.live
        if step.kind is Kind.CLOSE:
            self.stats.closed += 1
            restored = self.restored.pop(cid, None)
            if restored is not None:
                self.calls.take_over(restored)
            fate = self._fates.get(cid)
            if fate is not None:
                self.stats.cdr_closed += 1
                self.calls.close_from_cdr(cid, fate)
            else:
                self.calls.close_gone(cid, now)
        elif step.kind is Kind.ADOPT:
            assert ch is not None
            self.stats.adopted += 1
            self.calls.adopt(ch, self.restored.pop(cid, None), now)
        elif step.kind is Kind.MISMATCH:
            self.stats.mismatches += 1
            log.warning("resync: call %s is %s in Asterisk; the daemon's view differs; left as is",
                        cid, ch.stage if ch else "gone")
        else:
            assert ch is not None
            self.stats.moved += 1
            self.calls.repair(step.kind, cid, ch, now)
