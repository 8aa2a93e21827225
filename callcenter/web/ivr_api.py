"""IVR menu versions over HTTP, and the admin page that edits a menu (admins only; see auth.py).

    GET  /api/ivr                      current version and the history (number, author, time, note)
    GET  /api/ivr/versions/{n}         one version: its YAML text and the diff against the one before
    POST /api/ivr/check                {"text"} -> {"ok", "problems": [{key, line, message}]} (saves nothing)
    POST /api/ivr/versions             {"text", "note"} -> 201 the new version (new calls take it at once;
                                       calls inside the menu finish on theirs), or 422 ``menu_rejected``
                                       with the problems, and the serving version stays
    POST /api/ivr/rollback/{n}         -> 201 a new version with version n's text
    GET  /admin/ivr                    the editor page: the YAML (CodeMirror) beside the menu's graph,
                                       problems at their lines as one types, prompts to listen to, the
                                       diff before saving or rolling back (callcenter/web/ivr_editor.py)

Saves and rollbacks are recorded in the admin audit trail when ``audit`` is given.

All routes live here so access rules stay in one place.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, csrf_token, requires
from callcenter.web.errors import WebError
from callcenter.web.headers import nonce
from callcenter.web.ivr_editor import MAX_MENU_BYTES, EditorService, editor_routes
from ivr.versions import MenuRejected, MenuVersion

PAGE = Path(__file__).with_name("admin") / "ivr.html"
#: an audit trail's ``append`` (callcenter/web/admin.py AuditLog): one entry per saved or rolled-back version
Audit = Callable[[dict[str, Any]], None]


class MenuService(EditorService, Protocol):
    """What the routes need of callcenter/ivr_service.py's IvrService."""

    def save(self, text: str, author: str, note: str = "") -> MenuVersion: ...

    def rollback(self, number: int, author: str) -> MenuVersion: ...


def _problems(exc: MenuRejected) -> list[dict[str, Any]]:
    if exc.issues:
        return [{"key": i.key, "line": i.line, "message": i.message} for i in exc.issues]
    return [{"key": "", "line": None, "message": p} for p in exc.problems]


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise WebError(400, "bad_json", "the body must be a JSON object")
    return body


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebError(400, "text_missing", "give the menu YAML as 'text'")
    if len(text.encode("utf-8")) > MAX_MENU_BYTES:
        raise WebError(413, "menu_too_large", f"a menu is at most {MAX_MENU_BYTES} bytes")
    return text


def _author(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return str(getattr(user, "username", "") or "admin")


def ivr_routes(service: MenuService, *, language: str = "zh", centre_name: str = "", timezone: str = "Asia/Shanghai",
               audit: Audit | None = None) -> list[BaseRoute]:
    def record(request: Request, action: str, before: MenuVersion, after: MenuVersion) -> None:
        if audit is not None:
            audit({"at": datetime.now(UTC).isoformat(timespec="seconds"), "user": _author(request),
                   "section": "ivr", "key": f"v{after.number}", "action": action,
                   "before": {"version": before.number}, "after": {"version": after.number, "note": after.note}})

    @requires(Role.ADMIN)
    async def overview(request: Request) -> Response:
        versions = service.versions.versions
        return JSONResponse({"current": service.current().summary(), "versions": [v.summary() for v in versions]})

    @requires(Role.ADMIN)
    async def version(request: Request) -> Response:
        try:
            found = service.versions.get(int(request.path_params["number"]))
        except LookupError:
            raise WebError(404, "no_such_version", "no such menu version") from None
        return JSONResponse({**found.summary(), "text": found.text, "diff": found.diff})

    @requires(Role.ADMIN)
    async def check(request: Request) -> Response:
        text = _text(await _json(request))
        try:
            service.versions.check(text)
        except MenuRejected as exc:
            return JSONResponse({"ok": False, "problems": _problems(exc)})
        return JSONResponse({"ok": True, "problems": []})

    @requires(Role.ADMIN)
    async def save(request: Request) -> Response:
        body = await _json(request)
        text = _text(body)
        note = str(body.get("note") or "")[:200]
        before = service.current()
        try:
            saved = service.save(text, _author(request), note)
        except MenuRejected as exc:
            return JSONResponse({"error": "menu_rejected", "detail": "the menu has problems; the serving "
                                 "version stays", "problems": _problems(exc)}, status_code=422)
        record(request, "save", before, saved)
        return JSONResponse(saved.summary(), status_code=201)

    @requires(Role.ADMIN)
    async def rollback(request: Request) -> Response:
        before = service.current()
        try:
            saved = service.rollback(int(request.path_params["number"]), _author(request))
        except LookupError:
            raise WebError(404, "no_such_version", "no such menu version") from None
        except MenuRejected as exc:  # the queues changed since that version
            return JSONResponse({"error": "menu_rejected", "detail": "that version no longer checks",
                                 "problems": _problems(exc)}, status_code=422)
        record(request, "rollback", before, saved)
        return JSONResponse(saved.summary(), status_code=201)

    @requires(Role.ADMIN, page=True)
    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(service, csrf_token(request), language, centre_name, timezone,
                                        nonce(request)),
                            headers={"Cache-Control": "no-store"})

    return [
        Route("/api/ivr", overview, methods=["GET"]),
        Route("/api/ivr/versions/{number:int}", version, methods=["GET"]),
        Route("/api/ivr/check", check, methods=["POST"]),
        Route("/api/ivr/versions", save, methods=["POST"]),
        Route("/api/ivr/rollback/{number:int}", rollback, methods=["POST"]),
        Route("/admin/ivr", page, methods=["GET"]),
        *editor_routes(service, language=language, centre_name=centre_name),
    ]


def render_page(service: MenuService, csrf: str, language: str, centre_name: str, timezone: str,
                nonce: str = "") -> str:
    """The editor page (admin/ivr.html, admin/static/ivr.js): the serving version's text is in the page.
    `nonce`: the response's CSP nonce (callcenter/web/headers.py), for the styles CodeMirror adds at run time."""
    current = service.current()
    data = json.dumps({"text": current.text, "current": current.number, "timezone": timezone},
                      ensure_ascii=False).replace("</", "<\\/")
    lang = "en" if language == "en" else "zh"
    return (PAGE.read_text(encoding="utf-8").replace("{{lang}}", lang)
            .replace("{{centre}}", html.escape(centre_name)).replace("{{csrf}}", html.escape(csrf))
            .replace("{{version}}", str(current.number)).replace("{{nonce}}", html.escape(nonce))
            .replace("{{data}}", data))
