"""The agent desktop: log in, ready / not ready, the screen-pop pushed over SSE, the ticket form, call control.

Routes (all JSON but the pages; roles checked by `auth.requires`):

    GET  /login, POST /login, POST /logout      sign in / out (rate limited, CSRF)
    GET  /api/me                                who am I, my CSRF token               any role
    GET  /desk                                  the desktop page                      agent
    GET  /api/desk/stream                       SSE: `state`, `offer`, `hold` (held or agent
                                                not; until when) and `talk` (a held caller's
                                                ring-back answered) events
    GET  /api/desk/state, POST /api/desk/state  my state; go ready / not ready(reason) agent
    POST /api/desk/call                         hold / retrieve / hang up / transfer /  agent
                                                hand-off (AMI)
    POST /api/desk/wrapup                       more wrap-up time {"seconds"}          agent
    POST /api/desk/heartbeat                    the desk page is open (every few s)    agent
    GET  /api/desk/options                      reasons, call-control targets, the     agent, supervisor
                                                ticket form's choices

The ticket form posts to the tickets API (callcenter/web/tickets_api.py: POST /api/tickets, then
POST /api/tickets/{number}/transition to dispatch); the ticket is linked to the call, whose record gives
it the caller's number (the desk only ever sees it masked), so the page saves it once the call has ended.
    GET  /api/agents                            every agent's state                    supervisor, admin

This module is the routes only (one table, `ROUTES`, of path -> handler -> roles). What they ask of the
daemon is `DeskBackend`; `DaemonDesk` in callcenter/desk.py implements it, with the call-control table.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from callcenter.desk import CONTROLS, HANDOFF_NUMBERS, TRANSFER_TARGETS, DeskBackend, DeskError
from callcenter.screenpop import AgentHub
from callcenter.web.auth import (
    ALL_ROLES,
    CSRF_FIELD,
    HOME,
    SESSION_CSRF,
    LoginLimiter,
    Role,
    UserDirectory,
    check_csrf,
    client_address,
    csrf_token,
    current_user,
    for_viewer,
    form_fields,
    is_urlencoded,
    log_in,
    log_out,
    requires,
    session_user,
    tokens_match,
)
from callcenter.web.errors import WebError
from callcenter.web.sse import KEEPALIVE_SECONDS, RETRY_MS, StreamRegistry, sse_event
from callcenter.web.tickets_labels import STATES, lang

log = logging.getLogger("callcenter.desktop")

ASSETS = Path(__file__).with_name("desktop")
AGENT_REASONS = ("break", "meal", "training", "meeting", "other")


# ------------------------------------------------------------------ request bodies


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Literal["break", "meal", "training", "meeting", "other"] | None = None


class CallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["hold", "retrieve", "hangup", "transfer", "handoff"]
    target: str = Field("", max_length=32, pattern=r"^[0-9A-Za-z_-]*$")


class WrapupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(ge=10, le=600)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    csrf_token: str = Field(min_length=1, max_length=128)


async def json_body(request: Request, model: type[BaseModel]) -> Any:
    try:
        raw = await request.body()
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebError(400, "bad_json", "the body is not JSON") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidBody(exc) from None


class InvalidBody(WebError):
    def __init__(self, exc: ValidationError) -> None:
        super().__init__(422, "invalid", "the request has invalid fields")
        self.fields = field_errors(exc)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic errors as {dotted field: message}; the input value is never echoed (it may be a secret)."""
    out: dict[str, str] = {}
    for err in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "_"
        out.setdefault(key, str(err["msg"]))
    return out


# ------------------------------------------------------------------ SSE


