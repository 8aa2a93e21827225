"""The call flow's commands -> AMI actions: ring an agent (Setvar + Redirect), send a caller to a dialplan
context (Redirect). A few worker tasks take them from one queue, so a slow action never holds the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from asterisk.ami.client import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout
from callcenter.callflow import CallFlow, DaemonStats, OfferClock, Outgoing, RedirectCaller
from queueing import OfferCall

log = logging.getLogger("callcenter.daemon")

AMI_WORKERS = 4


class SyncGate(Protocol):
    """The resync's state as the executor needs it (callcenter/resync/runner.py ``Resyncer``)."""

    synced: asyncio.Event
    generation: int


class AmiExecutor:
    def __init__(self, ami: AmiClient, flow: CallFlow, gate: SyncGate, *, action_timeout: float,
                 stats: DaemonStats, now: Callable[[], datetime]) -> None:
        self.ami, self.flow, self.gate = ami, flow, gate
        self.action_timeout, self.stats, self.now = action_timeout, stats, now
        self.offer_clock: OfferClock | None = None
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue()

    def submit(self, cmd: Outgoing) -> None:
        self._queue.put_nowait(cmd)

    async def worker(self) -> None:
        while True:
            cmd = await self._queue.get()
            if isinstance(cmd, RedirectCaller):
                await self._redirect(cmd)
            else:
                await self._offer(cmd)

    async def _offer(self, offer: OfferCall) -> None:
        try:
            if self.ami.stats.connected and not self.gate.synced.is_set():
                # Just logged in: the resync runs first, so that it sees no Redirect half-way.
                async with asyncio.timeout(self.action_timeout * 4):
                    await self.gate.synced.wait()
            self.flow.offer_sent(offer.call_id, self.gate.generation)
            await self._send_offer(offer)
        except (AmiActionError, AmiTimeout, AmiNotConnected, TimeoutError) as exc:
            self.stats.offer_action_failures += 1
            log.warning("offer of %s to agent %s failed: %s", offer.call_id, offer.agent_id, exc)
            self.flow.offer_not_sent(offer, self.now())

    async def _redirect(self, r: RedirectCaller) -> None:
        channel = self.flow.channel(r.call_id)
        if channel is None:
            return  # the caller hung up meanwhile
        try:
            await self.ami.action("Redirect", {"Channel": channel, "Context": r.context, "Exten": "s", "Priority": 1})
        except (AmiActionError, AmiTimeout, AmiNotConnected) as exc:
            # The caller stays on hold; the dialplan's CC_HOLD_MAX hands them to cc-fallback.
            self.stats.fallback_action_failures += 1
            log.warning("redirect of %s to %s failed: %s", r.call_id, r.context, exc)

    async def _send_offer(self, offer: OfferCall) -> None:
        channel = self.flow.channel(offer.call_id)
        if channel is None:
            return
        self.stats.offers_sent += 1

        async def redirect() -> None:
            if self.offer_clock is not None:
                self.offer_clock.sent(offer.call_id)
            await self.ami.action(
                "Redirect", {"Channel": channel, "Context": "cc-route", "Exten": offer.agent_id, "Priority": 1}
            )

        # Setvar and Redirect are written back to back (tasks start in creation order) and awaited together:
        # Asterisk runs one session's actions in order, so the variable is set before the caller moves, and
        # the offer costs one AMI round trip instead of two (bench/e2e.py: the round trips were the limit).
        setvar = asyncio.ensure_future(self.ami.action(
            "Setvar",
            {"Channel": channel, "Variable": "CC_AGENT_ENDPOINT", "Value": self.flow.endpoints[offer.agent_id]},
        ))
        results = await asyncio.gather(setvar, asyncio.ensure_future(redirect()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
