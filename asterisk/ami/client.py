"""Asyncio AMI client: connect, log in, actions by ActionID, ping watchdog, reconnect.

The client owns its ``asyncio.Protocol`` and frames with the shared sans-IO ``AmiReader``, because
panoramisk 1.4's protocol (a) decodes each TCP read on its own and drops a UTF-8 character split
across two reads, (b) lets an exception in an event callback kill the connection, (c) sends pings
without waiting for the answer so a dead peer is never noticed, and (d) never resolves an action
that gets no answer. Here:

- responses are matched by the ActionID the client generates; each action has a timeout;
- events go through one queue to one consumer task, in order, with their receive time; a failing
  ``on_event`` is logged and counted; when the queue is deep, reading pauses (back-pressure);
- a Ping every ``ping_interval`` must be answered within ``ping_timeout`` or the connection is
  declared dead; pending actions then fail with ``AmiNotConnected`` and a reconnect follows;
- reconnects wait a random delay in [0, min(reconnect_max, reconnect_min * 2**attempt)] (full jitter);
- the secret is held in a ``_Secret`` and never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asterisk.ami.codec import (
    BANNER_PREFIX,
    DEFAULT_MAX_MESSAGE,
    AmiReader,
    FrameTooLarge,
    Message,
    encode_action,
)
from asterisk.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectionError,
    AmiNotConnected,
    AmiTimeout,
)
from asterisk.ami.errors import (
    AmiFenced as AmiFenced,  # re-exported: callers import every AMI error from here
)
from asterisk.ratelog import RateLimitedLog, sample

log = logging.getLogger(__name__)

EventCallback = Callable[[Message, float], Awaitable[None] | None]
LoginCallback = Callable[[], Awaitable[None] | None]
#: put in the event queue at each login, so that ``on_login`` runs in order with the events (a resync
#: sees every event received before its snapshot request applied first, and every later one after it)
_LOGGED_IN = Message([("Event", "__callcenter_logged_in__")])
Fields = Mapping[str, object] | Iterable[tuple[str, object]]


# ---------------------------------------------------------------- small parts


class _Secret:
    """Holds the AMI secret; prints as '***' whatever you do with it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass
class AmiStats:
    events: int = 0
    bad_frames: int = 0  # malformed or oversized frames dropped
    oversized_frames: int = 0  # of those, the ones over ``max_message`` bytes
    unknown_frames: int = 0  # of those, well-formed frames that are neither event nor response
    action_timeouts: int = 0
    ping_timeouts: int = 0
    reconnects: int = 0
    callback_errors: int = 0
    auth_failures: int = 0
    unmatched_responses: int = 0
    connected: bool = False


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[tuple[Message, list[Message]]]
    is_list: bool
    response: Message | None = None
    items: list[Message] = field(default_factory=list)


# ---------------------------------------------------------------- protocol


class _AmiProtocol(asyncio.Protocol):
    """One TCP connection: bytes -> AmiReader -> client; keeps nothing else."""

    def __init__(self, client: AmiClient, max_message: int) -> None:
        self._client = client
        self.reader = AmiReader(max_message=max_message)
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.close_reason = "connection closed by peer"
        self._bad_seen = 0
        self._oversized_seen = 0
        #: the events of the current read, handed to the client as one queue item
        self.batch: list[Message] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        at = self._client._clock()
        try:
            msgs = self.reader.feed(data)
        except FrameTooLarge as exc:
            self.drop(str(exc))
            return
        if self.reader.bad_count != self._bad_seen:
            self._client.stats.oversized_frames += self.reader.oversized - self._oversized_seen
            self._oversized_seen = self.reader.oversized
            self._client._bad_frames(self.reader, self.reader.bad_count - self._bad_seen)
            self._bad_seen = self.reader.bad_count
        if not self.banner.done() and self.reader.banner is not None:
            self.banner.set_result(self.reader.banner)
        for msg in msgs:
            self._client._on_message(msg, at, self)
        if self.batch:
            batch, self.batch = self.batch, []
            self._client._enqueue(batch, at, self)

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.close_reason == "connection closed by peer":
            self.close_reason = f"connection lost: {exc}"
        if not self.banner.done():
            self.banner.set_exception(AmiConnectionError(self.close_reason))
            self.banner.exception()  # mark retrieved: nobody may be waiting any more
        if not self.closed.done():
            self.closed.set_result(None)
        self._client._on_lost(self)

    def drop(self, reason: str) -> None:
        """Close the connection on our side, now, for ``reason``."""
        self.close_reason = reason
        if self.transport is not None:
            self.transport.abort()

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            self.paused = False
            self.transport.resume_reading()


