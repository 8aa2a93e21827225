"""Asterisk's own queue (app_queue) as the [cc-fallback] context runs it, with the events a real
Asterisk 22.10.1 sends (../shared/ami-transcripts/e1, e2): QueueCallerJoin; per member rung AgentCalled, then
AgentRingNoAnswer or (QueueCallerLeave, AgentConnect with HoldTime) and, when the talk ends, AgentComplete
(HoldTime, TalkTime, Reason); a caller who hangs up first: QueueCallerAbandon (Position, OriginalPosition,
HoldTime) then QueueCallerLeave.

Like the lab's queue (ringinuse=no): a member whose phone is on any call is skipped; members are tried in
turn, 1 s apart after a ring nobody answered (retry).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from asterisk.sim import model as ev
from asterisk.sim.dialplan import CallRun, Hungup
from asterisk.sim.model import Channel

Dial = Callable[..., Awaitable[str]]
RETRY_S = 1.0


def _queue_event(run: CallRun, name: str, extra: list[tuple[str, str]], dest: Channel | None = None) -> None:
    headers = ev.chan_event(name, "agent,all", run.chan)
    if dest is not None:
        headers += ev.snapshot(dest, "Dest")
    run.emit(headers + extra)


def _member(queue: str, endpoint: str) -> list[tuple[str, str]]:
    return [("Queue", queue), ("Interface", endpoint), ("MemberName", endpoint)]


async def app_queue(run: CallRun, queue: str, members: Sequence[str], max_wait: float, dial: Dial) -> None:
    """Queue(queue,c,,,max_wait): returns when the member's talk ended or the queue timed out; raises Hungup
    when the caller hangs up."""
    join_vt = run.vt
    run.stage = "fallback_queue"  # a caller who hangs up now abandoned in a queue (truth.outcome)
    _queue_event(run, "QueueCallerJoin", [("Queue", queue), ("Position", "1"), ("Count", "1")])
    answered: list[float] = []
    turn = 0
    try:
        while run.vt - join_vt < max_wait:
            free = [m for m in members if not run.pbx.device_busy(m)]
            if not free:
                await run.pause(RETRY_S)
                continue
            endpoint = free[turn % len(free)]
            turn += 1
            status = await _ring_member(run, queue, endpoint, join_vt, answered, dial)
            if status == "ANSWER":
                return
            run.stage = "fallback_queue"
            await run.pause(RETRY_S)
        _queue_event(run, "QueueCallerLeave", [("Queue", queue), ("Position", "1"), ("Count", "0")])
    except Hungup:
        if not answered:
            hold = int(run.vt - join_vt)
            _queue_event(run, "QueueCallerAbandon", [("Queue", queue), ("Position", "1"),
                                                     ("OriginalPosition", "1"), ("HoldTime", str(hold))])
            _queue_event(run, "QueueCallerLeave", [("Queue", queue), ("Position", "1"), ("Count", "0")])
        raise


async def _ring_member(run: CallRun, queue: str, endpoint: str, join_vt: float, answered: list[float],
                       dial: Dial) -> str:
    ring_vt = run.vt
    legs: list[Channel] = []

    def connect(agent_ch: Channel) -> None:
        legs.append(agent_ch)
        answered.append(run.vt)
        _queue_event(run, "QueueCallerLeave", [("Queue", queue), ("Position", "1"), ("Count", "0")])
        _queue_event(run, "AgentConnect", [
            *_member(queue, endpoint), ("HoldTime", str(int(run.vt - join_vt))),
            ("RingTime", str(int(run.vt - ring_vt)))], agent_ch)

    # AgentCalled names the leg about to ring; the simulator creates it inside dial(), so it is sent
    # with the caller's snapshot only (the daemon reads Interface, not Dest*).
    _queue_event(run, "AgentCalled", _member(queue, endpoint))
    try:
        status = await dial(run, endpoint, endpoint, run.cfg.ring_timeout, connect)
    except Hungup:
        if answered:
            _complete(run, queue, endpoint, join_vt, answered[0], "caller")
        raise
    if status == "ANSWER":
        _complete(run, queue, endpoint, join_vt, answered[0], "agent")
    else:
        ring = str(int(run.vt - ring_vt))
        _queue_event(run, "AgentRingNoAnswer", [*_member(queue, endpoint), ("RingTime", ring)])
    return status


def _complete(run: CallRun, queue: str, endpoint: str, join_vt: float, answer_vt: float, reason: str) -> None:
    _queue_event(run, "AgentComplete", [
        *_member(queue, endpoint), ("HoldTime", str(int(answer_vt - join_vt))),
        ("TalkTime", str(int(run.vt - answer_vt))), ("Reason", reason)])
