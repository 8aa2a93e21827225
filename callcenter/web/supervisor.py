"""The supervisor's console (值班长席): the page and its API (supervisors and admins; see auth.py).

    GET  /supervisor                                   the page (agents board, queues, actions)
    GET  /api/supervisor/board                         the board as JSON
    GET  /api/supervisor/stream                        SSE: `snapshot` events of the board (as the wallboard's)
    POST /api/supervisor/agents/{agent_id}/state       {"state": ready|not_ready|logged_out, "reason"?}
    POST /api/supervisor/agents/{agent_id}/queues      {"queues": [name, ...]}: the queues the agent serves
    POST /api/supervisor/agents/{agent_id}/spy         {"mode": listen|whisper|barge}: the supervisor's phone
    POST /api/supervisor/calls/{call_id}/priority      {"priority": 0..9}: a waiting caller's priority

The daemon side is ``SupervisorBackend`` (callcenter/supervisor.py implements it); every action is audited
there. Numbers on the board are masked for every viewer: it is a screen others may see.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from importlib import resources
from string import Template
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, csrf_token, requires
from callcenter.web.desktop import AGENT_REASONS, json_body
from callcenter.web.errors import WebError
from callcenter.web.headers import nonce
from callcenter.web.sse import SnapshotFeed, SnapshotStream, StreamRegistry
from callcenter.web.supervisor_words import WORDS

STREAM_PATH = "/api/supervisor/stream"
PUSH_SECONDS = 1.0


class SupervisorError(Exception):
    """An action the daemon refused; ``slug`` is the stable error id (the page words it)."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail


class SupervisorBackend(Protocol):
    def board(self) -> dict[str, Any]: ...
    async def force_state(self, agent_id: str, state: str, reason: str, user: str) -> dict[str, Any]: ...
    async def set_queues(self, agent_id: str, queues: list[str], user: str) -> dict[str, Any]: ...
    async def set_priority(self, call_id: str, priority: int, user: str) -> dict[str, Any]: ...
    async def spy(self, agent_id: str, mode: str, user: str, endpoint: str | None) -> dict[str, Any]: ...


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Literal["break", "meal", "training", "meeting", "other"] | None = None


class QueuesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queues: list[str] = Field(min_length=1, max_length=32)


class SpyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["listen", "whisper", "barge"]


class PriorityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(ge=0, le=9)


def render_page(*, language: str, centre_name: str, csrf: str, user: str, queues: dict[str, str],
                nonce: str = "") -> str:
    """The page; ``nonce`` goes on its inline style and scripts (the CSP of callcenter/web/headers.py)."""
    words = WORDS["en" if language == "en" else "zh"]
    config = {"words": words, "reasons": list(AGENT_REASONS), "stream_url": STREAM_PATH, "queues": queues}
    files = resources.files(__package__)
    return Template(files.joinpath("supervisor.html").read_text(encoding="utf-8")).substitute(
        lang="en" if language == "en" else "zh-CN", centre=html.escape(centre_name), title=html.escape(words["title"]),
        csrf=html.escape(csrf), user=html.escape(user), nonce=html.escape(nonce),
        config=json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"),
        css=files.joinpath("supervisor.css").read_text(encoding="utf-8"),
        js=files.joinpath("supervisor.js").read_text(encoding="utf-8"))


def supervisor_routes(backend: SupervisorBackend, *, language: str, centre_name: str, streams: StreamRegistry,
                      queues: dict[str, str], push_seconds: float = PUSH_SECONDS) -> list[BaseRoute]:
    """``queues``: name -> label in the centre's language (the queue picker of the agent dialog)."""
    feed = SnapshotFeed(backend.board, max_age=push_seconds)

    @requires(Role.SUPERVISOR, Role.ADMIN, page=True)
    async def page(request: Request) -> Response:
        user = request.state.user
        body = render_page(language=language, centre_name=centre_name, csrf=csrf_token(request),
                           user=user.display_name or user.username, queues=queues, nonce=nonce(request))
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def board(request: Request) -> Response:
        """The board now (the stream shares one computation per push between its pages)."""
        return JSONResponse(backend.board(), headers={"Cache-Control": "no-store"})

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def stream(request: Request) -> Response:
        return SnapshotStream(feed, streams, push_seconds)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def agent_state(request: Request) -> Response:
        body: StateBody = await json_body(request, StateBody)
        if body.state == "not_ready" and body.reason is None:
            raise WebError(422, "reason_required", "not ready needs a reason")
        return await _act(lambda user: backend.force_state(request.path_params["agent_id"], body.state,
                                                           body.reason or "", user.username), request)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def agent_queues(request: Request) -> Response:
        body: QueuesBody = await json_body(request, QueuesBody)
        return await _act(lambda user: backend.set_queues(request.path_params["agent_id"], body.queues,
                                                          user.username), request)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def agent_spy(request: Request) -> Response:
        body: SpyBody = await json_body(request, SpyBody)
        return await _act(lambda user: backend.spy(request.path_params["agent_id"], body.mode, user.username,
                                                   user.endpoint), request)

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def call_priority(request: Request) -> Response:
        body: PriorityBody = await json_body(request, PriorityBody)
        return await _act(lambda user: backend.set_priority(request.path_params["call_id"], body.priority,
                                                            user.username), request)

    return [
        Route("/supervisor", page, methods=["GET"]),
        Route("/api/supervisor/board", board, methods=["GET"]),
        Route(STREAM_PATH, stream, methods=["GET"]),
        Route("/api/supervisor/agents/{agent_id}/state", agent_state, methods=["POST"]),
        Route("/api/supervisor/agents/{agent_id}/queues", agent_queues, methods=["POST"]),
        Route("/api/supervisor/agents/{agent_id}/spy", agent_spy, methods=["POST"]),
        Route("/api/supervisor/calls/{call_id}/priority", call_priority, methods=["POST"]),
    ]


async def _act(do: Callable[[Any], Any], request: Request) -> Response:
    """Run one action as the signed-in user; a refusal leaves as its status and stable slug."""
    try:
        result = await do(request.state.user)
    except SupervisorError as exc:
        raise WebError(exc.status, exc.slug, exc.detail) from None
    return JSONResponse(result)
