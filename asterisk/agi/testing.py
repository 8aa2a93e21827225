"""Test helpers: recorded FastAGI traffic, and a fake Asterisk that plays its side over real TCP.

``load_fastagi_transcript(path)`` reads shared/ami-transcripts/*.fastagi.txt (lines like
`` 0.003538 conn1 >>> ANSWER``) into one ``RecordedCall`` per connection: the environment Asterisk
sent and each (command, reply) pair. ``FakeAsterisk`` connects to a FastAGI server, sends an
environment, answers each command with ``reply(args)`` and records what it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asterisk.agi.protocol import split_command

_LINE = re.compile(r"^\s*(\d+\.\d+) (conn\d+) (<<<|>>>|###) ?(.*)$")


def transcript_dir() -> Path:
    """The recorded traffic shipped with the tests (a copy of shared/ami-transcripts)."""
    from asterisk.ami.transcripts import TRANSCRIPT_DIR

    return TRANSCRIPT_DIR


@dataclass
class RecordedCall:
    connection: str
    env: dict[str, str] = field(default_factory=dict)
    exchanges: list[tuple[str, str]] = field(default_factory=list)  # (command line, reply line)

    def reply_for(self, verb: str) -> list[str]:
        """The replies recorded for commands starting with ``verb`` (e.g. 'GET DATA'), in order."""
        return [reply for command, reply in self.exchanges if command.startswith(verb)]


def load_fastagi_transcript(path: Path) -> list[RecordedCall]:
    calls: dict[str, RecordedCall] = {}
    pending: dict[str, str | None] = {}
    env_done: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(raw)
        if match is None:
            continue
        _, conn, direction, text = match.groups()
        call = calls.setdefault(conn, RecordedCall(conn))
        if direction == "###":
            continue
        if direction == ">>>":
            pending[conn] = text
            continue
        if conn not in env_done:
            if text.strip() == "":
                env_done.add(conn)
            else:
                key, _, value = text.partition(": ")
                call.env[key.rstrip(":")] = value
            continue
        command = pending.pop(conn, None)
        if command is None:
            raise ValueError(f"{path.name}: reply {text!r} on {conn} without a command")
        call.exchanges.append((command, text))
    return list(calls.values())


Reply = Callable[[list[str]], "str | list[str] | None"]


class FakeAsterisk:
    """Asterisk's side of one FastAGI connection. ``reply(args)`` returns the line(s) to send back,
    or None to close the connection. ``commands`` holds every command line received."""

    def __init__(self, env: dict[str, str], reply: Reply, *, before_env: bytes = b"") -> None:
        self.env = env
        self.reply = reply
        self.before_env = before_env
        self.commands: list[str] = []
        self.closed_by_server = False

    def env_bytes(self) -> bytes:
        lines = "".join(f"{key}: {value}\n" for key, value in self.env.items())
        return self.before_env + lines.encode("utf-8") + b"\n"

    async def run(self, host: str, port: int) -> list[str]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(self.env_bytes())
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    self.closed_by_server = True
                    break
                text = line.decode("utf-8").rstrip("\n")
                self.commands.append(text)
                answer = self.reply(split_command(text))
                if answer is None:
                    break
                lines = [answer] if isinstance(answer, str) else answer
                writer.write("".join(f"{item}\n" for item in lines).encode("utf-8"))
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return self.commands


async def send_raw(host: str, port: int, data: bytes) -> bytes:
    """Send bytes, half-close, and return everything the server sent until it closed."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            writer.write_eof()
        return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
