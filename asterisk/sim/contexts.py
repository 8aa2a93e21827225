"""The dialplan contexts of extensions_callcenter.conf, one coroutine each, and the call loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asterisk.sim import model as ev
from asterisk.sim import transfer
from asterisk.sim.agi import run_agi
from asterisk.sim.dialplan import AgentGone, CallControl, CallRun, Hungup, Redirected, Transferred, fmt_num
from asterisk.sim.legs import end_agent, unbridge
from asterisk.sim.model import Bridge, Channel
from asterisk.sim.queue_app import app_queue
from asterisk.sim.truth import CallTruth, Offer

Location = tuple[str, str, int]


async def cc_incoming(run: CallRun, exten: str) -> Location | None:
    ch = run.chan
    if exten != "s":
        run.goto("cc-incoming", exten)
        run.app(1, "Set", f"CC_DNID={exten}")
        run.setvar("CC_DNID", exten)
        run.app(2, "Goto", "cc-incoming,s,1")
    run.goto("cc-incoming", "s")
    who = f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_name else f"<{ch.cid_num}>"
    run.app(1, "NoOp", f"incoming call {ch.name} from {who}")
    run.app(2, "Answer", "")
    run.answer()
    run.app(3, "Set", "CC_INCOMING=1")
    run.setvar("CC_INCOMING", "1")
    epoch = str(int(run.pbx.clock.epoch(run.vt)))
    run.app(4, "Set", f"CC_ENTERED={epoch}")
    run.setvar("CC_ENTERED", epoch)
    url = ch.getvar("CC_AGI_URL") or run.cfg.agi_url
    run.app(5, "AGI", url)
    status = await run_agi(run, url, survey=False)
    queue = ch.getvar("CC_QUEUE")
    run.truth.queue = queue
    run.app(6, "NoOp", f"AGISTATUS={status} CC_QUEUE={queue}")
    # The daemon has the call when its IVR set CC_QUEUE; AGISTATUS is FAILURE after a prompt that did not play too.
    run.app(7, "GotoIf", f"{int(queue == '')}?cc-fallback,s,1")
    if not queue:
        return ("cc-fallback", "s", 1)
    run.app(8, "Goto", "cc-hold,s,1")
    return ("cc-hold", "s", 1)


async def cc_hold(run: CallRun, exten: str) -> Location | None:
    ch = run.chan
    run.goto("cc-hold", "s")
    run.stage = "hold"
    run.answer()
    t = run.truth
    t.reached_hold = True
    t.hold_count += 1
    if t.hold_at is None:
        t.hold_at = run.pbx.clock.at(run.vt)
    run.app(1, "Set", "CC_HOLD=1")
    run.setvar("CC_HOLD", "1")
    queue = ch.getvar("CC_QUEUE")
    run.app(2, "UserEvent", f"CcHold,Uniqueid: {ch.uniqueid},Queue: {queue}")
    run.emit(ev.user_event(ch, "CcHold", [("Uniqueid", ch.uniqueid), ("Queue", queue)]))
    hold_max = _seconds(ch.getvar("CC_HOLD_MAX"), run.cfg.hold_max)
    run.app(3, "MusicOnHold", f"default,{fmt_num(hold_max)}")
    run.emit(ev.moh_start(ch))
    try:
        await run.pause(hold_max)
    finally:
        run.emit(ev.moh_stop(ch))
    run.app(4, "UserEvent", f"CcHoldTimeout,Uniqueid: {ch.uniqueid}")
    run.emit(ev.user_event(ch, "CcHoldTimeout", [("Uniqueid", ch.uniqueid)]))
    run.app(5, "Goto", "cc-fallback,s,1")
    return ("cc-fallback", "s", 1)


async def cc_route(run: CallRun, exten: str) -> Location | None:
    ch = run.chan
    run.goto("cc-route", exten)
    run.stage = "route"
    endpoint = ch.getvar("CC_AGENT_ENDPOINT")
    run.app(1, "NoOp", f"routing {ch.name} to agent {exten} at {endpoint}")
    run.app(2, "Set", f"CC_AGENT={exten}")
    run.setvar("CC_AGENT", exten)
    timeout = _seconds(ch.getvar("CC_RING_TIMEOUT"), run.cfg.ring_timeout)
    run.app(3, "Dial", f"{endpoint},{fmt_num(timeout)},g")
    status = await dial(run, exten, endpoint, timeout)
    run.stage = "route"
    run.app(4, "UserEvent", f"CcRouteResult,Agent: {exten},DialStatus: {status}")
    run.emit(ev.user_event(ch, "CcRouteResult", [("Agent", exten), ("DialStatus", status)]))
    answered = status == "ANSWER"
    run.app(5, "GotoIf", f"{int(answered)}?cc-survey,s,1")
    if answered:
        return ("cc-survey", "s", 1)
    run.app(6, "Goto", "cc-hold,s,1")
    return ("cc-hold", "s", 1)


async def cc_survey(run: CallRun, exten: str) -> Location | None:
    run.goto("cc-survey", "s")
    run.stage = "survey"
    url = (run.chan.getvar("CC_AGI_URL") or run.cfg.agi_url) + "/survey"
    run.app(1, "AGI", url)
    await run_agi(run, url, survey=True)
    run.app(2, "Hangup", "")
    raise Hungup("dialplan", 16)


async def cc_fallback(run: CallRun, exten: str) -> Location | None:
    ch = run.chan
    run.goto("cc-fallback", "s")
    run.stage = "fallback"
    run.app(1, "UserEvent", f"CcFallback,Uniqueid: {ch.uniqueid}")
    run.emit(ev.user_event(ch, "CcFallback", [("Uniqueid", ch.uniqueid)]))
    queue = ch.getvar("CC_FALLBACK_QUEUE") or "cc-fallback"
    run.app(2, "Queue", f"{queue},c,,,300")
    if run.cfg.fallback_members:
        await app_queue(run, queue, run.cfg.fallback_members, 300.0, dial)
    else:  # no members configured: the caller waits a while, then the call ends
        await run.pause(run.cfg.fallback_wait)
    run.app(3, "Hangup", "")
    raise Hungup("dialplan", 16)


async def cc_voicemail(run: CallRun, exten: str) -> Location | None:
    """The ACD's fallback: the caller leaves a message (the recording itself is not simulated)."""
    return await _fallback_action(run, "cc-voicemail", "voicemail", "VoiceMail", "${CC_VOICEMAIL_BOX},u")


