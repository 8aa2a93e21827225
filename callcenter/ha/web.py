"""The health endpoints and, on a standby, the redirect to the leader.

    GET /health           200 when this node can do its role (leader: routing; standby: warm), else 503; JSON
    GET /health/leader    200 only on the node that routes calls (a load balancer's check for the web and AGI)
    GET /health/standby   200 only on a warm standby (AMI and database up): alert when no node answers it
    GET /health/ami       200 when every PBX's AMI is logged in
    GET /health/database  200 when the database answers
    GET /health/broker    200 when the MQTT broker is connected (or none is configured)

On a standby every other path answers 307 to the same path on the leader's advertised URL (from the lease
row): the standby runs no engine, so its pages would show figures and agent states nobody keeps current, and
a desk's POST there would change nothing; 307 keeps the method and body. With no live leader (a takeover in
progress) the answer is 503 with a short page in the centre's language that reloads itself. /metrics and the
health endpoints are served by every node.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from callcenter.ha.health import Health
from callcenter.ha.node import HaNode, Role
from callcenter.web.headers import SecurityHeaders

LOCAL_PATHS = ("/health", "/healthz", "/metrics")

WAIT_PAGE = {
    "zh": ("备用节点", "本节点为备用节点，主节点正在切换中，请稍候，页面将自动刷新。"),
    "en": ("Standby node", "This is the standby node; the leader is changing over. This page reloads by itself."),
}


def _answer(ok: bool, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


def install(app: Starlette, health: Health, *, language: str) -> None:
    """Add the health routes (first, so nothing shadows them) and, with ``ha``, the standby's redirect."""

    async def overall(request: Request) -> Response:
        report = health.report()
        return _answer(report["status"] != "down", report)

    async def leader(request: Request) -> Response:
        return _answer(health.leading(), {"role": health.role.value, "leading": health.leading()})

    async def standby(request: Request) -> Response:
        warm = health.role is Role.STANDBY and not [d for d in health.down() if d != "broker"]
        return _answer(warm, {"role": health.role.value, "warm": warm, "down": health.down()})

    async def ami(request: Request) -> Response:
        up = health.ami_up()
        return _answer(all(up.values()), {"ami": up})

    async def database(request: Request) -> Response:
        return _answer(health.database_up is not False, {"database": health.database_up})

    async def broker(request: Request) -> Response:
        up = health.broker_up()
        return _answer(all(up.values()), {"broker": up})

    routes = [Route("/health", overall, methods=["GET"]), Route("/health/leader", leader, methods=["GET"]),
              Route("/health/standby", standby, methods=["GET"]), Route("/health/ami", ami, methods=["GET"]),
              Route("/health/database", database, methods=["GET"]), Route("/health/broker", broker, methods=["GET"])]
    app.router.routes[0:0] = routes
    if health.ha is not None:
        app.add_middleware(StandbyGate, node=health.ha, language=language)


class StandbyGate:
    """ASGI middleware: pass everything through on the leader; on a standby, redirect (see the module doc)."""

    def __init__(self, app: ASGIApp, node: HaNode, language: str) -> None:
        self.app, self.node, self.language = app, node, language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or self.node.role is Role.LEADER or path.startswith(LOCAL_PATHS):
            await self.app(scope, receive, send)
            return
        url = self.node.leader_url()
        if url is not None:
            query = scope.get("query_string", b"").decode("latin-1")
            location = url.rstrip("/") + path + (f"?{query}" if query else "")
            response: Response = Response(status_code=307, headers={"Location": location, "Cache-Control": "no-store"})
        else:
            title, text = WAIT_PAGE.get(self.language, WAIT_PAGE["en"])
            page = (f'<!doctype html><html lang="{self.language}"><head><meta charset="utf-8">'
                    f'<meta http-equiv="refresh" content="2"><title>{html.escape(title)}</title></head>'
                    f"<body><p>{html.escape(text)}</p></body></html>")
            response = Response(page, status_code=503, media_type="text/html",
                                headers={"Retry-After": "2", "Cache-Control": "no-store"})
        await SecurityHeaders(response)(scope, receive, send)  # the same headers as every other answer
