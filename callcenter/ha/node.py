"""One node of a hot-standby pair (or more): standby until it holds the lease, then leader until it stops or
loses it. See callcenter/ha/lease.py for the lease and why it is one, and docs/scale.md ("Hot standby").

standby: AMI connected and read (the witness), store open, web up (it redirects to the leader), no FastAGI,
    no routing, no records; polls the lease every ``poll_seconds``.
leader: took the lease; ``on_promote`` starts the leader's tasks (FastAGI, follow-ups, incidents, MQTT figures)
    and replays the AMI login, so that the resync adopts every call in flight in order with the events.
    Renews every ``renew_seconds``; past its local deadline, ``guard`` refuses every AMI action that changes
    calls, and the node steps down (``on_step_down``: the daemon stops; its supervisor starts it again, as a
    standby). A node never goes back from leader to standby in one process: its memory is a leader's.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from asterisk.ami.client import AmiFenced
from callcenter.ha.lease import Acquired, LeaseStore, LeaseView, Term
from callcenter.ha.witness import FLUSH_SLACK, Witness
from callcenter.ledger import CallEntry
from config.models import HaConfig

log = logging.getLogger("callcenter.ha")

T = TypeVar("T")

#: AMI actions that only read: allowed to any node at any time. Everything else changes calls (Redirect,
#: Originate, Setvar, Hangup, QueueAdd, Command...) and needs a live term.
READ_ONLY = frozenset({"login", "logoff", "challenge", "ping", "coreshowchannels", "getvar", "status",
                       "queuestatus", "queuesummary", "corestatus", "coresettings", "listcommands",
                       "coreshowchannelmap", "pjsipshowendpoints", "pjsipshowcontacts", "sippeers"})

#: the exit status of a daemon that stepped down (sysexits EX_TEMPFAIL): its supervisor starts it again
STEPPED_DOWN = 75


class ResyncState(Protocol):
    """What the takeover sets on the resync (callcenter/resync/runner.py ``Resyncer``)."""

    restored: dict[str, CallEntry]
    blind_since: datetime | None


class Role(enum.StrEnum):
    STANDBY = "standby"
    LEADER = "leader"
    STEPPED_DOWN = "stepped_down"


@dataclass
class HaStats:
    takeovers: int = 0  # terms begun after another node's
    terms: int = 0  # terms begun (the first start included)
    renewals: int = 0
    lease_errors: int = 0
    fenced_actions: int = 0
    #: the last takeover: lease taken -> every call in flight adopted (resync done), seconds
    last_takeover_seconds: float | None = None


class HaNode:
    def __init__(self, cfg: HaConfig, db_url: str, *, now: Callable[[], datetime],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg, self.now, self.clock = cfg, now, clock
        self.store = LeaseStore(db_url, timeout=cfg.renew_seconds, clock=clock)
        self.witness = Witness()
        self.role = Role.STANDBY
        self.term: Term | None = None
        self.stats = HaStats()
        #: the lease as last read (standby) and when this node last saw another node's live term
        self.view: LeaseView | None = None
        self.leader_seen_at: datetime | None = None
        self.took_over_at: datetime | None = None
        self.previous_holder = ""
        #: set at the replayed login: from then on AMI events go to the call flow, not the witness
        self.events_to_flow = False
        self.db_up: bool | None = None
        self.on_promote: Callable[[], None] = lambda: None
        self.on_step_down: Callable[[], None] = lambda: None
        self._taken_mono = 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ha-lease")

    # ---- the fence (AmiClient.guard)
    def may_act(self) -> bool:
        return self.role is Role.LEADER and self.term is not None and self.clock() < self.term.deadline

    def guard(self, action: str) -> None:
        if action.lower() in READ_ONLY or self.may_act():
            return
        self.stats.fenced_actions += 1
        raise AmiFenced(f"{action} refused: node {self.cfg.node} is {self.role.value}, not a leader in its term")

    @property
    def epoch(self) -> int:
        return self.term.epoch if self.term is not None else (self.view.epoch if self.view else 0)

    def leader_url(self) -> str | None:
        v = self.view
        return v.url if v is not None and v.live and v.holder != self.cfg.node else None

    # ---- the loop
    async def run(self) -> None:
        await self._setup()
        while self.role is not Role.STEPPED_DOWN:
            if self.role is Role.STANDBY:
                await self._standby_round()
                if self.role is Role.STANDBY:
                    await asyncio.sleep(self.cfg.poll_seconds)
            else:
                await self._leader_round()

    async def _setup(self) -> None:
        delay = self.cfg.poll_seconds
        while True:
            try:
                await self._db(self.store.setup, within=10)
                return
            except Exception as exc:  # the database is not there yet: a standby waits, it never leads blind
                self._db_failed("lease table", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _standby_round(self) -> None:
        try:
            got = await self._db(self.store.try_acquire, self.cfg.node, self.cfg.advertise_url,
                                 self.cfg.lease_seconds, within=self.cfg.lease_seconds)
            if got is not None:
                self._promote(got)
                return
            view = await self._db(self.store.read, within=self.cfg.lease_seconds)
        except Exception as exc:
            self._db_failed("lease", exc)
            return
        self.view = view
        if view.live and view.holder != self.cfg.node:
            self.leader_seen_at = self.now()
            self.witness.forget_before(self.leader_seen_at - FLUSH_SLACK * 6)

    def _promote(self, got: Acquired) -> None:
        self.term = Term.starting(got.epoch, got.sent_at, self.cfg.lease_seconds, self.cfg.margin_seconds)
        self.role = Role.LEADER
        self.previous_holder = got.previous
        self.took_over_at = self.now()
        self._taken_mono = self.clock()
        self.stats.terms += 1
        if got.previous and got.previous != self.cfg.node:
            self.stats.takeovers += 1
        log.warning("ha: node %s leads (epoch %d, after %s)", self.cfg.node, got.epoch, got.previous or "nobody")
        self.on_promote()

    async def _leader_round(self) -> None:
        term = self.term
        assert term is not None
        await asyncio.sleep(self.cfg.renew_seconds)
        try:
            # No shorter wait: the fence is by the clock already, and a renewal that succeeds late still counts
            # from when it was sent (a stalled loop here must not cost a term the database still grants).
            sent = await self._db(self.store.renew, self.cfg.node, term.epoch, self.cfg.lease_seconds,
                                  within=self.cfg.lease_seconds)
        except Exception as exc:
            self._db_failed("lease renewal", exc)
            if self.clock() >= term.deadline:
                self.step_down("the lease could not be renewed before its deadline")
            return
        if sent is None:
            self.step_down("the lease is no longer this node's")
            return
        if self.clock() >= term.deadline:
            log.warning("ha: node %s was fenced for %.2f s (renewal late), acting again", self.cfg.node,
                        self.clock() - term.deadline)
        term.extend(sent, self.cfg.lease_seconds, self.cfg.margin_seconds)
        self.stats.renewals += 1

    def step_down(self, why: str) -> None:
        if self.role is not Role.LEADER:
            return
        if self.term is not None:
            self.term.deadline = float("-inf")  # fenced now, whatever the clock says
        self.role = Role.STEPPED_DOWN
        log.error("ha: node %s steps down (epoch %d): %s", self.cfg.node, self.epoch, why)
        self.on_step_down()

    # ---- the takeover (called by the daemon's resync, in order with the AMI events)
    async def before_resync(self, resync: ResyncState, in_store: Callable[[str], bool]) -> bool:
        """False on a standby (no resync). On the first resync of a term: hand the witness's recent hang-ups
        to the resync (``restored``), keeping only the calls the store does not have yet."""
        if self.role is not Role.LEADER:
            return False
        if not self.events_to_flow:
            self.events_to_flow = True
            restored = resync.restored
            since = self.leader_seen_at - FLUSH_SLACK if self.leader_seen_at is not None else None
            handed: dict[str, CallEntry] = {**self.witness.ended_since(since), **restored}
            keep = await asyncio.to_thread(lambda: {c: e for c, e in handed.items() if not in_store(c)})
            restored.clear()
            restored.update(keep)
            if self.leader_seen_at is not None:
                # Another node led while this one watched: nothing began and ended unseen by both, so no CDR
                # scan back to this node's own last term (its journal's times) is needed, however old.
                resync.blind_since = None
            log.info("ha: taking over %d call(s) that ended lately without a record", len(keep))
        return True

    def after_resync(self) -> None:
        if self.role is Role.LEADER and self.stats.last_takeover_seconds is None:
            self.stats.last_takeover_seconds = self.clock() - self._taken_mono

    # ---- stop
    async def close(self) -> None:
        """A clean stop: fence, then give the lease back so that a standby takes over at once."""
        term, self.term = self.term, None
        if self.role is Role.LEADER and term is not None:
            self.role = Role.STEPPED_DOWN
            try:
                await self._db(self.store.release, self.cfg.node, term.epoch, within=2)
            except Exception as exc:
                self._db_failed("lease release", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.store.close)

    # ---- helpers
    async def _db(self, fn: Callable[..., T], *args: Any, within: float) -> T:
        # One worker thread: a renewal stuck on a dead network cannot pile up others behind it.
        fut = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        try:
            result = await asyncio.wait_for(fut, max(0.01, within))
        except Exception:
            self.db_up = False
            raise
        self.db_up = True
        return result

    def _db_failed(self, what: str, exc: BaseException) -> None:
        self.stats.lease_errors += 1
        # The message, not the URL: the driver's errors never carry the password, the URL would.
        log.warning("ha: %s failed: %s", what, type(exc).__name__ if isinstance(exc, TimeoutError) else exc)

    def report(self) -> Mapping[str, Any]:
        v = self.view
        leader = {"node": self.cfg.node, "url": self.cfg.advertise_url} if self.role is Role.LEADER else (
            {"node": v.holder, "url": v.url} if v is not None and v.live else None)
        return {"node": self.cfg.node, "role": self.role.value, "epoch": self.epoch, "leader": leader,
                "may_act": self.may_act()}