async def cc_callback(run: CallRun, exten: str) -> Location | None:
    """The ACD's fallback: the caller hears that the centre will call back, then the call ends."""
    return await _fallback_action(run, "cc-callback", "callback", "Playback", "callcenter/callback-offer")


async def _fallback_action(run: CallRun, context: str, action: str, app: str, data: str) -> Location | None:
    ch = run.chan
    run.goto(context, "s")
    run.stage = "fallback"
    run.app(1, "UserEvent", f"CcFallback,Uniqueid: {ch.uniqueid},Action: {action}")
    run.emit(ev.user_event(ch, "CcFallback", [("Uniqueid", ch.uniqueid), ("Action", action)]))
    run.app(2, app, data)
    await run.pause(run.cfg.fallback_wait, patient=False)
    run.app(3, "Hangup", "")
    raise Hungup("dialplan", 16)


CONTEXTS: dict[str, Callable[[CallRun, str], Awaitable[Location | None]]] = {
    "cc-incoming": cc_incoming,
    "cc-hold": cc_hold,
    "cc-route": cc_route,
    "cc-survey": cc_survey,
    "cc-fallback": cc_fallback,
    "cc-voicemail": cc_voicemail,
    "cc-callback": cc_callback,
    "cc-transfer": transfer.cc_transfer,
}
#: contexts whose extensions are not just ``s``: each handler checks its own
EXTEN_CONTEXTS = frozenset({"cc-route", "cc-incoming", "cc-transfer"})


