"""The daemon's FastAGI server (asyncio).

Each connection: read the agi_* environment, build an ``AgiSession``, await ``handler(session)``,
close. Whatever the handler raises is logged with the channel, counted in ``stats`` and ends that
connection only: closing it makes Asterisk go on with the dialplan (AGISTATUS=SUCCESS, and no
CC_QUEUE means [cc-fallback]), so the caller is never stranded. A hang-up (``AgiHangup``) is
counted, not logged as an error. A peer that sends garbage is dropped with a log line.

Bounds (docs/security.md): a command whose reply does not come within its own wait plus
``idle_timeout`` seconds ends the connection (``idle_timeouts``); beyond ``max_connections`` open at
once, a new connection is closed at once (``refused``; the dialplan sends that caller to its fallback).
Warnings about refused and timed-out peers are rate-limited: a flood is counted, not logged line by line.

Run it in the daemon's TaskGroup with ``await server.serve()`` (returns on cancellation after every
connection is closed), or use ``async with AgiServer(...) as server:`` which runs ``serve()`` in a task
of its own and cancels it on exit. Connection tasks live in a TaskGroup inside ``serve()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asterisk.agi.protocol import (
    MAX_ENV_LINES,
    MAX_LINE,
    AgiEnvironment,
    AgiHangup,
    AgiIdleTimeout,
    AgiParser,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
)
from asterisk.agi.session import AgiSession
from asterisk.ratelog import RateLimitedLog

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]

_READ_SIZE = 4096
#: seconds between two warnings of one kind (refused, timed out); the ones between are counted
WARN_EVERY = 60.0


@dataclass
class AgiServerStats:
    connections: int = 0  # accepted
    active: int = 0  # open now
    completed: int = 0  # the handler returned normally
    hangups: int = 0  # the caller hung up during the handler
    errors: int = 0  # the handler raised (anything but a hang-up)
    protocol_errors: int = 0  # garbage, oversized or truncated input: dropped
    env_timeouts: int = 0  # connected but sent no environment in time
    idle_timeouts: int = 0  # sent its environment, then no reply to a command in time
    refused: int = 0  # closed at once: ``max_connections`` were open


class AgiServer:
    def __init__(
        self,
        host: str,
        port: int,
        handler: AgiHandler,
        *,
        env_timeout: float = 10.0,
        max_line: int = MAX_LINE,
        max_env_lines: int = MAX_ENV_LINES,
        idle_timeout: float | None = 150.0,
        max_connections: int = 500,
    ) -> None:
        self.host = host
        self.port = port  # replaced by the bound port once listening (port 0 picks a free one)
        self.handler = handler
        self.env_timeout = env_timeout
        self.max_line = max_line
        self.max_env_lines = max_env_lines
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.stats = AgiServerStats()
        self._refused_log = RateLimitedLog(log, WARN_EVERY)
        self._timeout_log = RateLimitedLog(log, WARN_EVERY)
        self.last_error: BaseException | None = None
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- running -----------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Listen until cancelled; then stop listening, cancel and close every connection."""
        async with asyncio.TaskGroup() as group:

            def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if self.stats.active >= self.max_connections:
                    self._refuse(writer)
                    return
                # Counted open here, not when the task starts: a burst accepted in one loop turn stays capped.
                self.stats.connections += 1
                self.stats.active += 1
                connection = self._connection(reader, writer)
                try:
                    group.create_task(connection)
                except RuntimeError:
                    # A connection accepted while the server shuts down: refuse it cleanly (the
                    # dialplan then sends the caller to its fallback) instead of leaking it.
                    connection.close()
                    self.stats.active -= 1
                    writer.close()

            server = await asyncio.start_server(accept, self.host, self.port)
            async with server:
                self.port = server.sockets[0].getsockname()[1]
                self._listening.set()
                log.info("FastAGI listening on %s:%d", self.host, self.port)
                try:
                    await server.serve_forever()
                finally:
                    self._listening.clear()
                    log.info("FastAGI server on %s:%d stopping", self.host, self.port)

    async def wait_listening(self) -> None:
        await self._listening.wait()

    async def __aenter__(self) -> AgiServer:
        self._task = asyncio.create_task(self.serve(), name=f"agi-server-{self.host}:{self.port}")
        waiter = asyncio.create_task(self._listening.wait())
        try:
            await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if self._task.done():
            self._task.result()  # raises the bind error
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # -- one connection ----------------------------------------------------------------------------

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        self.stats.refused += 1
        self._refused_log.warn("FastAGI: %d connections open (agi.max_connections), refused one from %s",
                               self.stats.active, writer.get_extra_info("peername"))
        transport = writer.transport
        transport.abort()  # nothing to flush: the peer said nothing yet

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        channel = "?"
        try:
            session = await self._open_session(reader, writer, peer)
            if session is None:
                return
            channel = session.channel
            await self._run_handler(session)
        except AgiIdleTimeout as exc:
            self.stats.idle_timeouts += 1
            self._timeout_log.warn("FastAGI peer %s (channel %s) closed: %s", peer, channel, exc)
        except AgiProtocolError as exc:
            self.stats.protocol_errors += 1
            log.warning("FastAGI peer %s (channel %s) dropped: %s", peer, channel, exc)
        except ConnectionError as exc:
            log.info("FastAGI peer %s (channel %s) went away: %s", peer, channel, exc)
        except Exception:
            # A bug of ours, not the handler's: keep it from taking the other connections down.
            self.stats.errors += 1
            log.exception("FastAGI connection from %s (channel %s) failed", peer, channel)
        finally:
            self.stats.active -= 1
            writer.close()
            # The peer may already be gone; the socket is closed either way.
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _open_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> AgiSession | None:
        parser = AgiParser(self.max_line, self.max_env_lines)
        try:
            async with asyncio.timeout(self.env_timeout):
                items = []
                while not parser.env_done:
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        raise AgiProtocolError("connection closed before the AGI environment ended")
                    items.extend(parser.feed(data))
        except TimeoutError:
            self.stats.env_timeouts += 1
            self._timeout_log.warn("FastAGI peer %s sent no environment within %.1f s", peer, self.env_timeout)
            return None
        env = items[0]
        assert isinstance(env, AgiEnvironment)  # the parser yields it first, alone
        rest = [item for item in items[1:] if isinstance(item, AgiReply | HangupNotice)]
        return AgiSession(reader, writer, parser, env.values, rest, idle_timeout=self.idle_timeout)

    async def _run_handler(self, session: AgiSession) -> None:
        try:
            await self.handler(session)
        except AgiHangup as exc:
            self.stats.hangups += 1
            log.info("FastAGI %s: caller hung up (%s)", session.channel, exc)
        except (AgiProtocolError, AgiIdleTimeout):
            raise
        except Exception as exc:
            self.stats.errors += 1
            self.last_error = exc
            log.exception(
                "FastAGI handler failed for channel %s (uniqueid %s, script %r); closing the connection",
                session.channel,
                session.uniqueid,
                session.script,
            )
        else:
            # A handler may catch AgiHangup itself (the IVR adapter does); count what happened.
            if session.hung_up:
                self.stats.hangups += 1
            else:
                self.stats.completed += 1
