"""Adapter: drive an ``IvrRun`` over a FastAGI session. Translates only; the decisions are the run's.

Play -> STREAM FILE name "", Collect -> GET DATA file timeout max, SetVar -> SET VARIABLE,
Enqueue -> VERBOSE (the dialplan then goes to [cc-hold] with CC_QUEUE set), Transfer -> EXEC Dial to the
outside number (the call data went before as inheritable ``__CC_*`` variables) then HANGUP,
Record -> EXEC Record (``#`` or 5 s of silence ends it), HangupCall -> HANGUP.
A hang-up by the caller ends the run as abandoned and is returned, not raised; the session keeps
``hung_up`` set, so the server counts it as a hang-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from asterisk.agi.protocol import AgiCommandError, AgiHangup
from asterisk.agi.session import AgiSession
from ivr.interpreter import (
    CallData,
    Collect,
    DayCalendar,
    Digits,
    Enqueue,
    Hangup,
    HangupCall,
    IvrCommand,
    IvrEvent,
    IvrRun,
    Play,
    Played,
    Record,
    Recorded,
    SetVar,
    Timeout,
    Transfer,
)
from ivr.model import Menu

log = logging.getLogger(__name__)

Now = Callable[[], datetime]  # returns the current UTC time

#: seconds Dial rings an outside number
TRANSFER_RING_SECONDS = 60
#: seconds of silence that end a recorded message
MESSAGE_SILENCE_SECONDS = 5
#: how long the FastAGI connection waits for a transferred call's Dial to return (ring and talk). Past it only
#: the AGI connection closes (counted as an idle timeout); the caller's talk with the outside number goes on.
TRANSFER_WAIT_SECONDS = 4 * 3600


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AgiOptions:
    """How the adapter reaches the outside world: dial strings, where messages are kept, time."""

    tz: tzinfo = UTC
    calendar: DayCalendar | None = None
    external_dial: str = "PJSIP/{number}@trunk"
    message_dir: str = "callcenter/messages"


@dataclass(frozen=True, slots=True)
class IvrResult:
    queue: str | None  # None: abandoned, or the IVR hung up / transferred the call
    path: str  # e.g. 'welcome>main:2'
    data: CallData
    abandoned: bool  # the caller hung up inside the IVR
    steps: list[list[Any]] = field(default_factory=list)  # [node, digits/branch, seconds from start]
    transfer: str | None = None  # the outside number the call was handed to


async def run_ivr_over_agi(
    session: AgiSession,
    menu: Menu,
    language: str,
    *,
    clock: Now = _utc_now,
    answer: bool = True,
    options: AgiOptions | None = None,
) -> IvrResult:
    """Run ``menu`` for the caller on ``session``. ``clock`` gives event times (the daemon's clock)."""
    options = options or AgiOptions()
    caller = session.env.get("agi_callerid", "")
    run = IvrRun(menu, language, tz=options.tz, calendar=options.calendar,
                 caller="" if caller == "unknown" else caller)
    try:
        if answer:
            await session.answer()
        commands = run.start(clock())
        while not run.done:
            event = await _carry_out(session, commands, clock, options)
            if event is None:
                break
            commands = run.handle(event)
        # The final list (SetVar..., Enqueue/Transfer/HangupCall) came from the last handle()/start().
        if run.done and not run.abandoned:
            await _carry_out(session, commands, clock, options)
            if session.hung_up and run.transfer_to is None:
                # hung up while we told Asterisk the outcome (SET VARIABLE still works on a dead channel)
                run.abandoned = True
    except AgiHangup:
        if run.waiting_for is None and not run.done:
            run.abandoned = run.done = True  # hung up before the menu started (during ANSWER)
        elif not run.done:
            run.handle(Hangup(clock()))
        elif run.transfer_to is None:
            run.abandoned = True  # hung up while we were still telling Asterisk the outcome
    return IvrResult(
        queue=None if run.abandoned or run.transfer_to else run.queue,
        path=run.path_text(),
        data=run.data,
        abandoned=run.abandoned,
        steps=run.steps_json(),
        transfer=run.transfer_to,
    )


async def _carry_out(
    session: AgiSession, commands: list[IvrCommand], clock: Now, options: AgiOptions
) -> IvrEvent | None:
    """Do each command in order; return the event the last one produced (None for the final ones)."""
    event: IvrEvent | None = None
    for command in commands:
        event = None
        if isinstance(command, Play):
            await _play(session, command.file)
            event = Played(clock())
        elif isinstance(command, Collect):
            digits = await _collect(session, command)
            # Digits typed before the timeout count as the entry, as Asterisk's Read() does.
            event = Digits(digits, clock()) if digits else Timeout(clock())
        elif isinstance(command, SetVar):
            await session.set_variable(command.name, command.value)
        elif isinstance(command, Enqueue):
            await session.verbose(f"callcenter IVR: queue={command.queue}", 3)
        elif isinstance(command, Record):
            target = f"{options.message_dir}/{session.uniqueid or 'message'}.wav"
            await session.exec("Record", f"{target},{MESSAGE_SILENCE_SECONDS},{command.max_seconds},k",
                               wait=command.max_seconds)
            event = Recorded(clock())
        elif isinstance(command, Transfer):
            dial = options.external_dial.replace("{number}", command.number)
            await session.verbose(f"callcenter IVR: transfer to {command.number}", 3)
            await session.exec("Dial", f"{dial},{TRANSFER_RING_SECONDS}", wait=TRANSFER_WAIT_SECONDS)
            await session.hangup()
        elif isinstance(command, HangupCall):
            await session.hangup()
    return event


async def _collect(session: AgiSession, command: Collect) -> str:
    try:
        digits, _timed_out = await session.get_data(command.file, command.timeout_ms, command.max_digits)
    except AgiCommandError as exc:
        if exc.code != 200:
            raise
        # result=-1: the prompt file is missing and Asterisk read no key (app.c's ast_app_getdata_full gives
        # up before reading), or the caller hung up (HANGUP may follow the reply in a later read). Read the
        # keys without the prompt: a hang-up shows there (511), else the caller who knows the menu still gets
        # through and the others time out into the menu's retries and fallback.
        digits, _timed_out = await session.get_data("", command.timeout_ms, command.max_digits)
        log.warning("IVR prompt %r could not be played on %s: %s", command.file, session.channel, exc.text)
    return digits


async def _play(session: AgiSession, file: str) -> None:
    try:
        await session.stream_file(file)
    except AgiCommandError as exc:
        if exc.code != 200:
            raise
        # result=-1 on a live channel: the sound file is missing. The caller hears nothing but
        # the menu goes on; a hang-up would show on the next command.
        log.warning("IVR prompt %r could not be played on %s: %s", file, session.channel, exc.text)
