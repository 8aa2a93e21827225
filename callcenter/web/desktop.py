"""The agent desktop: log in, ready / not ready, the screen-pop pushed over SSE, the ticket form, call control.

Routes (all JSON but the pages; roles checked by `auth.requires`):

    GET  /login, POST /login, POST /logout      sign in / out (rate limited, CSRF)
    GET  /api/me                                who am I, my CSRF token               any role
    GET  /desk                                  the desktop page                      agent
    GET  /api/desk/stream                       SSE: `state` and `offer` events        agent
    GET  /api/desk/state, POST /api/desk/state  my state; go ready / not ready(reason) agent
    POST /api/desk/call                         hold / transfer / hand-off (AMI)       agent
    GET  /api/desk/options                      reasons, call-control targets, the     agent, supervisor
                                                ticket form's choices

The ticket form posts to the tickets API (callcenter/web/tickets_api.py: POST /api/tickets, then
POST /api/tickets/{number}/transition to dispatch); the ticket is linked to the call, whose record gives
it the caller's number (the desk only ever sees it masked), so the page saves it once the call has ended.
    GET  /api/agents                            every agent's state                    supervisor, admin

The daemon side is `DeskBackend`; `DaemonDesk` implements it on the running daemon. Call control maps to
AMI with :func:`control_actions` (pure) through one table, `CONTROLS`: hold = Park, transfer to a department
= BlindTransfer, hand-off to 110/119/120/122 = Atxfer (the agent stays on until the emergency line takes the
call). The dialplan side is [cc-transfer] and [cc-handoff] in asterisk/conf/extensions_callcenter.conf.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from callcenter.screenpop import AgentHub, RingingCall
from callcenter.web.auth import (
    ALL_ROLES,
    CSRF_FIELD,
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
)
from callcenter.web.errors import WebError
from callcenter.web.sse import KEEPALIVE_SECONDS, RETRY_MS, StreamRegistry, sse_event

log = logging.getLogger("callcenter.desktop")

ASSETS = Path(__file__).with_name("desktop")
PARK_TIMEOUT_MS = 120_000
# Dialplan contexts the call-control actions use (see docs/mqtt.md, "Call control in the dialplan").
TRANSFER_CONTEXT = "cc-transfer"
HANDOFF_CONTEXT = "cc-handoff"
HANDOFF_NUMBERS = {"110": "公安 Police", "119": "消防 Fire", "120": "急救 Ambulance", "122": "交警 Traffic police"}
AGENT_REASONS = ("break", "meal", "training", "meeting", "other")
# Departments' hotlines a call can be transferred to (extension in the cc-transfer context -> label).
TRANSFER_TARGETS = {"8101": "住建局 Housing", "8102": "交通运输局 Transport", "8103": "人社局 Social security",
                    "8104": "市场监管局 Market regulation", "8105": "生态环境局 Environment"}
# The unit groups (tickets/departments.py) a ticket can be dispatched to from the desk.
DISPATCH_GROUPS = ("city_department", "public_service", "county")


class DeskError(Exception):
    """A desk command the daemon refused; `slug` is the stable error id."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


# ------------------------------------------------------------------ call control (pure)

Action = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Control:
    """One call-control button: the AMI action, its fields, and the targets it accepts (None: no target)."""

    ami_action: str
    fields: Callable[[str, str, str], dict[str, Any]]  # (target, caller channel, agent channel) -> fields
    targets: Mapping[str, str] | None = None


CONTROLS: dict[str, Control] = {
    "hold": Control("Park", lambda _t, caller, agent: {
        "Channel": caller, "TimeoutChannel": agent, "Timeout": PARK_TIMEOUT_MS}),
    "transfer": Control("BlindTransfer", lambda t, _c, agent: {
        "Channel": agent, "Context": TRANSFER_CONTEXT, "Exten": t}, TRANSFER_TARGETS),
    "handoff": Control("Atxfer", lambda t, _c, agent: {
        "Channel": agent, "Context": HANDOFF_CONTEXT, "Exten": t}, HANDOFF_NUMBERS),
}


def control_actions(action: str, target: str, *, caller_channel: str, agent_channel: str) -> list[Action]:
    """The AMI actions for one call-control request (DeskError 422 for an unknown action or target)."""
    control = CONTROLS.get(action)
    if control is None:
        raise DeskError(422, "invalid_action", f"action is one of {', '.join(CONTROLS)}")
    if control.targets is not None and target not in control.targets:
        raise DeskError(422, "invalid_target", f"{action} goes to one of {', '.join(control.targets)}")
    return [(control.ami_action, control.fields(target, caller_channel, agent_channel))]


