"""One call through the shipped dialplan (asterisk/conf/extensions_callcenter.conf).

cc-incoming -> AGI -> cc-hold (CcHold, music) -> [Redirect] cc-route (Dial the agent phone)
-> CcRouteResult -> cc-survey (answered) or back to cc-hold; cc-fallback when the daemon is away.

Every wait goes through :meth:`CallRun.pause`, which moves the call's simulated time, lets the
caller give up when their patience runs out, and delivers outside requests (AMI Redirect/Hangup).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Awaitable

from asterisk.sim import model as ev
from asterisk.sim.config import CallScript, SimConfig
from asterisk.sim.model import Channel
from asterisk.sim.pbx import Pbx, Pending
from asterisk.sim.truth import CallTruth, Outcome

#: simulated seconds between two keys a caller presses, and how long a key is held
DTMF_GAP = 0.25
DTMF_LEN = 0.1
#: real seconds the simulated time of a call may lag behind the real clock before it catches up
CLOCK_SLACK = 0.02


class Hungup(Exception):
    """The caller's channel is gone; ``by`` says who ended it."""

    def __init__(self, by: str, cause: int = 16) -> None:
        super().__init__(by)
        self.by = by
        self.cause = cause


class Redirected(Exception):
    def __init__(self, context: str, exten: str, priority: int) -> None:
        super().__init__(f"{context},{exten},{priority}")
        self.context = context
        self.exten = exten
        self.priority = priority


class Transferred(Redirected):
    """The caller leaves the agent's bridge for another place in the dialplan (BlindTransfer, Park comeback)."""


class CallControl(Exception):
    """An AMI call-control request (BlindTransfer, Atxfer, Park) for the call while it is bridged."""

    def __init__(self, pending: Pending) -> None:
        super().__init__(pending.kind)
        self.pending = pending


CONTROL_KINDS = frozenset({"blindxfer", "atxfer", "park"})


class AgentGone(Exception):
    def __init__(self, cause: int) -> None:
        super().__init__(cause)
        self.cause = cause


def fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class CallRun:
    def __init__(
        self, pbx: Pbx, script: CallScript, index: int, vt: float, *, context: str = "cc-incoming"
    ) -> None:
        cfg = pbx.config
        self.pbx = pbx
        self.cfg: SimConfig = cfg
        self.script = script
        self.index = index
        self.vt = vt
        self.entry = context
        self.patience_at = vt + script.patience
        self.connected = False
        self.stage = "ivr"
        self.inputs: deque[str] = deque(script.dtmf)
        self.survey_inputs: deque[str] = deque(script.survey)
        self.inbox: deque[Pending] = deque()
        self.wake = asyncio.Event()
        self.agent: Channel | None = None
        self.done = asyncio.Event()
        self._offers = 0
        #: the agent channel the caller was last bridged with (Cdr DestinationChannel)
        self.last_peer = ""
        exten = cfg.dnid if context == "cc-incoming" else "s"
        uid = pbx.new_uniqueid(vt)
        self.chan = Channel(
            name=pbx.new_channel_name(f"PJSIP/{cfg.trunk}"),
            uniqueid=uid,
            linkedid=uid,
            context=context,
            exten=exten,
            state=ev.STATE_RING,
            cid_num=script.caller,
            cid_name=script.caller_name,
            created_at=vt,
        )
        self.truth = CallTruth(
            uniqueid=uid,
            linkedid=uid,
            channel=self.chan.name,
            caller=script.caller,
            caller_name=script.caller_name,
            arrived_at=pbx.clock.at(vt),
        )
        pbx.add(self.chan, self)
        self.emit(ev.newchannel(self.chan))
        pbx.cel(self.chan, vt, "CHAN_START")

    # ---- plumbing
    def emit(self, headers: ev.Headers) -> None:
        self.pbx.emit(headers)

    def post(self, pending: Pending) -> None:
        self.inbox.append(pending)
        self.wake.set()

    def app(self, priority: int, app: str, data: str) -> None:
        ch = self.chan
        ch.priority, ch.app, ch.appdata = priority, app, data
        self.emit(ev.newexten(ch, app, data))

    def setvar(self, name: str, value: str, ch: Channel | None = None) -> None:
        ch = ch or self.chan
        ch.variables[name] = value
        self.emit(ev.varset(ch, name, value))

    def goto(self, context: str, exten: str) -> None:
        self.chan.context, self.chan.exten = context, exten

    def at(self) -> object:
        return self.pbx.clock.at(self.vt)

    def _catch_up(self) -> None:
        now = self.pbx.clock.elapsed()
        if now - self.vt > CLOCK_SLACK * self.pbx.clock.speed:
            self.vt = now

    def _take_pending(self) -> Pending | None:
        if not self.inbox:
            self.wake.clear()
            return None
        p = self.inbox.popleft()
        if not self.inbox:
            self.wake.clear()
        return p

    def raise_pending(self) -> None:
        """Turn an outside request into the exception the dialplan reacts to."""
        while (p := self._take_pending()) is not None:
            if p.kind in CONTROL_KINDS:
                if self.chan.bridge is not None and not p.channel.hungup:
                    raise CallControl(p)
                continue  # the bridge is gone already: nothing left to transfer
            if p.channel is self.chan:
                if p.kind == "redirect":
                    raise Redirected(p.context, p.exten, p.priority)
                self.emit(ev.soft_hangup_request(self.chan, p.cause))
                raise Hungup(p.by, p.cause)
            if p.channel is self.agent and p.kind == "hangup":
                self.emit(ev.soft_hangup_request(p.channel, p.cause))
                raise AgentGone(p.cause)
            # a request for a channel that is already gone: nothing to do

    def abandon(self) -> Hungup:
        """The caller's patience ran out: their phone hangs up."""
        self.emit(ev.hangup_request(self.chan, 16))
        return Hungup("caller", 16)

    async def pause(self, seconds: float, *, patient: bool = True) -> None:
        """Wait ``seconds`` of simulated time; may raise Hungup, Redirected or AgentGone."""
        if self.inbox:
            self.raise_pending()
        self._catch_up()
        target = self.vt + seconds
        gives_up = patient and not self.connected and self.patience_at < target
        limit = self.patience_at if gives_up else target
        limit = max(limit, self.vt)
        woke = False
        if math.isfinite(limit):
            try:
                async with asyncio.timeout_at(self.pbx.clock.real(limit)):
                    await self.wake.wait()
                woke = True
            except TimeoutError:
                woke = False
        else:
            await self.wake.wait()
            woke = True
        if woke:
            self.vt = min(max(self.vt, self.pbx.clock.elapsed()), limit)
            self.raise_pending()
            # woken with nothing pending (already handled): wait out the rest
            await self.pause(target - self.vt, patient=patient)
            return
        self.vt = limit
        if gives_up:
            raise self.abandon()

    async def race(self, aw: Awaitable[bytes], *, dead_timeout: float | None = None) -> bytes:
        """Wait for ``aw`` (real time) while the caller may give up or an AMI request may arrive."""
        task = asyncio.ensure_future(aw)
        try:
            if dead_timeout is not None:
                try:
                    async with asyncio.timeout(dead_timeout):
                        return await task
                except TimeoutError:
                    return b""
            while True:
                if self.inbox:
                    self.raise_pending()
                waiter = asyncio.ensure_future(self.wake.wait())
                timeout = None
                if not self.connected:
                    timeout = max(
                        0.0, self.pbx.clock.real(self.patience_at) - asyncio.get_running_loop().time()
                    )
                try:
                    done, _ = await asyncio.wait(
                        {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
                    await asyncio.gather(waiter, return_exceptions=True)
                if task in done:
                    return task.result()
                if not done:
                    self.vt = max(self.vt, self.patience_at)
                    raise self.abandon()
                self.vt = max(self.vt, min(self.pbx.clock.elapsed(), self.patience_at))
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ---- the end of the call
    def finish(self, h: Hungup) -> None:
        ch = self.chan
        if ch.hungup:
            return
        if h.by == "dialplan":
            self.emit(ev.soft_hangup_request(ch, h.cause))
        ch.hungup = True
        if self.cfg.emit_cdr:
            self.emit_cdr(ch, self.last_peer)
        self.emit(ev.hangup(ch, h.cause))
        self.pbx.cel(
            ch, self.vt, "HANGUP", extra=f'{{"hangupcause":{h.cause},"hangupsource":"","dialstatus":""}}'
        )
        self.pbx.cel(ch, self.vt, "CHAN_END")
        self.pbx.remove(ch)
        self.truth.finish(self.outcome(h.by), self.pbx.clock.at(self.vt), h.by)

    def outcome(self, by: str) -> Outcome:
        if self.truth.answered_by:
            return "answered"
        if self.stage == "fallback" or (self.stage == "fallback_queue" and by != "caller"):
            return "fallback"
        if by == "caller":
            if self.stage == "ivr":
                return "abandoned_ivr"
            if self.stage == "ringing":
                return "abandoned_ringing"
            return "abandoned_queue"
        return "failed"

    def emit_cdr(
        self, ch: Channel, dchannel: str, *, disposition: str = "ANSWERED", source: str | None = None
    ) -> None:
        start = ch.created_at
        answer = ch.answered_at
        dur = int(self.vt - start)
        bill = int(self.vt - answer) if answer is not None else 0
        callerid = (
            f'"{self.chan.cid_name}" <{self.chan.cid_num}>'
            if self.chan.cid_name
            else f"<{self.chan.cid_num}>"
        )
        self.emit(
            ev.cdr(
                source=source if source is not None else self.chan.cid_num,
                destination=ch.exten,
                dcontext=ch.context,
                callerid=callerid,
                channel=ch.name,
                dchannel=dchannel,
                lastapp=ch.app,
                lastdata=ch.appdata,
                start=self.pbx.stamp(start),
                answer=self.pbx.stamp(answer) if answer is not None else "",
                end=self.pbx.stamp(self.vt),
                duration=dur,
                billsec=bill,
                disposition=disposition if answer is not None or disposition != "ANSWERED" else "NO ANSWER",
                uniqueid=ch.uniqueid,
            )
        )

    def answer(self) -> None:
        ch = self.chan
        if ch.state != ev.STATE_UP:
            ch.state = ev.STATE_UP
            ch.answered_at = self.vt
            self.emit(ev.newstate(ch))
            self.pbx.cel(ch, self.vt, "ANSWER")

    # ---- agent phones
    def decide(self, endpoint: str) -> tuple[str, float]:
        """(busy|noanswer|answer, answer delay) for this offer, seeded per call and offer."""
        self._offers += 1
        beh = self.cfg.endpoint(endpoint)
        rng = random.Random(f"{self.cfg.seed}:{self.index}:{self._offers}")
        r = rng.random()
        delay = (
            beh.answer_delay * math.exp(rng.gauss(0.0, beh.answer_delay_sigma))
            if beh.answer_delay_sigma
            else beh.answer_delay
        )
        if r < beh.busy_rate:
            return "busy", 0.0
        if r < beh.busy_rate + beh.no_answer_rate:
            return "noanswer", 0.0
        return "answer", delay
