"""Call control while an agent talks: AMI BlindTransfer, Atxfer and Park, and the contexts they lead to.

What Asterisk 22 does and the simulator copies (docs.asterisk.org, AMI_Actions and AMI_Events):
- BlindTransfer (Channel = the agent leg): the caller leaves the bridge for ``Context,Exten``; the agent leg is
  hung up; ``BlindTransfer`` (Result, Transferer*, Transferee*, Bridge*, IsExternal, Context, Extension).
  The caller's Dial never returns: the dialplan goes on at the transfer target, not at the next priority.
- Atxfer (Channel = the agent leg): the caller is held (``Hold``, ``MusicOnHoldStart``) while the agent calls
  ``Exten@Context`` through a Local channel; once the target answers and the agent has briefed it, the agent
  completes the transfer by hanging up: ``AttendedTransfer`` (DestType Bridge), the target takes the agent's
  place in the caller's bridge, the caller is taken off hold. The caller's Dial returns when the target ends.
- Park (Channel = the caller, TimeoutChannel = the agent leg): the caller is parked (``ParkedCall``, music);
  the agent leg leaves. After the timeout (``ParkedCallTimeOut``) the caller comes back to the same agent
  (comebacktoorigin=yes: the agent is rung again); a caller who hangs up while parked gives ``ParkedCallGiveUp``,
  and so does a parked caller taken out by AMI Redirect (res_parking's pull without a pickup or a timeout: the
  desk's 取回 sends the caller to [cc-route] to ring the agent again).

Which extensions exist in [cc-transfer] and [cc-handoff] is read from the shipped dialplan file itself.
"""

from __future__ import annotations

from asterisk.sim import model as ev
from asterisk.sim.dialplan import CallRun, Hungup, Redirected, Transferred
from asterisk.sim.legs import end_agent, unbridge
from asterisk.sim.model import Bridge, Channel
from asterisk.sim.pbx import Pending, shipped_extensions

TRANSFER_CONTEXT = "cc-transfer"
HANDOFF_CONTEXT = "cc-handoff"
PARKING_SPACE = 701

Location = tuple[str, str, int]


async def cc_transfer(run: CallRun, exten: str) -> Location | None:
    """[cc-transfer]: a department's hotline takes the caller; the simulator lets it talk, then ends the call."""
    if exten not in shipped_extensions(TRANSFER_CONTEXT):
        run.goto(TRANSFER_CONTEXT, exten)
        raise Hungup("dialplan", 16)  # Asterisk hangs up a channel sent to an extension that does not exist
    run.goto(TRANSFER_CONTEXT, exten)
    run.stage = "transfer"
    run.app(1, "Set", f"CC_TRANSFER={exten}")
    run.setvar("CC_TRANSFER", exten)
    run.app(2, "Dial", f"${{CC_DEPT_{exten}}},60")
    await run.pause(run.cfg.transfer_talk, patient=False)
    run.app(3, "Hangup", "")
    raise Hungup("dialplan", 16)


async def control(run: CallRun, br: Bridge, agent_ch: Channel, p: Pending) -> str:
    """Carry out one call-control request for a bridged call; returns the Dial status or raises Transferred."""
    caller = run.chan
    t = run.truth
    if p.kind == "blindxfer":
        t.transfers.append(("BlindTransfer", p.context, p.exten))
        run.emit(ev.blind_transfer(agent_ch, caller, br, p.context, p.exten))
        unbridge(run, br, agent_ch, caller, agent_first=False, cause=16, soft=False)
        raise Transferred(p.context, p.exten, 1)
    if p.kind == "park":
        t.transfers.append(("Park", "parkedcalls", str(PARKING_SPACE)))
        unbridge(run, br, agent_ch, caller, agent_first=False, cause=16, soft=False)
        return await _parked(run, agent_ch, p)
    return await _handoff(run, br, agent_ch, p)