async def run_call(run: CallRun) -> CallTruth:
    """Run the caller's channel through the dialplan until it hangs up; end it exactly once."""
    loc: Location | None = (run.entry, run.chan.exten, 1)
    try:
        try:
            while loc is not None:
                context, exten, _priority = loc
                handler = CONTEXTS.get(context)
                if handler is None or (context not in EXTEN_CONTEXTS and exten != "s"):
                    # Asterisk hangs up a channel sent to an extension that does not exist.
                    run.goto(context, exten)
                    raise Hungup("dialplan", 16)
                try:
                    loc = await handler(run, exten)
                except Redirected as r:
                    loc = (r.context, r.exten, r.priority)
        except Hungup as h:
            run.finish(h)
        except AgentGone:  # the agent leg went away outside a Dial: nothing left to do
            run.finish(Hungup("dialplan", 16))
    finally:
        if not run.chan.hungup:  # cancelled: the simulator is shutting down after an error
            run.finish(Hungup("shutdown", 16))
        run.done.set()
    return run.truth


def _seconds(value: str, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


# ---- Dial() of an agent phone


async def dial(run: CallRun, agent: str, endpoint: str, ring_s: float,
               on_answer: Callable[[Channel], None] | None = None) -> str:
    """Dial() of one phone; ``on_answer(agent leg)`` runs when it answers, before the bridge (app_queue's
    AgentConnect comes there)."""
    caller = run.chan
    offer = Offer(agent=agent, endpoint=endpoint, at=run.pbx.clock.at(run.vt),
                  device_busy=run.pbx.device_busy(endpoint), by_fallback=on_answer is not None)
    run.truth.offers.append(offer)
    for name in DIAL_VARS:
        run.setvar(name, "")
    if "/" not in endpoint:
        offer.result = "CHANUNAVAIL"
        run.setvar("DIALSTATUS", "CHANUNAVAIL")
        return "CHANUNAVAIL"
    _tech, resource = endpoint.split("/", 1)
    what, delay = run.decide(endpoint)
    pbx = run.pbx
    uid = pbx.new_uniqueid(run.vt)
    agent_ch = Channel(
        name=pbx.new_channel_name(endpoint),
        uniqueid=uid,
        linkedid=caller.linkedid,
        context="cc-agents",
        exten="s",
        created_at=run.vt,
    )
    run.agent = agent_ch
    pbx.add(agent_ch, run)
    run.emit(ev.newchannel(agent_ch))
    pbx.cel(agent_ch, run.vt, "CHAN_START")
    run.setvar("DIALEDPEERNUMBER", resource, agent_ch)
    run.emit(ev.newexten(agent_ch, "AppDial", "(Outgoing Line)"))
    agent_ch.cid_num, agent_ch.cid_name = agent, caller.cid_name
    run.emit(ev.newcallerid(agent_ch))
    agent_ch.conn_num, agent_ch.conn_name = caller.cid_num, caller.cid_name
    run.emit(ev.newconnectedline(agent_ch))
    run.emit(ev.dial_begin(caller, agent_ch, resource))
    dial_vt = run.vt
    try:
        status = await _ring(run, agent_ch, what, delay, ring_s, resource, on_answer)
    except Transferred:
        offer.result = "ANSWER"  # answered, then transferred or parked: the Dial never returns
        raise
    except (Hungup, Redirected):
        offer.result = "CANCEL"
        raise
    finally:
        run.agent = None
    offer.result = status
    if status == "ANSWER":
        secs = run.vt - dial_vt
        run.setvar("ANSWEREDTIME", str(int(run.vt - (agent_ch.answered_at or run.vt))))
        run.setvar("ANSWEREDTIME_MS", str(int((run.vt - (agent_ch.answered_at or run.vt)) * 1000)))
        run.setvar("DIALEDTIME", str(int(secs)))
        run.setvar("DIALEDTIME_MS", str(int(secs * 1000)))
    run.setvar("DIALSTATUS", status)
    return status


async def _ring(
    run: CallRun, agent_ch: Channel, what: str, delay: float, ring_s: float, resource: str,
    on_answer: Callable[[Channel], None] | None = None,
) -> str:
    caller = run.chan
    if what == "busy":
        try:
            await run.pause(0.2)
        except (Hungup, Redirected):
            run.emit(ev.dial_end(caller, agent_ch, "CANCEL"))
            end_agent(run, agent_ch, 16, "NO ANSWER")
            run.setvar("DIALSTATUS", "CANCEL")
            raise
        except AgentGone:
            pass
        run.emit(ev.dial_end(caller, agent_ch, "BUSY"))
        end_agent(run, agent_ch, 17, "BUSY")
        return "BUSY"
    run.stage = "ringing"
    agent_ch.state = ev.STATE_RINGING
    run.emit(ev.newstate(agent_ch))
    run.setvar("RINGTIME", "0")
    run.setvar("RINGTIME_MS", "0")
    run.emit(ev.dial_state(caller, agent_ch, "RINGING"))
    answers = what == "answer" and delay < ring_s
    try:
        await run.pause(delay if answers else ring_s)
    except (Hungup, Redirected):
        run.emit(ev.dial_end(caller, agent_ch, "CANCEL"))
        end_agent(run, agent_ch, 16, "NO ANSWER")
        run.setvar("DIALSTATUS", "CANCEL")
        raise
    except AgentGone as gone:  # the phone rejected the call (AMI Hangup of the ringing leg)
        run.emit(ev.dial_end(caller, agent_ch, "NOANSWER"))
        end_agent(run, agent_ch, gone.cause, "NO ANSWER")
        return "NOANSWER"
    if not answers:
        run.emit(ev.dial_end(caller, agent_ch, "NOANSWER"))
        end_agent(run, agent_ch, 0, "NO ANSWER")
        return "NOANSWER"
    return await _talk(run, agent_ch, resource, on_answer)


async def _talk(run: CallRun, agent_ch: Channel, resource: str,
                on_answer: Callable[[Channel], None] | None = None) -> str:
    caller = run.chan
    agent_ch.state = ev.STATE_UP
    agent_ch.answered_at = run.vt
    run.emit(ev.newstate(agent_ch))
    run.pbx.cel(agent_ch, run.vt, "ANSWER")
    run.setvar("DIALSTATUS", "ANSWER")
    run.setvar("DIALEDPEERNAME", agent_ch.name)
    run.setvar("DIALEDPEERNUMBER", resource)
    run.emit(ev.dial_end(caller, agent_ch, "ANSWER"))
    if on_answer is not None:
        on_answer(agent_ch)
    run.connected = True
    run.stage = "talk"
    t = run.truth
    t.answered_by = run.chan.getvar("CC_AGENT") or resource
    t.answered_at = run.pbx.clock.at(run.vt)
    run.last_peer = agent_ch.name
    br = Bridge(run.pbx.new_bridge_id())
    run.emit(ev.bridge_create(br))
    run.emit(ev.newexten(agent_ch, "AppDial", "(Outgoing Line)"))
    for ch in (agent_ch, caller):
        br.channels.append(ch)
        ch.bridge = br
        run.emit(ev.bridge_enter(br, ch))
    run.setvar("BRIDGEPEER", caller.name, agent_ch)
    run.setvar("BRIDGEPEER", agent_ch.name, caller)
    try:
        await run.pause(run.script.talk, patient=False)
        if run.script.caller_hangs_up:
            raise run.abandon()
    except AgentGone as gone:
        unbridge(run, br, agent_ch, caller, agent_first=True, cause=gone.cause, soft=True)
        return "ANSWER"
    except CallControl as cc:
        return await transfer.control(run, br, agent_ch, cc.pending)
    except (Hungup, Redirected):
        unbridge(run, br, agent_ch, caller, agent_first=False, cause=16, soft=True)
        raise
    run.emit(ev.hangup_request(agent_ch, 16))
    unbridge(run, br, agent_ch, caller, agent_first=True, cause=16, soft=False)
    return "ANSWER"


DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)