# ---------------------------------------------------------------- client


class AmiClient:
    #: back-pressure: stop reading when this many events wait for ``on_event``; resume at the low mark
    QUEUE_HIGH = 10_000
    QUEUE_LOW = 1_000

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: EventCallback,
        action_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 3.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        events: str = "on",
        clock: Callable[[], float] = time.monotonic,
        connect_timeout: float = 5.0,
        max_message: int = DEFAULT_MAX_MESSAGE,
        rng: random.Random | None = None,
        on_login: LoginCallback | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._on_login = on_login
        self.ssl_context = ssl_context
        self.port = port
        self.username = username
        self._secret = _Secret(secret)
        self._on_event = on_event
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.events = events
        self._clock = clock
        self.connect_timeout = connect_timeout
        self.max_message = max_message
        self._rng = rng or random.Random()
        self.stats = AmiStats()
        #: frames neither event nor response: one warning a minute at most (a peer could send them on purpose)
        self._unknown_log = RateLimitedLog(log, 60.0)
        #: the last connection/login failure (for health checks); None once logged in
        self.last_error: Exception | None = None
        self.banner: str | None = None
        self._ids = itertools.count(1)
        self._id_prefix = f"cc-{secrets.token_hex(3)}"
        self._pending: dict[str, _Pending] = {}
        self._proto: _AmiProtocol | None = None  # the logged-in connection, if any
        self._queue: asyncio.Queue[tuple[Message | list[Message], float] | None] | None = None
        #: events queued and not yet delivered (the queue holds one list per socket read)
        self._backlog = 0
        #: list actions in flight: only then can an event be a list item rather than an event
        self._lists = 0
        self._connected = asyncio.Event()
        self._closing = asyncio.Event()
        self._running = False
        self._task: asyncio.Task[None] | None = None  # run(), when started by ``async with``
        self._session_task: asyncio.Task[bool] | None = None
        #: called with each action's name before it is sent; raises (AmiFenced) to refuse it (callcenter/ha)
        self.guard: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        state = "connected" if self.stats.connected else "disconnected"
        return f"<AmiClient {self.username}@{self.host}:{self.port} {state}>"

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AmiClient:
        # run() is owned by this context: __aexit__ closes it and awaits it (no orphan task).
        self._task = asyncio.create_task(self.run(), name=f"ami {self.host}:{self.port}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def close(self) -> None:
        """Stop for good: drop the connection, fail pending actions, end ``run()``."""
        self._closing.set()
        if self._session_task is not None:
            # The session cleans up in its finally: socket closed, pending actions failed.
            self._session_task.cancel()

    def replay_login(self) -> None:
        """Run ``on_login`` again, in order with the events (a standby that takes over the calls)."""
        if self._queue is not None and self._on_login is not None:
            self._queue.put_nowait((_LOGGED_IN, self._clock()))

    async def wait_connected(self) -> None:
        """Wait until logged in; raises AmiNotConnected if the client is closed first."""
        if self._connected.is_set():
            return
        waiters = [
            asyncio.ensure_future(self._connected.wait()),
            asyncio.ensure_future(self._closing.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if not self._connected.is_set():
            raise AmiNotConnected("AMI client closed")

    async def run(self) -> None:
        """Connect, log in, read; reconnect with backoff forever, until ``close()``."""
        if self._running:
            raise RuntimeError("AmiClient.run() is already running")
        self._running = True
        self._queue = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._deliver_events(self._queue), name="ami events")
                try:
                    await self._connect_loop()
                finally:
                    self._queue.put_nowait(None)  # the consumer drains what was received, then stops
        finally:
            self._running = False

    async def _connect_loop(self) -> None:
        attempt = 0
        first = True
        while not self._closing.is_set():
            if not first:
                self.stats.reconnects += 1
            first = False
            logged_in = False
            # The session runs as a task so that close() can end it at any await.
            task = asyncio.create_task(self._session(), name=f"ami session {self.host}:{self.port}")
            self._session_task = task
            try:
                logged_in = await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if self._closing.is_set() and task.cancelled() and current and not current.cancelling():
                    break
                raise
            except AmiAuthError as exc:
                self.stats.auth_failures += 1
                self.last_error = exc
                log.error("%s", exc)
            except (OSError, AmiConnectionError, AmiTimeout) as exc:
                self.last_error = exc
                log.warning("AMI %s:%s: %s", self.host, self.port, exc or type(exc).__name__)
            finally:
                self._session_task = None
            if self._closing.is_set():
                break
            attempt = 0 if logged_in else attempt + 1
            delay = self._backoff(max(attempt, 1))
            log.info("AMI %s:%s: reconnecting in %.2f s", self.host, self.port, delay)
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
            except TimeoutError:
                pass

    def _backoff(self, attempt: int) -> float:
        cap = min(self.reconnect_max, self.reconnect_min * 2 ** min(attempt - 1, 30))
        return self._rng.uniform(0, cap)

    async def _session(self) -> bool:
        """One connection from connect to loss. Returns True if login succeeded."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: _AmiProtocol(self, self.max_message), self.host, self.port,
                    ssl=self.ssl_context, server_hostname=self.host if self.ssl_context else None,
                )
        except TimeoutError:
            raise AmiConnectionError(f"no TCP connection within {self.connect_timeout:g} s") from None
        logged_in = False
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    banner = await proto.banner
            except TimeoutError:
                raise AmiConnectionError(f"no banner within {self.connect_timeout:g} s") from None
            if not banner.startswith(BANNER_PREFIX):
                raise AmiConnectionError(f"not an AMI server (banner {banner[:60]!r})")
            self.banner = banner
            response = await self._login(proto)
            if response.name != "Success":
                raise AmiAuthError(
                    f"AMI login as {self.username!r} to {self.host}:{self.port} failed: "
                    f"{response.get('Message') or response.name}"
                )
            logged_in = True
            self._proto = proto
            self.stats.connected = True
            self.last_error = None
            self._connected.set()
            log.info("AMI %s:%s: logged in as %r (%s)", self.host, self.port, self.username, banner)
            if self._on_login is not None and self._queue is not None:
                self._queue.put_nowait((_LOGGED_IN, loop.time()))
            await self._watch(proto)
            log.warning("AMI %s:%s: %s", self.host, self.port, proto.close_reason)
        except asyncio.CancelledError:
            proto.close_reason = "client closed"
            raise
        finally:
            self._connected.clear()
            self.stats.connected = False
            self._proto = None
            if proto.transport is not None:
                proto.transport.abort()
            await proto.closed
            self._fail_pending(proto.close_reason)
        return logged_in

    async def _login(self, proto: _AmiProtocol) -> Message:
        fields = [("Username", self.username), ("Secret", self._secret.reveal()), ("Events", self.events)]
        try:
            response, _ = await self._request(proto, "Login", fields, self.action_timeout, is_list=False)
        except AmiNotConnected as exc:
            # Asterisk answers a bad login and then hangs up; a hang-up before any answer lands here.
            raise AmiConnectionError(f"connection lost during login: {exc}") from None
        return response

    async def _watch(self, proto: _AmiProtocol) -> None:
        """The ping watchdog; returns when the connection is gone (or declared dead)."""
        while not proto.closed.done():
            done, _ = await asyncio.wait([proto.closed], timeout=self.ping_interval)
            if done:
                return
            try:
                await self._request(proto, "Ping", (), self.ping_timeout, is_list=False, count=False)
            except AmiTimeout:
                if proto.paused:
                    continue  # we stopped reading ourselves; the answer is in the socket buffer
                self.stats.ping_timeouts += 1
                proto.drop(f"no answer to Ping within {self.ping_timeout:g} s, connection declared dead")
                await proto.closed
                return
            except AmiNotConnected:
                return

    # ------------------------------------------------------------ actions

    async def action(self, name: str, fields: Fields = (), *, within: float | None = None) -> Message:
        """Send an action and return its Response; raises AmiActionError on ``Response: Error``.

        For an async Originate this is only "queued": the OriginateResponse event with the same
        ActionID arrives later on ``on_event``.
        """
        response, _ = await self._request(self._live(), name, fields, within or self.action_timeout, False)
        return response

    async def list_action(
        self, name: str, fields: Fields = (), *, within: float | None = None
    ) -> tuple[Message, list[Message]]:
        """A list action (CoreShowChannels, Status, QueueStatus...): the Response and its item events.

        The item events are not delivered to ``on_event``; the ``...Complete`` event ends the list.
        """
        return await self._request(self._live(), name, fields, within or self.action_timeout, True)

    def _live(self) -> _AmiProtocol:
        if self._proto is None or self._proto.closed.done():
            raise AmiNotConnected(f"AMI {self.host}:{self.port} is not connected")
        return self._proto

    async def _request(
        self,
        proto: _AmiProtocol,
        name: str,
        fields: Fields,
        limit: float,
        is_list: bool,
        *,
        count: bool = True,
    ) -> tuple[Message, list[Message]]:
        if self.guard is not None:
            self.guard(name)
        items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        if any(k.lower() == "actionid" for k, _ in items):
            raise ValueError("the client sets ActionID itself")
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        data = encode_action(name, [*items, ("ActionID", action_id)])
        if proto.transport is None or proto.transport.is_closing():
            raise AmiNotConnected(f"AMI {self.host}:{self.port} is not connected")
        future: asyncio.Future[tuple[Message, list[Message]]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(name, future, is_list)
        self._lists += is_list
        try:
            proto.transport.write(data)
            async with asyncio.timeout(limit):
                response, events = await future
        except TimeoutError:
            if count:
                self.stats.action_timeouts += 1
            raise AmiTimeout(name, action_id, limit) from None
        finally:
            self._pending.pop(action_id, None)
            self._lists -= is_list
        if response.name == "Error" and name != "Login":
            raise AmiActionError(name, response)
        return response, events

    def _on_lost(self, proto: _AmiProtocol) -> None:
        # Fail waiting actions at once, not at their timeouts (one connection at a time).
        self._fail_pending(proto.close_reason)

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(AmiNotConnected(f"{p.action}: {reason}"))

    # ------------------------------------------------------------ incoming

    def _on_message(self, msg: Message, at: float, proto: _AmiProtocol) -> None:
        kind = msg.kind
        if kind == "response":
            pending = self._pending.get(msg.get("ActionID") or "")
            if pending is None:
                self.stats.unmatched_responses += 1
                log.debug("AMI response with no waiting action: %r", msg)
                return
            if pending.future.done():
                return
            if pending.is_list and msg.name == "Success" and "EventList" in msg:
                pending.response = msg  # items and the ...Complete event follow
            else:
                pending.future.set_result((msg, []))
            return
        if kind != "event":
            self._unknown_log.warn("AMI message neither event nor response, skipped: %s", sample(msg.headers))
            self.stats.bad_frames += 1
            self.stats.unknown_frames += 1
            return
        self.stats.events += 1
        # Looking into an event costs more than reading it: do it only when a list action could own it.
        action_id = msg.get("ActionID") if self._lists else None
        if action_id is not None:
            pending = self._pending.get(action_id)
            if pending is not None and pending.is_list:
                if (msg.get("EventList") or "").lower() == "complete":
                    if pending.response is not None and not pending.future.done():
                        pending.future.set_result((pending.response, pending.items))
                else:
                    pending.items.append(msg)
                return
        proto.batch.append(msg)

    def _enqueue(self, batch: list[Message], at: float, proto: _AmiProtocol) -> None:
        queue = self._queue
        if queue is None:
            return
        queue.put_nowait((batch, at))
        self._backlog += len(batch)
        if self._backlog >= self.QUEUE_HIGH:
            proto.pause()

    def _bad_frames(self, reader: AmiReader, new: int) -> None:
        self.stats.bad_frames += new
        # A flood of garbage must not become a flood of log lines: the first few of each
        # connection, then one line per thousand (the counter has them all).
        kept = reader.bad_frames[-new:]  # the reader keeps the last 100 only
        for index, frame in enumerate(kept, start=reader.bad_count - len(kept) + 1):
            if index <= 10 or index % 1000 == 0:
                log.warning("AMI %s:%s: malformed frame skipped (%d on this connection): %s",
                            self.host, self.port, index, frame.reason)

    async def _deliver_events(self, queue: asyncio.Queue[tuple[Message | list[Message], float] | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            batch, at = item
            msgs = [batch] if isinstance(batch, Message) else batch  # a lone Message: the login marker
            for msg in msgs:
                try:
                    if msg is _LOGGED_IN:
                        result: Any = self._on_login() if self._on_login is not None else None
                    else:
                        result = self._on_event(msg, at)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception:
                    # A bug in one consumer must not cost the connection or the events after it.
                    self.stats.callback_errors += 1
                    log.exception("AMI on_event failed for %s", msg.name)
            if msgs is batch:
                self._backlog -= len(msgs)
            proto = self._proto
            if proto is not None and proto.paused and self._backlog <= self.QUEUE_LOW:
                proto.resume()
