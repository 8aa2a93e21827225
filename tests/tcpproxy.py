"""A small asyncio TCP proxy for fault tests: put it between a client and a server, then `cut()` it
(every open connection is reset, every new one is reset at once: to the client the server is down, and
fails fast instead of hanging) and `restore()` it.

    async with TcpProxy("127.0.0.1", 5432) as proxy:   # listens on 127.0.0.1:<proxy.port>
        ...; await proxy.cut(); ...; proxy.restore()

The listening socket stays open while cut, so the port cannot be taken by anyone else meanwhile.
The proxy runs its own event loop in a thread: the daemon under test may block its loop on a database
connect (its store connects synchronously at start), which must not stall the proxy in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from types import TracebackType

CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a peer that died or a firewall would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.is_cut = False
        self.accepted = 0
        self.refused = 0  # connections reset at once because the proxy was cut
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpProxy:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    def start(self) -> None:
        ready = threading.Event()
        failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._thread_main, args=(ready, failed), name="tcpproxy",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        if failed:
            raise failed[0]

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    async def cut(self) -> None:
        """The server is down from now on: reset open connections, reset new ones on arrival."""
        self.is_cut = True
        assert self._loop is not None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop))

    def restore(self) -> None:
        self.is_cut = False

    def _thread_main(self, ready: threading.Event, failed: list[BaseException]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # handed to the starting thread
            failed.append(exc)
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            await self._drop_all()

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def _drop_all(self) -> None:
        for client, upstream in list(self._links):
            _reset(client)
            _reset(upstream)
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            self.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.refused += 1
            _reset(writer)
            return
        self.accepted += 1
        link = (writer, up_writer)
        self._links.add(link)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pump(reader, up_writer), name="tcpproxy-up")
                tg.create_task(self._pump(up_reader, writer), name="tcpproxy-down")
        except* (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._links.discard(link)
            self._tasks.discard(task)
            for w in link:
                w.close()
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await w.wait_closed()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still carry data
