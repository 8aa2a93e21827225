"""The SSE stream driven as raw ASGI: first snapshot, pushes on change only, ends on disconnect/shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette

from callcenter.web import close_streams, create_app
from callcenter.web.sample import FakeLiveStats

# Guards against a hang only; nothing here measures speed.
HANG_GUARD = 10.0


def stream_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/stats/stream",
        "raw_path": b"/api/stats/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"wallboard.test"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("wallboard.test", 80),
    }


class StreamClient:
    """Plays the server side of ASGI for one stream request and parses the events sent."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.buffer = b""
        self.ended = False
        self.inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    async def run(self) -> None:
        async def send(message: MutableMapping[str, Any]) -> None:
            await self.outbox.put(dict(message))

        await self.app(stream_scope(), self.inbox.get, send)

    async def start(self) -> dict[str, Any]:
        message = await self.outbox.get()
        assert message["type"] == "http.response.start"
        return message

    async def next_event(self) -> tuple[str, dict[str, Any]]:
        while b"\n\n" not in self.buffer or not self._has_event():
            message = await self.outbox.get()
            assert message["type"] == "http.response.body"
            self.buffer += message["body"]
            if not message.get("more_body", False):
                self.ended = True
        return self._pop_event()

    def _has_event(self) -> bool:
        return any(b"event:" in block for block in self.buffer.split(b"\n\n")[:-1])

    def _pop_event(self) -> tuple[str, dict[str, Any]]:
        while True:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
            if b"event" in fields:
                return fields[b"event"].decode(), json.loads(fields[b"data"])

    async def drain_until_end(self) -> bytes:
        rest = b""
        while not self.ended:
            message = await self.outbox.get()
            rest += message.get("body", b"")
            self.ended = not message.get("more_body", False)
        return rest


def make_app(provider: Callable[[], dict[str, Any]]) -> Starlette:
    return create_app(
        snapshot=provider,
        metrics_text=lambda: (b"", "text/plain"),
        language="en",
        centre_name="test",
        push_interval=0.01,
    )


async def test_stream_sends_snapshot_then_the_update_then_ends_on_disconnect() -> None:
    fake = FakeLiveStats()
    app = make_app(fake)
    client = StreamClient(app)
    async with asyncio.timeout(HANG_GUARD), asyncio.TaskGroup() as tg:
        task = tg.create_task(client.run())
        start = await client.start()
        headers = dict(start["headers"])
        assert start["status"] == 200
        assert headers[b"content-type"].startswith(b"text/event-stream")
        assert b"content-length" not in headers

        name, first = await client.next_event()
        assert name == "snapshot"
        assert first == fake.current

        fake.current["centre"]["offered"] = 2000
        fake.current["ami_connected"] = False
        name, second = await client.next_event()
        assert name == "snapshot"
        assert second["centre"]["offered"] == 2000 and second["ami_connected"] is False

        client.inbox.put_nowait({"type": "http.disconnect"})
        await task
        await client.drain_until_end()
    assert client.ended


async def test_unchanged_snapshot_is_not_sent_again() -> None:
    fake = FakeLiveStats()
    looked_again = asyncio.Event()

    def provider() -> dict[str, Any]:
        if fake.calls >= 5:  # the first look was sent; four more looks at an unchanged snapshot
            looked_again.set()
        return fake()

    client = StreamClient(make_app(provider))
    async with asyncio.timeout(HANG_GUARD), asyncio.TaskGroup() as tg:
        task = tg.create_task(client.run())
        await client.start()
        await client.next_event()
        await looked_again.wait()
        client.inbox.put_nowait({"type": "http.disconnect"})
        await task
        rest = client.buffer + await client.drain_until_end()
    assert b"event:" not in rest


async def test_close_streams_ends_open_streams_and_refuses_new_ones() -> None:
    fake = FakeLiveStats()
    app = make_app(fake)
    client = StreamClient(app)
    async with asyncio.timeout(HANG_GUARD), asyncio.TaskGroup() as tg:
        task = tg.create_task(client.run())
        await client.start()
        await client.next_event()
        assert len(app.state.streams) == 1
        close_streams(app)
        await task
        await client.drain_until_end()
        assert len(app.state.streams) == 0

        late = StreamClient(app)
        await late.run()  # returns at once: the registry is closed
        await late.start()
        assert b"event:" not in await late.drain_until_end()


async def test_stream_survives_a_failing_provider() -> None:
    fake = FakeLiveStats()
    good = fake.current
    state = {"fail": True}

    def flaky() -> dict[str, Any]:
        if state["fail"]:
            raise RuntimeError("not yet")
        return fake()

    client = StreamClient(make_app(flaky))
    async with asyncio.timeout(HANG_GUARD), asyncio.TaskGroup() as tg:
        task = tg.create_task(client.run())
        await client.start()
        state["fail"] = False
        name, snap = await client.next_event()
        assert (name, snap) == ("snapshot", good)
        client.inbox.put_nowait({"type": "http.disconnect"})
        await task
