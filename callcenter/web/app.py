"""The web app (ASGI, Starlette): wallboard page, live stats JSON and SSE, Prometheus, health.

The app only translates: it calls the providers it is given and knows nothing of the core. Errors
leave as JSON with a stable slug (see errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import UserDirectory, openapi_document, session_middleware
from callcenter.web.desktop import InvalidBody, invalid_body_handler
from callcenter.web.errors import WebError, http_error, internal_error
from callcenter.web.headers import SecurityHeaders, nonce
from callcenter.web.limits import DEFAULT_MAX_BODY, BodyLimit
from callcenter.web.page import NONCE_MARK, render_wallboard
from callcenter.web.sessions import SessionStore
from callcenter.web.sse import SnapshotFeed, SnapshotStream, SnapshotUnavailable, StreamRegistry

Snapshot = Callable[[], dict[str, Any]]
MetricsText = Callable[[], tuple[bytes, str]]
Health = Callable[[], dict[str, Any]]

STREAM_PATH = "/api/stats/stream"


def create_app(
    *,
    snapshot: Snapshot,
    metrics_text: MetricsText,
    language: Literal["zh", "en"],
    centre_name: str,
    push_interval: float = 1.0,
    health: Health | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    extra_routes: Callable[[StreamRegistry], Sequence[BaseRoute]] | None = None,
    users: UserDirectory | None = None,
    session_secret: str | None = None,
    session_hours: float = 12,
    cookie_secure: bool = False,
    sessions: SessionStore | None = None,
    trusted_proxies: Sequence[str] = (),
) -> Starlette:
    """Build the app. `snapshot()` returns the LiveStats dict; `metrics_text()` (body, content type).

    `health()`, if given, returns a dict merged into /healthz; `"ok": False` in it makes /healthz 503.
    `sessions`: the server-side session store (the daemon's database); none: one in memory.
    `trusted_proxies`: addresses whose X-Forwarded-For the server (server.py) believes.
    """
    if push_interval <= 0:
        raise ValueError("push_interval must be positive")
    page = render_wallboard(language=language, centre_name=centre_name, stream_url=STREAM_PATH)
    # /api/stats and every stream share one computation per push interval.
    feed = SnapshotFeed(snapshot, max_age=push_interval)
    streams = StreamRegistry()

    async def wallboard(request: Request) -> Response:
        return HTMLResponse(page.replace(NONCE_MARK, nonce(request)), headers={"Cache-Control": "no-cache"})

    async def stats(request: Request) -> Response:
        try:
            body = feed.current()
        except SnapshotUnavailable as exc:
            raise WebError(503, "stats_unavailable", "live statistics are not available") from exc
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def stats_stream(request: Request) -> Response:
        return SnapshotStream(feed, streams, push_interval)

    async def metrics(request: Request) -> Response:
        body, content_type = metrics_text()
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def healthz(request: Request) -> Response:
        details = dict(health()) if health is not None else {}
        ok = details.get("ok", True) is not False
        details.update(status="ok" if ok else "unhealthy", sse_clients=len(streams))
        return JSONResponse(details, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    routes: list[BaseRoute] = [
        Route("/", wallboard, methods=["GET"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route(STREAM_PATH, stats_stream, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    # The agent desktop, admin pages and their sign-in (roles checked per route; see auth.py).
    routes += list(extra_routes(streams)) if extra_routes is not None else []
    openapi_doc = openapi_document(routes, title=f"{centre_name} API")

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_doc)

    routes.append(Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, max_body=max_body),
                    session_middleware(session_secret, hours=session_hours, https_only=cookie_secure)],
        exception_handlers={InvalidBody: invalid_body_handler, HTTPException: http_error, Exception: internal_error},
    )
    app.state.streams = streams
    app.state.users = users or UserDirectory([])
    app.state.language = language  # pages rendered outside a route (403 page) speak the centre's language
    app.state.sessions = sessions or SessionStore(hours=session_hours)
    app.state.trusted_proxies = tuple(trusted_proxies)
    return app


def close_streams(app: Starlette) -> None:
    """End every open SSE stream (and refuse new ones): call before the server shuts down."""
    registry: StreamRegistry = app.state.streams
    registry.close_all()