def ticket_choices(service: Any, language: str) -> dict[str, Any]:
    """The ticket form's choices from the tickets configuration: {code: label} per field, and the category a
    queue pre-fills (a complaints queue files a complaint, every other queue the first category)."""
    cfg = service.cfg
    categories = {c.code: c.name.get(language) for c in cfg.categories}
    first = next(iter(categories), "")
    return {
        "categories": categories,
        "topics": dict(cfg.topic_names(language)),
        "districts": {d.code: d.name(language) for d in service.directory if d.group == "county"},
        "departments": {d.code: d.name(language) for d in service.directory if d.group in DISPATCH_GROUPS},
        "queue_category": {"complaints": "complaint" if "complaint" in categories else first, "": first},
    }


# ------------------------------------------------------------------ the daemon side


class DeskBackend(Protocol):
    hub: AgentHub
    tickets_api: bool

    def state(self, agent_id: str) -> dict[str, Any]: ...
    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]: ...
    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]: ...
    def agents(self) -> list[dict[str, Any]]: ...


@dataclass
class ActiveCall:
    call_id: str
    caller_channel: str
    agent_channel: str
    queue: str | None


class DaemonDesk:
    """`DeskBackend` on the running daemon (duck-typed: engine, ledger, ami, cfg, screenpop, clock)."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.hub: AgentHub = daemon.screenpop.hub
        self.calls: dict[str, ActiveCall] = {}  # agent id -> the call ringing at / talking with the agent
        # True once the tickets API (callcenter/web/tickets_api.py) is mounted in this app: the form posts there.
        self.tickets_api = False

    # -- facts from the daemon (sync, on the loop thread)
    def ringing(self, call_id: str, agent_channel: str, at: datetime) -> None:
        entry = self.daemon.ledger.calls.get(call_id)
        if entry is None or entry.offer_agent is None:
            return
        cfg = self.daemon.cfg
        label = ""
        if entry.queue:
            with contextlib.suppress(KeyError):
                label = cfg.queue(entry.queue).label(cfg.centre.language)
        self.calls[entry.offer_agent] = ActiveCall(call_id, entry.channel, agent_channel, entry.queue)
        self.daemon.screenpop.ringing(RingingCall(
            call_id=call_id, agent_id=entry.offer_agent, caller_number=entry.caller_number,
            caller_name=entry.caller_name, ivr_path=entry.ivr_path, language=entry.language,
            queue=entry.queue, queue_label=label, queued_at=entry.queued_at, rang_at=at, offers=entry.offers,
        ))

    def state_changed(self, agent_id: str, state: str, reason: str, at: datetime, by: str) -> None:
        call = self.calls.get(agent_id)
        wrapup = None
        if state == "wrap_up" and call is not None and call.queue:
            with contextlib.suppress(KeyError):
                wrapup = self.daemon.cfg.queue(call.queue).wrapup_seconds
        if state in ("ready", "not_ready", "logged_out"):
            self.calls.pop(agent_id, None)
        self.daemon.screenpop.agent_state(agent_id, state, reason, at, by=by,
                                          call_id=call.call_id if call else None, wrapup_seconds=wrapup)

    # -- DeskBackend
    def state(self, agent_id: str) -> dict[str, Any]:
        last = self.hub.last_state.get(agent_id)
        if last is not None:
            return last
        st, reason = self.daemon.engine.agent_state(agent_id)
        return {"agent_id": agent_id, "state": st.value, "reason": reason}

    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]:
        self.daemon.agent_command(agent_id, state, reason, by)
        return self.state(agent_id)

    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]:
        call = self.calls.get(agent_id)
        if call is None or not call.agent_channel:
            raise DeskError(409, "no_call", "you have no call to control")
        actions = control_actions(action, target, caller_channel=call.caller_channel, agent_channel=call.agent_channel)
        await self.daemon.ami_actions(actions)
        return {"ok": True, "action": action, "target": target, "call_id": call.call_id}

    def agents(self) -> list[dict[str, Any]]:
        out = []
        for a in self.daemon.cfg.agents:
            st, reason = self.daemon.engine.agent_state(str(a.id))
            out.append({"agent_id": str(a.id), "name": a.name, "state": st.value, "reason": reason})
        return out


# ------------------------------------------------------------------ request bodies


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Literal["break", "meal", "training", "meeting", "other"] | None = None


class CallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["hold", "transfer", "handoff"]
    target: str = Field("", max_length=32, pattern=r"^[0-9A-Za-z_-]*$")


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

    def __init__(self, hub: AgentHub, agent_id: str, view: Callable[[Any], Any], registry: StreamRegistry) -> None:
        super().__init__(content=None, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub, self.agent_id, self.view, self.registry = hub, agent_id, view, registry

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
        while not stop.is_set():
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
    import html

    text = (ASSETS / name).read_text(encoding="utf-8")
    return text.replace("{{lang}}", language).replace("{{centre}}", html.escape(centre_name))


def desktop_routes(backend: DeskBackend, users: UserDirectory, *, language: str, centre_name: str,
                   streams: StreamRegistry, limiter: LoginLimiter | None = None,
                   choices: Mapping[str, Any] | None = None) -> list[BaseRoute]:
    """`choices`: the ticket form's choices (:func:`ticket_choices`); without them the form cannot be saved."""
    limiter = limiter or LoginLimiter()
    form_choices = dict(choices or {"categories": {}, "topics": {}, "districts": {}, "departments": {},
                                    "queue_category": {}})
    login_page = _page("login.html", language, centre_name)
    desk_page = _page("desk.html", language, centre_name)

    async def login_form(request: Request) -> Response:
        """Sign-in page.
        ---
        responses:
          200: {description: HTML form}
        """
        token = csrf_token(request)
        return HTMLResponse(login_page.replace("{{csrf}}", token), headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
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
        from callcenter.web.auth import SESSION_CSRF, tokens_match

        if not tokens_match(request.session.get(SESSION_CSRF), body.csrf_token):
            raise WebError(403, "csrf_failed", "missing or wrong CSRF token; reload the page")
        address = client_address(request)
        wait = limiter.retry_after(body.username, address)
        if wait > 0:
            raise WebError(429, "too_many_attempts", f"too many failed sign-ins; try again in {int(wait) + 1} s") \
                from None
        user = await asyncio.to_thread(users.authenticate, body.username, body.password)
        if user is None:
            limiter.failed(body.username, address)
            # The username is not logged (it may be a mistyped password); the address is.
            log.warning("failed sign-in from %s", address)
            raise WebError(401, "bad_credentials", "wrong username or password")
        limiter.succeeded(body.username)
        log_in(request, user)
        log.info("user %s (%s) signed in from %s", user.username, user.role.value, address)
        target = "/admin" if user.role is Role.ADMIN else "/desk"
        if is_form:
            return RedirectResponse(target, status_code=303)
        return JSONResponse({"ok": True, "next": target, "user": user.public(), "csrf_token": csrf_token(request)})

    @requires(*ALL_ROLES)
    async def logout(request: Request) -> Response:
        """Sign out.
        ---
        responses:
          200: {description: signed out}
        """
        log_out(request)
        return JSONResponse({"ok": True})

    @requires(*ALL_ROLES)
    async def me(request: Request) -> Response:
        """The signed-in user and the session's CSRF token.
        ---
        responses:
          200: {description: the user}
          401: {description: not signed in}
        """
        user = request.state.user
        return JSONResponse({**user.public(), "csrf_token": csrf_token(request), "language": language},
                            headers={"Cache-Control": "no-store"})

    @requires(Role.AGENT, page=True)
    async def desk(request: Request) -> Response:
        """The agent desktop page.
        ---
        responses:
          200: {description: HTML}
        """
        return HTMLResponse(desk_page, headers={"Cache-Control": "no-store"})

    def agent_of(request: Request) -> str:
        agent_id = request.state.user.agent_id
        if not agent_id:
            raise WebError(403, "no_agent", "your user is not tied to an agent")
        return str(agent_id)

    @requires(Role.AGENT)
    async def stream(request: Request) -> Response:
        """Server-sent events: `state` and `offer` (the screen-pop) for the signed-in agent.
        ---
        responses:
          200: {description: text/event-stream}
        """
        user = request.state.user
        return HubStream(backend.hub, agent_of(request), lambda p: for_viewer(user, p), streams)

    @requires(Role.AGENT)
    async def get_state(request: Request) -> Response:
        """The agent's state.
        ---
        responses:
          200: {description: state}
        """
        return JSONResponse(backend.state(agent_of(request)))

    @requires(Role.AGENT)
    async def set_state(request: Request) -> Response:
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
        try:
            result = backend.set_state(agent_of(request), body.state, body.reason or "", request.state.user.username)
        except DeskError as exc:
            raise WebError(exc.status, exc.slug, exc.detail) from None
        return JSONResponse(result)

    @requires(Role.AGENT)
    async def call_control(request: Request) -> Response:
        """Control the current call: hold, transfer to a department, hand off to 110/119/120/122.
        ---
        requestBody:
          content:
            application/json:
              schema:
                type: object
                required: [action]
                properties:
                  action: {type: string, enum: [hold, transfer, handoff]}
                  target: {type: string, maxLength: 32}
        responses:
          200: {description: the PBX accepted the request}
          409: {description: no call}
          502: {description: the PBX refused}
        """
        body: CallBody = await json_body(request, CallBody)
        if CONTROLS[body.action].targets is not None and not body.target:
            raise WebError(422, "target_required", "transfer and hand-off need a target")
        try:
            result = await backend.call_control(agent_of(request), body.action, body.target)
        except DeskError as exc:
            raise WebError(exc.status, exc.slug, exc.detail) from None
        return JSONResponse(result)

    @requires(Role.AGENT, Role.SUPERVISOR)
    async def options(request: Request) -> Response:
        """Choices for the desktop's forms.
        ---
        responses:
          200: {description: options}
        """
        return JSONResponse({
            "not_ready_reasons": list(AGENT_REASONS),
            "handoff": HANDOFF_NUMBERS,
            "transfer": TRANSFER_TARGETS,
            **form_choices,
            "tickets_api": backend.tickets_api and choices is not None,
        })

    @requires(Role.SUPERVISOR, Role.ADMIN)
    async def agents(request: Request) -> Response:
        """Every agent's state.
        ---
        responses:
          200: {description: agents}
        """
        return JSONResponse({"agents": backend.agents()})

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/desk", desk, methods=["GET"]),
        Route("/api/desk/stream", stream, methods=["GET"]),
        Route("/api/desk/state", get_state, methods=["GET"]),
        Route("/api/desk/state", set_state, methods=["POST"]),
        Route("/api/desk/call", call_control, methods=["POST"]),
        Route("/api/desk/options", options, methods=["GET"]),
        Route("/api/agents", agents, methods=["GET"]),
        Mount("/desk/static", StaticFiles(directory=ASSETS / "static"), name="desk-static"),
    ]


