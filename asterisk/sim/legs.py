"""Ending an agent's leg and taking a call's two legs out of their bridge, as Asterisk reports them.

Shared by the queue contexts (asterisk/sim/contexts.py) and call control (asterisk/sim/transfer.py), which
both import this module and not each other.
"""

from __future__ import annotations

from asterisk.sim import model as ev
from asterisk.sim.dialplan import CallRun
from asterisk.sim.model import Bridge, Channel


def end_agent(run: CallRun, ch: Channel, cause: int, disposition: str) -> None:
    ch.hungup = True
    if run.cfg.emit_cdr:
        run.emit_cdr(ch, "", disposition=disposition, source=run.chan.cid_num)
    run.emit(ev.hangup(ch, cause))
    run.pbx.cel(ch, run.vt, "HANGUP", extra=f'{{"hangupcause":{cause},"hangupsource":"","dialstatus":""}}')
    run.pbx.cel(ch, run.vt, "CHAN_END")
    run.pbx.remove(ch)


def unbridge(
    run: CallRun, br: Bridge, agent_ch: Channel, caller: Channel, *, agent_first: bool, cause: int, soft: bool
) -> None:
    run.setvar("BRIDGEPEER", "", agent_ch)
    run.setvar("BRIDGEPEER", "", caller)
    order = (agent_ch, caller) if agent_first else (caller, agent_ch)
    for ch in order:
        br.channels.remove(ch)
        ch.bridge = None
        run.emit(ev.bridge_leave(br, ch))
        if ch is agent_ch:
            if soft and agent_first:
                pass  # the AMI Hangup already announced itself with SoftHangupRequest
            elif not agent_first:
                run.emit(ev.soft_hangup_request(agent_ch, cause))
            end_agent(run, agent_ch, cause, "ANSWERED")
    run.emit(ev.bridge_destroy(br))