async def _parked(run: CallRun, agent_ch: Channel, p: Pending) -> str:
    caller = run.chan
    timeout = int(p.timeout)
    run.emit(ev.parked_call(caller, agent_ch.tech_peer, PARKING_SPACE, timeout))
    run.emit(ev.moh_start(caller))
    started = run.vt
    try:
        await run.pause(p.timeout, patient=False)
    except (Hungup, Redirected) as gone:
        run.emit(ev.moh_stop(caller))
        run.emit(ev.parked_call(caller, agent_ch.tech_peer, PARKING_SPACE, timeout, "ParkedCallGiveUp",
                                int(run.vt - started)))
        if isinstance(gone, Redirected):  # the Dial that was answered never returns: its result stays ANSWER
            raise Transferred(gone.context, gone.exten, gone.priority) from None
        raise
    run.emit(ev.parked_call(caller, agent_ch.tech_peer, PARKING_SPACE, timeout, "ParkedCallTimeOut",
                            int(run.vt - started)))
    run.emit(ev.moh_stop(caller))
    # comebacktoorigin=yes: ring the agent who parked the call again.
    raise Transferred("cc-route", caller.getvar("CC_AGENT") or agent_ch.cid_num, 1)


async def _handoff(run: CallRun, br: Bridge, agent_ch: Channel, p: Pending) -> str:
    """Atxfer to the emergency line; returns ANSWER when the line ends the call with the caller."""
    caller = run.chan
    pbx = run.pbx
    if p.exten not in shipped_extensions(p.context):
        return "ANSWER"  # Asterisk plays the agent an "invalid" tone and the call goes on; the talk ended with it
    run.emit(ev.hold(caller))
    run.emit(ev.moh_start(caller))
    target = Channel(name=pbx.new_channel_name(f"Local/{p.exten}@{p.context}") + ";1",
                     uniqueid=pbx.new_uniqueid(run.vt), linkedid=agent_ch.linkedid, context=p.context,
                     exten=p.exten, created_at=run.vt, cid_num=agent_ch.cid_num, cid_name=agent_ch.cid_name)
    pbx.add(target, run)
    run.emit(ev.newchannel(target))
    pbx.cel(target, run.vt, "CHAN_START")
    run.emit(ev.dial_begin(agent_ch, target, f"{p.exten}@{p.context}"))
    target.state = ev.STATE_RINGING
    run.emit(ev.newstate(target))
    run.emit(ev.dial_state(agent_ch, target, "RINGING"))
    in_bridge = False
    try:
        await run.pause(run.cfg.handoff_answer, patient=False)
        target.state, target.answered_at = ev.STATE_UP, run.vt
        run.emit(ev.newstate(target))
        run.emit(ev.dial_end(agent_ch, target, "ANSWER"))
        await run.pause(run.cfg.handoff_brief, patient=False)  # the agent briefs the emergency operator
        run.truth.transfers.append(("Atxfer", p.context, p.exten))
        run.emit(ev.attended_transfer(agent_ch, caller, br, agent_ch, target))
        br.channels.remove(agent_ch)
        agent_ch.bridge = None
        run.emit(ev.bridge_leave(br, agent_ch))
        run.emit(ev.soft_hangup_request(agent_ch, 16))
        end_agent(run, agent_ch, 16, "ANSWERED")
        br.channels.append(target)
        target.bridge = br
        in_bridge = True
        run.emit(ev.bridge_enter(br, target))
        run.emit(ev.moh_stop(caller))
        run.emit(ev.unhold(caller))
        await run.pause(run.cfg.transfer_talk, patient=False)
        run.emit(ev.hangup_request(target, 16))  # the emergency line ends the call
    except Hungup:
        _close(run, br, target, agent_ch, in_bridge)
        raise
    _close(run, br, target, agent_ch, in_bridge)
    return "ANSWER"


def _close(run: CallRun, br: Bridge, target: Channel, agent_ch: Channel, in_bridge: bool) -> None:
    """Take down the hand-off: every channel left in the caller's bridge but the caller, then the bridge."""
    caller = run.chan
    for ch in list(br.channels):
        br.channels.remove(ch)
        ch.bridge = None
        run.emit(ev.bridge_leave(br, ch))
        if ch is not caller:
            end_agent(run, ch, 16, "ANSWERED")
    if not in_bridge and not target.hungup:
        run.emit(ev.dial_end(agent_ch, target, "CANCEL"))
        end_agent(run, target, 16, "NO ANSWER")
    run.emit(ev.bridge_destroy(br))
