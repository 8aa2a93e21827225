"""serve(): uvicorn in the test's own loop on 127.0.0.1:0, cancellation, open streams, signals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from callcenter.web import WebServerError, create_app, serve
from callcenter.web.sample import FakeLiveStats

HANG_GUARD = 15.0  # guards against a hang only


def make_app(fake: FakeLiveStats | None = None) -> Starlette:
    return create_app(
        snapshot=fake or FakeLiveStats(),
        metrics_text=lambda: (b"up 1\n", "text/plain; version=0.0.4; charset=utf-8"),
        language="en",
        centre_name="test",
        push_interval=0.02,
    )


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[asyncio.Task[None]]:
    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="test-web")
    try:
        async with asyncio.timeout(HANG_GUARD):
            await started.wait()
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_serves_on_an_ephemeral_port_without_touching_signals() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    app = make_app()
    async with running(app):
        port = app.state.bound_port
        assert port > 0
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.get("/api/stats")
            m = await client.get("/metrics")
    assert r.status_code == 200 and r.json()["centre"]["offered"] == 1811
    assert m.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert refused(port)


async def test_cancel_with_an_open_sse_stream_shuts_down_and_ends_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()
    lines: list[str] = []
    async with running(app) as task:
        port = app.state.bound_port
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
            client.stream("GET", "/api/stats/stream") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith("data: "):
                    task.cancel()  # the daemon stops while a wall screen is connected
            # the loop ended: the server closed the stream cleanly instead of hanging
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task
    assert "event: snapshot" in lines
    assert refused(port)
    # The stream ended because serve() closed it, not because uvicorn gave up waiting and cancelled it.
    assert not [r for r in caplog.records if "graceful shutdown exceeded" in r.getMessage()]


async def test_cancelled_by_a_failing_sibling_in_a_task_group() -> None:
    app = make_app()
    started = asyncio.Event()

    async def failing_sibling() -> None:
        await started.wait()
        raise RuntimeError("AMI adapter crashed")

    with pytest.raises(ExceptionGroup) as caught:
        async with asyncio.timeout(HANG_GUARD), asyncio.TaskGroup() as tg:
            tg.create_task(serve(app, "127.0.0.1", 0, started=started))
            tg.create_task(failing_sibling())
    assert caught.group_contains(RuntimeError, match="AMI adapter crashed")
    assert refused(app.state.bound_port)


async def test_port_in_use_is_a_typed_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WebServerError, match=f"127.0.0.1:{port}"):
            await serve(make_app(), "127.0.0.1", port)
