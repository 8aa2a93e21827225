"""AMI frames that are neither event nor response, over real TCP to the running daemon: 20 frames of 60 KB make a
bounded log (one rate-limited warning with a 200-character sample, no secret), and are counted in /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from asterisk.ami.codec import AmiReader
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override, without_roster
from config.loader import load_config
from tests.pair import EXAMPLE, MORNING

JUNK_FRAMES = 20
JUNK_SECRET = "hunter2-in-a-junk-frame"
#: 60 KB, under ami.max_message (64 KiB): well-formed frames whose first header is neither Event nor Response
JUNK = (f"Junk: frame\r\nSecret: {JUNK_SECRET}\r\nFiller: {'x' * 60_000}\r\n\r\n").encode()
GUARD = 20.0  # s, against a hang only


class JunkAmi:
    """Logs anyone in, answers every action with Success, then sends the junk after the first Ping or list."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.sent = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = AmiReader(expect_banner=False)
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for action in frames.feed(data):
                    writer.write(f"Response: Success\r\nActionID: {action.get('ActionID') or ''}\r\n"
                                 "Message: ok\r\n\r\n".encode())
                    if (action.get("Action") or "").lower() == "login" and not self.sent.is_set():
                        writer.write(JUNK * JUNK_FRAMES)
                        writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
                        self.sent.set()
                await writer.drain()
        writer.close()

    async def __aenter__(self) -> JunkAmi:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def daemon_on(ami_port: int, tmp_path: Path) -> AsyncIterator[Daemon]:
    cfg = without_roster(load_config(EXAMPLE, environ={}))
    cfg = override(cfg, database_url=f"sqlite:///{tmp_path / 'calls.db'}", web_port=0, agi_port=0,
                   ami_host="127.0.0.1", ami_port=ami_port)
    daemon = Daemon(cfg, clock=Clock(1.0, origin=MORNING), spool_dir=tmp_path)
    task = asyncio.create_task(daemon.run(), name="daemon")
    try:
        async with asyncio.timeout(GUARD):
            await daemon.ready.wait()
            await daemon.ami.wait_connected()
        yield daemon
    finally:
        daemon.stop()
        async with asyncio.timeout(GUARD):
            await task


async def test_junk_frames_make_a_bounded_log_and_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with JunkAmi() as ami, daemon_on(ami.port, tmp_path) as daemon:
        async with asyncio.timeout(GUARD):
            await ami.sent.wait()
            while daemon.ami.stats.unknown_frames < JUNK_FRAMES:  # noqa: ASYNC110  (bytes arrive over TCP)
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web_port}") as http:
            text = (await http.get("/metrics")).text
    junk_lines = [r.getMessage() for r in caplog.records if "neither event nor response" in r.getMessage()]
    logged = sum(len(r.getMessage()) for r in caplog.records)
    print(f"junk warnings: {len(junk_lines)}, their characters: {sum(map(len, junk_lines))}, "
          f"whole log: {logged} characters for {JUNK_FRAMES * len(JUNK)} bytes of junk")
    assert len(junk_lines) == 1  # one a minute at most; the counter has the rest
    assert len(junk_lines[0]) < 400 and "60" in junk_lines[0]  # a sample cut to 200 characters, its length said
    assert logged < 20_000  # before: 1.2 MB
    assert JUNK_SECRET not in caplog.text
    match = re.search(r"^callcenter_ami_unknown_frames_total (\S+)$", text, re.MULTILINE)
    assert match is not None and float(match.group(1)) == JUNK_FRAMES
