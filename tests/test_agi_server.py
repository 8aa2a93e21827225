"""The FastAGI server over real TCP on 127.0.0.1, with a fake Asterisk replaying recorded traffic."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from itertools import cycle

import pytest

from asterisk.agi.ivr import IvrResult, run_ivr_over_agi
from asterisk.agi.protocol import AgiCommandError, AgiHangup, split_command
from asterisk.agi.server import AgiServer
from asterisk.agi.session import AgiSession
from asterisk.agi.testing import FakeAsterisk, RecordedCall, load_fastagi_transcript, send_raw, transcript_dir
from ivr.model import Choice, EnqueueNode, Menu, MenuNode, PlayNode, Prompt, SetNode

HOST = "127.0.0.1"

#: verb -> how many arguments res_agi takes (min, max) after the verb's words
ARITY = {
    ("ANSWER",): (0, 0),
    ("STREAM", "FILE"): (2, 3),
    ("GET", "DATA"): (1, 3),
    ("SET", "VARIABLE"): (2, 2),
    ("GET", "VARIABLE"): (1, 1),
    ("VERBOSE",): (2, 2),
    ("HANGUP",): (0, 1),
    ("WAIT", "FOR", "DIGIT"): (1, 1),
}


def well_formed(args: list[str]) -> tuple[str, ...]:
    """The verb of a command Asterisk would accept; fails the test otherwise."""
    for verb, (low, high) in ARITY.items():
        if tuple(args[: len(verb)]) == verb:
            rest = args[len(verb) :]
            assert low <= len(rest) <= high, f"{args}: wrong number of arguments"
            if verb == ("GET", "DATA"):
                assert all(a.isdigit() for a in rest[1:]), args
            if verb == ("VERBOSE",):
                assert rest[1].isdigit(), args
            return verb
    raise AssertionError(f"not an AGI command Asterisk knows: {args}")


def replayer(call: RecordedCall):
    """Answer each command with the reply Asterisk gave to the same verb in the recording."""
    by_verb: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for command, answer in call.exchanges:
        by_verb[well_formed(split_command(command))].append(answer)
    recorded = {verb: cycle(replies) for verb, replies in by_verb.items()}

    def reply(args: list[str]) -> str:
        verb = well_formed(args)
        if verb in recorded:
            return next(recorded[verb])
        return "200 result=1"  # verbs the lab script did not use (none of them fail)

    return reply


def menu() -> Menu:
    """A menu the recorded digits exercise: '12' (b1) is a choice, '7' (d1) is not, c1 times out."""
    return Menu(
        "welcome",
        {
            "welcome": PlayNode(Prompt.single("cc-welcome"), "main"),
            "main": MenuNode(
                Prompt.single("cc-enter-digits"),
                (Choice("12", "complaints"), Choice("5", "complaints")),
                timeout_ms=3000,
                retries=1,
                invalid_prompt=Prompt.single("cc-invalid"),
                fallback="general",
            ),
            "complaints": SetNode("enqueue", queue="complaints", priority=1),
            "general": SetNode("enqueue", queue="general"),
            "enqueue": EnqueueNode(),
        },
    )


class Recorder:
    def __init__(self) -> None:
        self.results: dict[str, IvrResult] = {}

    async def __call__(self, session: AgiSession) -> None:
        self.results[session.uniqueid] = await run_ivr_over_agi(session, menu(), "zh")


def load(name: str) -> list[RecordedCall]:
    return load_fastagi_transcript(transcript_dir() / name)


@pytest.mark.parametrize(
    ("name", "queue", "path"),
    [
        ("b1-incoming-fastagi-hold-agent1001.fastagi.txt", "complaints", "welcome>main:12"),
        ("c1-caller-abandons-on-hold.fastagi.txt", "general", "welcome>main:timeout>main:timeout"),
        ("d1-agent-no-answer-1050.fastagi.txt", "general", "welcome>main:7>main:7"),
        ("d2-agent-busy-1060.fastagi.txt", "general", "welcome>main:7>main:7"),
    ],
)
async def test_replay_recorded_call_through_ivr(name, queue, path):
    (call,) = load(name)
    handler = Recorder()
    async with AgiServer(HOST, 0, handler) as server:
        fake = FakeAsterisk(call.env, replayer(call))
        commands = await fake.run(HOST, server.port)
    assert fake.closed_by_server
    result = handler.results[call.env["agi_uniqueid"]]
    assert (result.queue, result.path, result.abandoned) == (queue, path, False)
    sent = [split_command(c) for c in commands]
    assert sent[0] == ["ANSWER"]
    assert sent[1] == ["STREAM", "FILE", "cc-welcome", ""]
    assert ["SET", "VARIABLE", "CC_QUEUE", queue] in sent
    assert ["SET", "VARIABLE", "CC_IVR_PATH", path] in sent
    assert ["SET", "VARIABLE", "CC_LANG", "zh"] in sent
    assert server.stats.completed == 1 and server.stats.errors == 0


async def test_replay_burst_of_50_concurrent_calls():
    calls = load("f2-burst-50-callers-incoming-fastagi.fastagi.txt")
    assert len(calls) == 50
    handler = Recorder()
    async with AgiServer(HOST, 0, handler) as server:
        fakes = [FakeAsterisk(call.env, replayer(call)) for call in calls]
        async with asyncio.TaskGroup() as group:
            for fake in fakes:
                group.create_task(fake.run(HOST, server.port))
    assert server.stats.connections == 50 and server.stats.completed == 50 and server.stats.active == 0
    assert len(handler.results) == 50
    for call in calls:
        digits = next(r for c, r in call.exchanges if c.startswith("GET DATA"))
        result = handler.results[call.env["agi_uniqueid"]]
        expected = "complaints" if digits == "200 result=5" else "general"
        assert result.queue == expected, (call.connection, digits, result)


async def test_hangup_in_the_middle_of_the_menu():
    (call,) = load("b1-incoming-fastagi-hold-agent1001.fastagi.txt")
    handler = Recorder()

    def reply(args: list[str]) -> list[str] | str:
        verb = well_formed(args)
        if verb == ("GET", "DATA"):
            return ["200 result=-1", "HANGUP"]  # what res_agi sends when the caller hangs up
        if verb == ("ANSWER",):
            return "200 result=0"
        if verb == ("STREAM", "FILE"):
            return "200 result=0 endpos=8000"
        return "511 Command Not Permitted on a dead channel or intercepted channel"

    async with AgiServer(HOST, 0, handler) as server:
        fake = FakeAsterisk(call.env, reply)
        commands = await fake.run(HOST, server.port)
    result = handler.results[call.env["agi_uniqueid"]]
    assert result.abandoned and result.queue is None
    assert result.path == "welcome>main:hangup"
    assert not any("CC_QUEUE" in c for c in commands)
    assert server.stats.hangups == 1 and server.stats.errors == 0 and server.stats.completed == 0


async def test_unsolicited_hangup_then_511_raises_agihangup_in_handler():
    seen: list[BaseException] = []

    async def handler(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.stream_file("cc-welcome")
        except AgiHangup as exc:
            seen.append(exc)
            raise

    def reply(args):
        if args == ["ANSWER"]:
            return ["200 result=0", "HANGUP"]
        return "511 Command Not Permitted on a dead channel or intercepted channel"

    async with AgiServer(HOST, 0, handler) as server:
        await FakeAsterisk({"agi_channel": "PJSIP/x-1"}, reply).run(HOST, server.port)
    assert len(seen) == 1
    assert server.stats.hangups == 1 and server.stats.errors == 0


async def test_handler_exception_is_counted_logged_and_closes_connection(caplog):
    async def handler(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("boom in the IVR")

    caplog.set_level(logging.ERROR, logger="asterisk.agi.server")
    async with AgiServer(HOST, 0, handler) as server:
        fake = FakeAsterisk(
            {"agi_channel": "PJSIP/1001-0001", "agi_uniqueid": "1.2"}, lambda a: "200 result=0"
        )
        await fake.run(HOST, server.port)
        assert fake.closed_by_server
        # The server goes on serving the next call.
        again = FakeAsterisk({"agi_channel": "PJSIP/1001-0002"}, lambda a: "200 result=0")
        await again.run(HOST, server.port)
    assert server.stats.errors == 2 and server.stats.completed == 0
    assert isinstance(server.last_error, RuntimeError)
    assert "PJSIP/1001-0001" in caplog.text and "boom in the IVR" in caplog.text


async def test_command_refused_raises_typed_error():
    errors: list[AgiCommandError] = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.get_data("x", 1000, 1)
        except AgiCommandError as exc:
            errors.append(exc)
            raise

    def reply(args):
        return [
            "520-Invalid command syntax.  Proper usage follows:",
            " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
            "520 End of proper usage.",
        ]

    async with AgiServer(HOST, 0, handler) as server:
        await FakeAsterisk({"agi_channel": "c"}, reply).run(HOST, server.port)
    assert errors[0].code == 520 and "Usage: GET DATA" in errors[0].text
    assert server.stats.errors == 1


async def test_missing_sound_file_does_not_end_the_menu():
    """STREAM FILE of a missing file gives result=-1 on a live channel: the menu goes on."""
    (call,) = load("b1-incoming-fastagi-hold-agent1001.fastagi.txt")
    handler = Recorder()
    recorded = replayer(call)

    def reply(args):
        if args[:2] == ["STREAM", "FILE"]:
            return "200 result=-1 endpos=0"
        return recorded(args)

    async with AgiServer(HOST, 0, handler) as server:
        await FakeAsterisk(call.env, reply).run(HOST, server.port)
    assert handler.results[call.env["agi_uniqueid"]].queue == "complaints"


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET /ivr HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"\x00\x01\x02\x03" * 10 + b"\n",
        b"agi_channel: x\n" + b"A" * 20000,  # an endless line
        b"agi_channel: x\n",  # environment never ended, then EOF
    ],
)
async def test_garbage_peer_is_dropped_and_server_keeps_running(garbage, caplog):
    called = []

    async def handler(session: AgiSession) -> None:
        called.append(session.channel)

    caplog.set_level(logging.WARNING, logger="asterisk.agi.server")
    async with AgiServer(HOST, 0, handler) as server:
        answer = await send_raw(HOST, server.port, garbage)
        assert answer == b""
        await FakeAsterisk({"agi_channel": "good"}, lambda a: "200 result=0").run(HOST, server.port)
    assert server.stats.protocol_errors == 1
    assert called == ["good"]
    assert "dropped" in caplog.text


async def test_silent_peer_times_out():
    async def handler(session: AgiSession) -> None:
        raise AssertionError("never called")

    async with AgiServer(HOST, 0, handler, env_timeout=0.05) as server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        assert await reader.read() == b""  # the server gave up and closed
        writer.close()
        await writer.wait_closed()
    assert server.stats.env_timeouts == 1


async def test_shutdown_closes_connections_in_progress():
    started = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        started.set()
        await asyncio.sleep(3600)

    server = AgiServer(HOST, 0, handler)
    async with server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(b"agi_channel: x\n\n")
        await writer.drain()
        await started.wait()
    # serve() returned: the connection was cancelled and closed, the listener too.
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    assert server.stats.active == 0
    with pytest.raises(OSError):
        await asyncio.open_connection(HOST, server.port)


async def test_serve_in_a_taskgroup():
    async def handler(session: AgiSession) -> None:
        await session.verbose("hello 你好", 1)

    server = AgiServer(HOST, 0, handler)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(server.serve())
        await server.wait_listening()
        commands = await FakeAsterisk({"agi_channel": "c"}, lambda a: "200 result=1").run(HOST, server.port)
        task.cancel()
    assert commands == ['VERBOSE "hello 你好" 1']
