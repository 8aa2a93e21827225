"""Run the web app with uvicorn inside the daemon's own event loop.

The daemon owns signals, so uvicorn's signal capture is switched off; the web server stops when its task
is cancelled (e.g. by the daemon's TaskGroup). On cancellation the open SSE streams are ended first, then
uvicorn shuts down gracefully, then the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from callcenter.web.app import close_streams

log = logging.getLogger(__name__)

# Upper bound for the graceful part of shutdown; streams end at once, so this only bites on a stuck request.
GRACEFUL_SHUTDOWN_SECONDS = 5.0


class WebServerError(Exception):
    """The web server could not start (e.g. the address is in use)."""


class _DaemonServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, started: asyncio.Event | None) -> None:
        super().__init__(config)
        self._started_event = started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn 0.54 installs SIGINT/SIGTERM handlers for the duration of serve(); the daemon owns them.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._started_event is not None:
            self._started_event.set()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port (read it back with getsockname)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise WebServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def make_config(app: Starlette, **overrides: Any) -> uvicorn.Config:
    settings: dict[str, Any] = {
        "lifespan": "off",  # the app needs no lifespan; the daemon wires its resources itself
        "log_config": None,  # leave logging to the daemon's configuration
        "access_log": False,  # a wallboard polls; access lines would drown the log
        "http": "h11",
        "ws": "none",
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


def proxy_settings(trusted: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For only from these peers (`web.trusted_proxies`). uvicorn's own default
    trusts 127.0.0.1, which let anyone on the host (or a proxy passing the header through) pick the address
    the sign-in throttle counts; with no trusted proxy the header is not read at all."""
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}


async def serve(app: Starlette, host: str, port: int, *, started: asyncio.Event | None = None) -> None:
    """Serve `app` on host:port until cancelled. `app.state.bound_port` holds the real port (port=0).

    `started` is set once the server accepts connections.
    """
    sock = bind(host, port)
    app.state.bound_port = sock.getsockname()[1]
    server = _DaemonServer(make_config(app, **proxy_settings(getattr(app.state, "trusted_proxies", ()))), started)
    run = asyncio.create_task(server.serve(sockets=[sock]), name="web-uvicorn")
    try:
        # shield: our cancellation must reach uvicorn as should_exit, not as a cancel in its main loop.
        await asyncio.shield(run)
    except asyncio.CancelledError:
        await _shut_down(app, server, run)
        raise
    finally:
        sock.close()  # uvicorn closes it on a normal shutdown; this covers a failed start


async def _shut_down(app: Starlette, server: uvicorn.Server, run: asyncio.Task[None]) -> None:
    close_streams(app)
    server.should_exit = True
    while not run.done():
        try:
            await asyncio.shield(run)
        except asyncio.CancelledError:
            # Cancelled again while shutting down: keep waiting, uvicorn's shutdown is bounded.
            continue
        except Exception:
            log.exception("web server failed while shutting down")
            return
