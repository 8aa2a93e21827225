"""Admin: switch a user off, back on, or sign them out everywhere (the sessions are server-side, sessions.py).

    GET  /api/admin/users                        users, whether disabled, open sessions   admin
    POST /api/admin/users/{username}/disable     refuse sign-ins, end every session        admin
    POST /api/admin/users/{username}/enable      allow sign-ins again                      admin
    POST /api/admin/users/{username}/signout     end every session (the user may sign in)  admin

Users and passwords stay in the config; a new password hash there ends the user's sessions at the next start.
Every change is written to the admin audit trail (who, when, what).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from callcenter.web.auth import Role, UserDirectory, requires
from callcenter.web.errors import WebError
from callcenter.web.sessions import SessionStore

log = logging.getLogger("callcenter.sessions")

Audit = Callable[[dict[str, Any]], None]


def users_routes(users: UserDirectory, sessions: SessionStore, audit: Audit | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[BaseRoute]:
    def target(request: Request) -> str:
        name = str(request.path_params["username"])
        if users.get(name) is None:
            raise WebError(404, "no_such_user", "no such user")
        return name

    def record(request: Request, name: str, action: str, ended: int) -> None:
        by = request.state.user.username
        log.info("user %s: %s by %s (%d sessions ended)", name, action, by, ended)
        if audit is not None:
            audit({"at": clock().isoformat(timespec="seconds"), "user": by, "section": "users", "key": name,
                   "action": action, "before": None, "after": {"sessions_ended": ended}})

    @requires(Role.ADMIN)
    async def list_users(request: Request) -> Response:
        """Users with their role, whether disabled and their open sessions.
        ---
        responses:
          200: {description: the users}
        """
        return JSONResponse({"users": [
            {**u.public(), "disabled": sessions.is_disabled(u.username),
             "open_sessions": sessions.open_sessions(u.username)} for u in users]},
            headers={"Cache-Control": "no-store"})

    @requires(Role.ADMIN)
    async def disable(request: Request) -> Response:
        """Disable a user: sign-ins refused, every session ended.
        ---
        responses:
          200: {description: disabled}
          404: {description: no such user}
          409: {description: an admin cannot disable themselves}
        """
        name = target(request)
        if name == request.state.user.username:
            raise WebError(409, "cannot_disable_self", "you cannot disable your own user")
        ended = sessions.disable(name, request.state.user.username)
        record(request, name, "disable", ended)
        return JSONResponse({"ok": True, "username": name, "disabled": True, "sessions_ended": ended})

    @requires(Role.ADMIN)
    async def enable(request: Request) -> Response:
        """Enable a disabled user again.
        ---
        responses:
          200: {description: enabled}
          404: {description: no such user}
        """
        name = target(request)
        sessions.enable(name)
        record(request, name, "enable", 0)
        return JSONResponse({"ok": True, "username": name, "disabled": False})

    @requires(Role.ADMIN)
    async def sign_out(request: Request) -> Response:
        """End every session of a user (a lost laptop); they may sign in again.
        ---
        responses:
          200: {description: signed out}
          404: {description: no such user}
        """
        name = target(request)
        ended = sessions.revoke_user(name, "admin")
        record(request, name, "signout", ended)
        return JSONResponse({"ok": True, "username": name, "sessions_ended": ended})

    return [
        Route("/api/admin/users", list_users, methods=["GET"]),
        Route("/api/admin/users/{username}/disable", disable, methods=["POST"]),
        Route("/api/admin/users/{username}/enable", enable, methods=["POST"]),
        Route("/api/admin/users/{username}/signout", sign_out, methods=["POST"]),
    ]
