"""Server-Sent Events for the wallboard: the live snapshot pushed when it changes.

Written against raw ASGI rather than sse-starlette: that library keeps process-wide shutdown state and
patches uvicorn's signal handler, and the daemon owns signals. Here each open stream registers a stop
event with the app's `StreamRegistry`; `close_all()` (called by `serve()` before uvicorn shuts down)
ends every stream, so uvicorn's wait for open connections does not hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

# A comment line every so often keeps proxies and the browser from timing out an idle stream.
KEEPALIVE_SECONDS = 15.0
# How long EventSource waits before it reconnects after the stream drops (milliseconds).
RETRY_MS = 3000


class SnapshotUnavailable(Exception):
    """The snapshot provider failed; the web edge maps it to 503 `stats_unavailable`."""


def encode_snapshot(snapshot: dict[str, Any]) -> bytes:
    return json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class SnapshotFeed:
    """One snapshot computation per interval, shared by every open stream and /api/stats.

    Many wall screens must not multiply the cost of computing the figures, so the encoded snapshot is
    kept for `max_age` seconds (monotonic time).
    """

    def __init__(
        self,
        provider: Callable[[], dict[str, Any]],
        max_age: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._max_age = max_age
        self._monotonic = monotonic
        self._cached: bytes | None = None
        self._taken_at = 0.0
        self._failing = False

    def current(self) -> bytes:
        now = self._monotonic()
        if self._cached is None or now - self._taken_at >= self._max_age:
            try:
                body = encode_snapshot(self._provider())
            except Exception as exc:
                # Every stream retries each tick: log the first failure of a streak, not each retry.
                if not self._failing:
                    log.exception("wallboard snapshot provider failed")
                self._failing = True
                raise SnapshotUnavailable(type(exc).__name__) from exc
            if self._failing:
                log.info("wallboard snapshot provider recovered")
            self._cached, self._taken_at, self._failing = body, now, False
        return self._cached


class StreamRegistry:
    """The stop events of the open streams, so that shutdown can end them all."""

    def __init__(self) -> None:
        self._stops: set[asyncio.Event] = set()
        self.closed = False

    def open(self) -> asyncio.Event:
        stop = asyncio.Event()
        if self.closed:
            stop.set()
        self._stops.add(stop)
        return stop

    def release(self, stop: asyncio.Event) -> None:
        self._stops.discard(stop)

    def close_all(self) -> None:
        self.closed = True
        for stop in self._stops:
            stop.set()

    def __len__(self) -> int:
        return len(self._stops)


def sse_event(name: str, data: bytes) -> bytes:
    # The JSON is on one line (no newlines survive json.dumps without indent), so one data: field.
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class SnapshotStream(Response):
    """`text/event-stream` of `snapshot` events; ends on client disconnect or registry shutdown."""

    media_type = "text/event-stream"

    def __init__(self, feed: SnapshotFeed, registry: StreamRegistry, interval: float) -> None:
        super().__init__(
            content=None,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        # Response computes Content-Length: 0 for the empty body; a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._feed = feed
        self._registry = registry
        self._interval = interval

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stop = self._registry.open()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with asyncio.TaskGroup() as tg:
                watcher = tg.create_task(_stop_on_disconnect(receive, stop), name="sse-disconnect-watch")
                try:
                    await self._push(send, stop)
                finally:
                    watcher.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._registry.release(stop)

    async def _push(self, send: Send, stop: asyncio.Event) -> None:
        await _send_chunk(send, f"retry: {RETRY_MS}\n\n".encode())
        last: bytes | None = None
        idle = 0.0
        while not stop.is_set():
            try:
                body = self._feed.current()
            except SnapshotUnavailable:
                body = None  # keep the stream; the page keeps its last figures and we retry next tick
            if body is not None and body != last:
                await _send_chunk(send, sse_event("snapshot", body))
                last, idle = body, 0.0
            elif idle >= KEEPALIVE_SECONDS:
                await _send_chunk(send, b": keepalive\n\n")
                idle = 0.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await stop.wait()
            idle += self._interval


async def _send_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _stop_on_disconnect(receive: Receive, stop: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            stop.set()
            return