def invalid_body_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBody)
    return JSONResponse({"error": exc.slug, "detail": str(exc.detail), "fields": exc.fields}, status_code=422)


__all__: Sequence[str] = [
    "DaemonDesk", "DeskBackend", "DeskError", "HubStream", "InvalidBody", "check_csrf", "control_actions",
    "current_user", "desktop_routes", "field_errors", "invalid_body_handler", "json_body",
]


# ------------------------------------------------------------------ desk commands -> ACD events (pure)


def desk_events(current: Any, agent_id: str, state: str, reason: str, at: datetime) -> list[Any]:
    """The engine events for a desk command, given the agent's current state (an `AgentState`)."""
    from queueing import AgentLoggedIn, AgentLoggedOut, AgentNotReady, AgentReady, AgentState

    logged_out = current is AgentState.LOGGED_OUT
    if state == "ready":
        return [AgentLoggedIn(at=at, agent_id=agent_id), AgentReady(at=at, agent_id=agent_id)] if logged_out \
            else [AgentReady(at=at, agent_id=agent_id)]
    if state == "not_ready":
        head = [AgentLoggedIn(at=at, agent_id=agent_id)] if logged_out else []
        return [*head, AgentNotReady(at=at, agent_id=agent_id, reason=reason or "other")]
    if state == "logged_out":
        return [] if logged_out else [AgentLoggedOut(at=at, agent_id=agent_id)]
    raise DeskError(422, "invalid_state", "state is one of ready, not_ready, logged_out")


def engine_refusal(exc: Exception) -> DeskError:
    """An ACD error as the desk shows it (a stable slug, no internals)."""
    name = type(exc).__name__
    if name == "NotOnShift":
        return DeskError(409, "not_on_shift", "you are not on shift now")
    if name == "UnknownAgent":
        return DeskError(404, "unknown_agent", "the ACD does not know this agent")
    return DeskError(409, "not_allowed", f"not possible in your current state ({name})")
