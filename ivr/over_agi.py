"""Adapter: drive an ``IvrRun`` over a FastAGI session. Translates only; the decisions are the run's.

Play -> STREAM FILE name "", Collect -> GET DATA file timeout max, SetVar -> SET VARIABLE,
Enqueue -> VERBOSE (the dialplan then goes to [cc-hold] with CC_QUEUE set), HangupCall -> HANGUP.
A hang-up by the caller ends the run as abandoned and is returned, not raised; the session keeps
``hung_up`` set, so the server counts it as a hang-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from asterisk.agi.protocol import AgiCommandError, AgiHangup
from asterisk.agi.session import AgiSession
from ivr.interpreter import (
    CallData,
    Collect,
    Digits,
    Enqueue,
    Hangup,
    HangupCall,
    IvrCommand,
    IvrEvent,
    IvrRun,
    Play,
    Played,
    SetVar,
    Timeout,
)
from ivr.model import Menu

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IvrResult:
    queue: str | None  # None: abandoned, or the IVR hung up (e.g. a closed-hours message)
    path: str  # e.g. 'welcome>main:2'
    data: CallData
    abandoned: bool  # the caller hung up inside the IVR


async def run_ivr_over_agi(
    session: AgiSession,
    menu: Menu,
    language: str,
    *,
    clock: Clock = _utc_now,
    answer: bool = True,
) -> IvrResult:
    """Run ``menu`` for the caller on ``session``. ``clock`` gives event times (the daemon's clock)."""
    run = IvrRun(menu, language)
    try:
        if answer:
            await session.answer()
        commands = run.start(clock())
        while not run.done:
            event = await _carry_out(session, commands, clock)
            if event is None:
                break
            commands = run.handle(event)
        # The final list (SetVar..., Enqueue/HangupCall) came from the last handle()/start().
        if run.done and not run.abandoned:
            await _carry_out(session, commands, clock)
    except AgiHangup:
        if not run.done:
            run.handle(Hangup(clock()))
        else:
            run.abandoned = True  # hung up while we were still telling Asterisk the outcome
    return IvrResult(
        queue=None if run.abandoned else run.queue,
        path=run.path_text(),
        data=run.data,
        abandoned=run.abandoned,
    )


async def _carry_out(session: AgiSession, commands: list[IvrCommand], clock: Clock) -> IvrEvent | None:
    """Do each command in order; return the event the last one produced (None for the final ones)."""
    event: IvrEvent | None = None
    for command in commands:
        event = None
        if isinstance(command, Play):
            await _play(session, command.file)
            event = Played(clock())
        elif isinstance(command, Collect):
            digits, _timed_out = await session.get_data(command.file, command.timeout_ms, command.max_digits)
            # Digits typed before the timeout count as the entry, as Asterisk's Read() does.
            event = Digits(digits, clock()) if digits else Timeout(clock())
        elif isinstance(command, SetVar):
            await session.set_variable(command.name, command.value)
        elif isinstance(command, Enqueue):
            await session.verbose(f"callcenter IVR: queue={command.queue}", 3)
        elif isinstance(command, HangupCall):
            await session.hangup()
    return event


async def _play(session: AgiSession, file: str) -> None:
    try:
        await session.stream_file(file)
    except AgiCommandError as exc:
        if exc.code != 200:
            raise
        # result=-1 on a live channel: the sound file is missing. The caller hears nothing but
        # the menu goes on; a hang-up would show on the next command.
        log.warning("IVR prompt %r could not be played on %s: %s", file, session.channel, exc.text)
