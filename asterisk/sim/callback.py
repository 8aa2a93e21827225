"""A callback (预约回电) Originate as Asterisk 22 runs it: the agent's phone is dialled first; once it answers,
[cc-callback-dial] (asterisk/conf/extensions_callcenter.conf) dials the citizen through CC_CALLBACK_DIAL and
bridges them.

The order of events follows a recording from the real Asterisk 22.10.1 (tests/data/ami-callback-originate.txt):

    agent answers:   Newchannel, DialBegin (no caller: only Dest*), Newstate Ringing, DialState RINGING,
                     Newstate Up, DialEnd ANSWER, OriginateResponse Success (Reason 4, the agent channel),
                     UserEvent CcCallbackAgent, then Dial of the citizen (DialBegin/DialState/DialEnd with the
                     agent as Channel), BridgeEnter of both on ANSWER; UserEvent CcCallbackResult from the
                     h extension (DialStatus, Talk = ANSWEREDTIME), Hangup of the agent
    agent no answer: ... DialState RINGING, OriginateResponse Failure (Reason 3, Channel = the dial string
                     as given, Uniqueid <unknown>), Hangup cause 19
    agent busy:      OriginateResponse Failure (Reason 5), Hangup cause 17

The agent's and the citizen's phones behave as ``SimConfig.endpoint(dial string)`` says (answer delay,
no-answer and busy rates); the citizen talks ``SimConfig.callback_talk`` seconds.
"""

from __future__ import annotations

import asyncio
import random

from asterisk.ami.codec import Message
from asterisk.sim import model as ev
from asterisk.sim.model import Bridge, Channel
from asterisk.sim.pbx import Pbx

CONTEXT = "cc-callback-dial"


def _variables(msg: Message) -> dict[str, str]:
    return dict(v.split("=", 1) for v in msg.getall("Variable") if "=" in v)


def _decide(pbx: Pbx, dial: str, n: int) -> tuple[str, float]:
    beh = pbx.config.endpoint(dial)
    r = random.Random(f"{pbx.config.seed}:callback:{dial}:{n}").random()
    if r < beh.busy_rate:
        return "busy", 0.0
    if r < beh.busy_rate + beh.no_answer_rate:
        return "noanswer", 0.0
    return "answer", beh.answer_delay


class CallbackOriginate:
    """One Originate of an agent's endpoint into [cc-callback-dial]."""

    _count = 0

    def __init__(self, pbx: Pbx, msg: Message, action_id: str | None) -> None:
        self.pbx, self.action_id = pbx, action_id
        self.dial = msg.get("Channel") or ""
        self.timeout = float(msg.get("Timeout") or "30000") / 1000
        self.vars = _variables(msg)
        CallbackOriginate._count += 1
        self.n = CallbackOriginate._count

    def _channel(self, device: str, context: str, exten: str) -> Channel:
        vt = self.pbx.clock.elapsed()
        uid = self.pbx.new_uniqueid(vt)
        ch = Channel(name=self.pbx.new_channel_name(device), uniqueid=uid, linkedid=uid, context=context,
                     exten=exten, created_at=vt)
        self.pbx.add(ch, None)
        self.pbx.emit(ev.newchannel(ch))
        return ch

    def _state(self, ch: Channel, state: int) -> None:
        ch.state = state
        if state == ev.STATE_UP:
            ch.answered_at = self.pbx.clock.elapsed()
        self.pbx.emit(ev.newstate(ch))

    def _hangup(self, ch: Channel, cause: int) -> None:
        if not ch.hungup:
            ch.hungup = True
            self.pbx.emit(ev.hangup(ch, cause))
            self.pbx.remove(ch)

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.pbx.config.speed)

    async def run(self) -> None:
        agent = self._channel(self.dial, CONTEXT, "s")
        dest_only = ev.snapshot(agent, "Dest")
        self.pbx.emit(ev.event("DialBegin", "call", dest_only, [("DialString", self.dial.split("/", 1)[-1])]))
        what, delay = _decide(self.pbx, self.dial, self.n)
        if what == "busy":
            self._failed(agent, 5, 17)
            return
        self._state(agent, ev.STATE_RINGING)
        self.pbx.emit(ev.event("DialState", "call", ev.snapshot(agent, "Dest"), [("DialStatus", "RINGING")]))
        if what == "noanswer" or delay >= self.timeout:
            await self._sleep(self.timeout)
            self._failed(agent, 3, 19)
            return
        await self._sleep(delay)
        self._state(agent, ev.STATE_UP)
        self.pbx.emit(ev.event("DialEnd", "call", ev.snapshot(agent, "Dest"), [("DialStatus", "ANSWER")]))
        self.pbx.emit(ev.originate_response(self.action_id, True, agent.name, CONTEXT, "s", 4, agent.uniqueid,
                                            agent.cid_num, agent.cid_name))
        cb = self.vars.get("CC_CALLBACK_ID", "")
        self.pbx.emit(ev.user_event(agent, "CcCallbackAgent",
                                    [("Callback", cb), ("Agent", self.vars.get("CC_CALLBACK_AGENT", ""))]))
        status, talk = await self._dial_citizen(agent)
        self.pbx.emit(ev.soft_hangup_request(agent, 16))
        self.pbx.emit(ev.user_event(agent, "CcCallbackResult",
                                    [("Callback", cb), ("DialStatus", status), ("Talk", talk)]))
        self._hangup(agent, 16)

    def _failed(self, agent: Channel, reason: int, cause: int) -> None:
        self.pbx.emit(ev.originate_response(self.action_id, False, self.dial, CONTEXT, "s", reason, "<unknown>",
                                            "", ""))
        self._hangup(agent, cause)

    async def _dial_citizen(self, agent: Channel) -> tuple[str, str]:
        dial = self.vars.get("CC_CALLBACK_DIAL", "")
        ring = float(self.vars.get("CC_CALLBACK_RING") or "30")
        device, _, _ = dial.partition("@")
        citizen = self._channel(device or dial, "cc-callback-out", device.rsplit("/", 1)[-1])
        self.pbx.emit(ev.dial_begin(agent, citizen, dial.split("/", 1)[-1]))
        what, delay = _decide(self.pbx, dial, self.n)
        if what != "answer" or delay > 0:  # a phone that answers at once never says it rings (as recorded)
            self._state(citizen, ev.STATE_RINGING)
            self.pbx.emit(ev.dial_state(agent, citizen, "RINGING"))
        if what == "busy":
            self.pbx.emit(ev.dial_end(agent, citizen, "BUSY"))
            self._hangup(citizen, 17)
            return "BUSY", ""
        if what == "noanswer" or delay >= ring:
            await self._sleep(ring)
            self.pbx.emit(ev.dial_end(agent, citizen, "NOANSWER"))
            self._hangup(citizen, 0)
            return "NOANSWER", ""
        await self._sleep(delay)
        self._state(citizen, ev.STATE_UP)
        self.pbx.emit(ev.dial_end(agent, citizen, "ANSWER"))
        br = Bridge(self.pbx.new_bridge_id())
        self.pbx.emit(ev.bridge_create(br))
        for ch in (citizen, agent):
            br.channels.append(ch)
            ch.bridge = br
            self.pbx.emit(ev.bridge_enter(br, ch))
        talk = self.pbx.config.callback_talk
        await self._sleep(talk)
        self._hangup(citizen, 16)
        for ch in (citizen, agent):
            br.channels.remove(ch)
            ch.bridge = None
            self.pbx.emit(ev.bridge_leave(br, ch))
        self.pbx.emit(ev.bridge_destroy(br))
        return "ANSWER", str(int(talk))
