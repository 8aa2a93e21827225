"""Size limits on network input: oversized AMI frames, HTTP bodies, AGI lines and environments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from asterisk.agi.server import AgiServer
from asterisk.agi.session import AgiSession
from callcenter.web.limits import BodyLimit
from tests.test_ami_client import A1, HugeFrameAmi, Recorder, client, until


async def test_oversized_ami_frame_counted_and_connection_kept() -> None:
    async with HugeFrameAmi(A1) as server, client(server.port, Recorder(), max_message=4096) as ami:
        await until(lambda: ami.stats.oversized_frames == 1)
        assert (await ami.action("Ping"))["Ping"] == "Pong"
    assert ami.stats.reconnects == 0


async def _echo(scope: dict, receive: object, send: object) -> None:
    body = b""
    while True:
        message = await receive()  # type: ignore[operator]
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": str(len(body)).encode()})  # type: ignore[operator]


async def test_streamed_body_over_the_limit_is_413_in_both_languages() -> None:
    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 512):
            yield b"z" * 512

    app = BodyLimit(_echo, max_body=2048)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        big = await http.post("/", content=chunks(8192))
        small = await http.post("/", content=chunks(1024))
        declared = await http.post("/", content=b"x" * 4096)
    assert (big.status_code, declared.status_code) == (413, 413)
    assert "2048" in big.json()["detail"] and "请求体" in big.json()["detail"]
    assert (small.status_code, small.text) == (200, "1024")


async def _agi_peer(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await reader.read()  # the server closes the connection
    finally:
        writer.close()
        await writer.wait_closed()


async def test_agi_overlong_line_and_too_many_variables_are_refused() -> None:
    async def handler(session: AgiSession) -> None:
        raise AssertionError("no session may start")

    async with AgiServer("127.0.0.1", 0, handler, max_line=1024, max_env_lines=50) as server:
        assert await _agi_peer(server.port, b"agi_channel: " + b"x" * 5000) == b""
        many = b"".join(b"agi_v%d: 1\n" % i for i in range(60)) + b"\n"
        assert await _agi_peer(server.port, many) == b""
        await until(lambda: server.stats.protocol_errors == 2)
    assert server.stats.errors == 0