class HubStream(Response):
    """`text/event-stream` of one agent's `state` and `offer` events, masked for the viewer."""

    media_type = "text/event-stream"

    def __init__(self, hub: AgentHub, agent_id: str, view: Callable[[Any], Any], registry: StreamRegistry,
                 alive: Callable[[], bool] = lambda: True) -> None:
        super().__init__(content=None, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub, self.agent_id, self.view, self.registry = hub, agent_id, view, registry
        #: False once the session that opened the stream is ended (sign-out, disabled): the stream ends
        self.alive = alive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stop = self.registry.open()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            with self.hub.subscribe(self.agent_id) as sub:
                async with asyncio.TaskGroup() as tg:
                    watcher = tg.create_task(_disconnect(receive, stop), name="desk-sse-disconnect")
                    try:
                        await self._push(send, sub.queue, stop)
                    finally:
                        watcher.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.registry.release(stop)

    async def _push(self, send: Send, queue: asyncio.Queue[tuple[str, dict[str, Any]]], stop: asyncio.Event) -> None:
        await _chunk(send, f"retry: {RETRY_MS}\n\n".encode())
        state = self.hub.last_state.get(self.agent_id)
        if state is not None:
            await _chunk(send, self._event("state", state))
        offer = self.hub.current_offer.get(self.agent_id)
        if offer is not None:
            await _chunk(send, self._event("offer", offer))
        while not stop.is_set() and self.alive():
            get = asyncio.ensure_future(queue.get())
            halt = asyncio.ensure_future(stop.wait())
            try:
                done, _ = await asyncio.wait({get, halt}, timeout=KEEPALIVE_SECONDS,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                for f in (get, halt):
                    if not f.done():
                        f.cancel()
            if get in done:
                kind, payload = get.result()
                if not self.alive():
                    return
                await _chunk(send, self._event(kind, payload))
            elif not done:
                await _chunk(send, b": keepalive\n\n")

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = json.dumps(self.view(payload), ensure_ascii=False, separators=(",", ":")).encode()
        return sse_event(kind, data)


async def _chunk(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _disconnect(receive: Receive, stop: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            stop.set()
            return


# ------------------------------------------------------------------ pages


def _page(name: str, language: str, centre_name: str) -> str:
    text = (ASSETS / name).read_text(encoding="utf-8")
    return text.replace("{{lang}}", language).replace("{{centre}}", html.escape(centre_name))


def desktop_routes(backend: DeskBackend, users: UserDirectory, *, language: str, centre_name: str,
                   streams: StreamRegistry, limiter: LoginLimiter | None = None,
                   choices: Mapping[str, Any] | None = None) -> list[BaseRoute]:
    """`choices`: the ticket form's choices (:func:`callcenter.desk.ticket_choices`); without them the form
    cannot be saved."""
    return DeskRoutes(backend, users, language=language, centre_name=centre_name, streams=streams,
                      limiter=limiter, choices=choices).routes()


ANYONE = tuple(ALL_ROLES)
#: path, HTTP method, handler (a DeskRoutes method), roles (None: no sign-in), a browser page
ROUTES: tuple[tuple[str, str, str, tuple[Role, ...] | None, bool], ...] = (
    ("/login", "GET", "login_form", None, False),
    ("/login", "POST", "login", None, False),
    ("/logout", "POST", "logout", ANYONE, False),
    ("/api/me", "GET", "me", ANYONE, False),
    # a supervisor or admin who opens the desk is sent to their own workspace (auth.HOME)
    ("/desk", "GET", "desk", (Role.AGENT, Role.SUPERVISOR, Role.ADMIN), True),
    ("/api/desk/stream", "GET", "stream", (Role.AGENT,), False),
    ("/api/desk/state", "GET", "get_state", (Role.AGENT,), False),
    ("/api/desk/state", "POST", "set_state", (Role.AGENT,), False),
    ("/api/desk/call", "POST", "call_control", (Role.AGENT,), False),
    ("/api/desk/wrapup", "POST", "extend_wrapup", (Role.AGENT,), False),
    ("/api/desk/heartbeat", "POST", "heartbeat", (Role.AGENT,), False),
    ("/api/desk/options", "GET", "options", (Role.AGENT, Role.SUPERVISOR), False),
    ("/api/agents", "GET", "agents", (Role.SUPERVISOR, Role.ADMIN), False),
)


class DeskRoutes:
    """The desktop's handlers; ``routes()`` puts them behind their roles (``ROUTES``)."""

    def __init__(self, backend: DeskBackend, users: UserDirectory, *, language: str, centre_name: str,
                 streams: StreamRegistry, limiter: LoginLimiter | None = None,
                 choices: Mapping[str, Any] | None = None) -> None:
        self.backend, self.users, self.language, self.streams = backend, users, language, streams
        self.limiter = limiter or LoginLimiter()
        self.choices = choices
        self.form_choices = dict(choices or {"categories": {}, "topics": {}, "districts": {}, "departments": {},
                                             "department_groups": [], "queue_category": {}, "timezone": "UTC"})
        self.login_page = _page("login.html", language, centre_name)
        self.desk_page = _page("desk.html", language, centre_name)

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = []
        for path, http_method, name, roles, page in ROUTES:
            endpoint = getattr(self, name)
            if roles is not None:
                endpoint = requires(*roles, page=page)(endpoint)
            out.append(Route(path, endpoint, methods=[http_method]))
        out.append(Mount("/desk/static", StaticFiles(directory=ASSETS / "static"), name="desk-static"))
        return out

    async def login_form(self, request: Request) -> Response:
        """Sign-in page.
        ---
        responses:
          200: {description: HTML form}
        """
        token = csrf_token(request)
        return HTMLResponse(self.login_page.replace("{{csrf}}", token), headers={"Cache-Control": "no-store"})

    async def login(self, request: Request) -> Response:
        """Sign in (JSON or form); 429 `too_many_attempts` after repeated failures.
        ---
        requestBody:
          content:
            application/json:
              schema:
                type: object
                required: [username, password, csrf_token]
                properties:
                  username: {type: string}
                  password: {type: string}
                  csrf_token: {type: string}
        responses:
          200: {description: signed in}
          401: {description: wrong username or password}
          403: {description: CSRF token missing}
          429: {description: too many attempts}
        """
        is_form = is_urlencoded(request)
        if is_form:
            form = await form_fields(request)
            raw = {k: form.get(k) for k in ("username", "password", CSRF_FIELD)}
            try:
                body = LoginBody.model_validate(raw)
            except ValidationError as exc:
                raise InvalidBody(exc) from None
        else:
            body = await json_body(request, LoginBody)
        if not tokens_match(request.session.get(SESSION_CSRF), body.csrf_token):
            raise WebError(403, "csrf_failed", "missing or wrong CSRF token; reload the page")
        address = client_address(request)
        wait = self.limiter.retry_after(body.username, address)
        if wait > 0:
            refused = WebError(429, "too_many_attempts", f"too many failed sign-ins; try again in {int(wait) + 1} s")
            refused.headers = {"Retry-After": str(int(wait) + 1)}
            raise refused from None
        # Many failures on this name from anywhere: slowed, never refused (nobody can lock a user out).
        await asyncio.sleep(self.limiter.slowdown(body.username))
        user = await asyncio.to_thread(self.users.authenticate, body.username, body.password)
        if user is None:
            self.limiter.failed(body.username, address)
            # The username is not logged (it may be a mistyped password); the address is.
            log.warning("failed sign-in from %s", address)
            raise WebError(401, "bad_credentials", "wrong username or password")
        self.limiter.succeeded(body.username, address)
        if request.app.state.sessions.is_disabled(user.username):
            log.warning("disabled user %s refused from %s", user.username, address)
            raise WebError(403, "user_disabled", "this user is disabled; ask an administrator")
        log_in(request, user)
        log.info("user %s (%s) signed in from %s", user.username, user.role.value, address)
        target = HOME[user.role]
        if is_form:
            return RedirectResponse(target, status_code=303)
        return JSONResponse({"ok": True, "next": target, "user": user.public(), "csrf_token": csrf_token(request)})

    async def logout(self, request: Request) -> Response:
        """Sign out.
        ---
        responses:
          200: {description: signed out}
        """
        log_out(request)
        return JSONResponse({"ok": True})

    async def me(self, request: Request) -> Response:
        """The signed-in user and the session's CSRF token.
        ---
        responses:
          200: {description: the user}
          401: {description: not signed in}
        """
        user = request.state.user
        return JSONResponse({**user.public(), "csrf_token": csrf_token(request), "language": self.language},
                            headers={"Cache-Control": "no-store"})

    async def desk(self, request: Request) -> Response:
        """The agent desktop page.
        ---
        responses:
          200: {description: HTML}
        """
        role = request.state.user.role
        if role is not Role.AGENT:
            return RedirectResponse(HOME[role], status_code=303)
        return HTMLResponse(self.desk_page, headers={"Cache-Control": "no-store"})

    @staticmethod
    def agent_of(request: Request) -> str:
        agent_id = request.state.user.agent_id
        if not agent_id:
            raise WebError(403, "no_agent", "your user is not tied to an agent")
        return str(agent_id)

    async def stream(self, request: Request) -> Response:
        """Server-sent events: `state` and `offer` (the screen-pop) for the signed-in agent.
        ---
        responses:
          200: {description: text/event-stream}
        """
        user = request.state.user
        return HubStream(self.backend.hub, self.agent_of(request), lambda p: for_viewer(user, p), self.streams,
                         alive=lambda: session_user(request) is not None)

    async def get_state(self, request: Request) -> Response:
        """The agent's state.
        ---
        responses:
          200: {description: state}
        """
        return JSONResponse(self.backend.state(self.agent_of(request)))

    async def set_state(self, request: Request) -> Response:
        """Go ready, not ready (with a reason) or log out.
        ---
        requestBody:
          content:
            application/json:
              schema:
                type: object
                required: [state]
                properties:
                  state: {type: string, enum: [ready, not_ready, logged_out]}
                  reason: {type: string, enum: [break, meal, training, meeting, other]}
        responses:
          200: {description: the new state}
          409: {description: not allowed now}
          422: {description: invalid fields}
        """
        body: StateBody = await json_body(request, StateBody)
        if body.state == "not_ready" and body.reason is None:
            raise WebError(422, "reason_required", "not ready needs a reason")
        with desk_refusal():
            result = self.backend.set_state(self.agent_of(request), body.state, body.reason or "",
                                            request.state.user.username)
        return JSONResponse(result)

    async def call_control(self, request: Request) -> Response:
        """Control the current call: hold, retrieve (取回), hang up, transfer to a department, hand off to
        110/119/120/122.
        ---
        requestBody:
          content:
            application/json:
              schema:
                type: object
                required: [action]
                properties:
                  action: {type: string, enum: [hold, retrieve, hangup, transfer, handoff]}
                  target: {type: string, maxLength: 32}
        responses:
          200: {description: the PBX accepted the request}
          409: {description: no call}
          502: {description: the PBX refused}
        """
        body: CallBody = await json_body(request, CallBody)
        if CONTROLS[body.action].targets is not None and not body.target:
            raise WebError(422, "target_required", "transfer and hand-off need a target")
        with desk_refusal():
            result = await self.backend.call_control(self.agent_of(request), body.action, body.target)
        return JSONResponse(result)

    async def extend_wrapup(self, request: Request) -> Response:
        """More wrap-up time: the wrap-up now ends `seconds` from now.
        ---
        requestBody:
          content:
            application/json:
              schema:
                type: object
                required: [seconds]
                properties:
                  seconds: {type: integer, minimum: 10, maximum: 600}
        responses:
          200: {description: the state}
          409: {description: not in wrap-up}
        """
        body: WrapupBody = await json_body(request, WrapupBody)
        with desk_refusal():
            return JSONResponse(self.backend.extend_wrapup(self.agent_of(request), body.seconds))

    async def heartbeat(self, request: Request) -> Response:
        """The desk page is open; without it for `web.desk_heartbeat_seconds` the agent is made not ready.
        ---
        responses:
          200: {description: noted}
        """
        self.backend.heartbeat(self.agent_of(request))
        return JSONResponse({"ok": True})

    async def options(self, request: Request) -> Response:
        """Choices for the desktop's forms.
        ---
        responses:
          200: {description: options}
        """
        return JSONResponse({
            "not_ready_reasons": list(AGENT_REASONS),
            "handoff": in_language(HANDOFF_NUMBERS, self.language),
            "transfer": in_language(TRANSFER_TARGETS, self.language),
            **self.form_choices,
            **self.backend.page_options(),
            "ticket_states": STATES[lang(self.language)],
            "tickets_api": self.backend.tickets_api and self.choices is not None,
        })

    async def agents(self, request: Request) -> Response:
        """Every agent's state.
        ---
        responses:
          200: {description: agents}
        """
        return JSONResponse({"agents": self.backend.agents()})


def in_language(labels: Mapping[str, str], language: str) -> dict[str, str]:
    """'住建局 Housing' -> 住建局 on a zh page, Housing on an en one (the call-control tables are bilingual)."""
    out = {}
    for key, label in labels.items():
        zh, _, en = label.partition(" ")
        out[key] = (en or zh) if language == "en" else zh
    return out


@contextlib.contextmanager
def desk_refusal() -> Iterator[None]:
    """A command the daemon refused (DeskError) as the web answers it: its status and stable slug."""
    try:
        yield
    except DeskError as exc:
        raise WebError(exc.status, exc.slug, exc.detail) from None


def invalid_body_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBody)
    return JSONResponse({"error": exc.slug, "detail": str(exc.detail), "fields": exc.fields}, status_code=422)


__all__: Sequence[str] = [
    "DeskBackend", "DeskError", "DeskRoutes", "HubStream", "InvalidBody", "check_csrf", "current_user",
    "desktop_routes", "field_errors", "invalid_body_handler", "json_body",
]
