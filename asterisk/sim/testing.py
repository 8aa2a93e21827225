"""Small helpers for tests that drive the simulator over real TCP: a raw AMI client and a tiny
FastAGI server. Independent of the daemon's own AMI client and FastAGI server on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from asterisk.ami.codec import AmiReader, Message, encode_action


class RawAmi:
    """Raw AMI connection: send actions, read every message in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.amir = AmiReader(expect_banner=False)
        self.queue: list[Message] = []
        self.raw: list[bytes] = []

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def banner(self) -> bytes:
        return await self.reader.readuntil(b"\r\n")

    def send(self, action: str, **fields: str) -> None:
        self.writer.write(encode_action(action, fields))

    async def next(self, wait_s: float = 10.0) -> Message:
        async with asyncio.timeout(wait_s):
            while not self.queue:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("AMI connection closed")
                self.raw.append(data)
                self.queue.extend(self.amir.feed(data))
        return self.queue.pop(0)

    async def until(self, pred: Callable[[Message], bool], wait_s: float = 10.0) -> Message:
        async with asyncio.timeout(wait_s):
            while True:
                msg = await self.next(wait_s)
                if pred(msg):
                    return msg

    async def login(self, user: str = "cc", secret: str = "ccsecret", events: str = "on") -> Message:
        await self.banner()
        self.send("Login", Username=user, Secret=secret, Events=events, ActionID="login")
        return await self.until(lambda m: m.is_response)

    async def eof(self, wait_s: float = 10.0) -> bool:
        async with asyncio.timeout(wait_s):
            while await self.reader.read(65536):
                pass
        return True

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


AgiScript = Callable[["AgiConn"], Awaitable[None]]


class AgiConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.env: dict[str, str] = {}
        self.env_raw = b""
        self.replies: list[str] = []

    async def read_env(self) -> None:
        while True:
            line = await self.reader.readline()
            self.env_raw += line
            if line in (b"\n", b""):
                return
            k, _, v = line.decode().rstrip("\n").partition(": ")
            self.env[k] = v

    async def cmd(self, text: str) -> str:
        self.writer.write(text.encode() + b"\n")
        await self.writer.drain()
        line = (await self.reader.readline()).decode().rstrip("\n")
        self.replies.append(line)
        return line

    async def line(self) -> str:
        return (await self.reader.readline()).decode().rstrip("\n")


class TinyAgi:
    """A FastAGI server on 127.0.0.1:0 running ``script`` for each connection."""

    def __init__(self, script: AgiScript) -> None:
        self.script = script
        self.conns: list[AgiConn] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.port = 0

    async def __aenter__(self) -> TinyAgi:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.errors:
            raise self.errors[0]

    @property
    def url(self) -> str:
        return f"agi://127.0.0.1:{self.port}/ivr"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks.add(done)
        conn = AgiConn(reader, writer)
        self.conns.append(conn)
        try:
            await conn.read_env()
            await self.script(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # surfaced at __aexit__ so the test fails loudly
            self.errors.append(exc)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
            done.set_result(None)


async def simple_ivr(conn: AgiConn) -> None:
    """Answer, play a welcome, read the menu digits, choose a queue (as the daemon's IVR would)."""
    if conn.env.get("agi_network_script") == "ivr/survey":
        await conn.cmd("GET DATA cc-survey 3000 1")
        return
    await conn.cmd("ANSWER")
    await conn.cmd('STREAM FILE cc-welcome ""')
    reply = await conn.cmd("GET DATA cc-menu 3000 1")
    digits = reply.partition("result=")[2].split(" ")[0]
    await conn.cmd(f"SET VARIABLE CC_QUEUE {'q' + digits if digits else 'general'}")
    await conn.cmd('SET VARIABLE CC_IVR_PATH "welcome>main:' + digits + '"')


def recorded_messages(path: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """('<<<' or '>>>', headers) for each message of a shared/ami-transcripts file, in order."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("<<<", ">>>")) and "banner" not in line:
            direction = line[:3]
            headers: list[tuple[str, str]] = []
            i += 1
            while i < len(lines) and lines[i] != "":
                k, _, v = lines[i].partition(":")
                headers.append((k, v[1:] if v.startswith(" ") else v))
                i += 1
            out.append((direction, headers))
        i += 1
    return out
