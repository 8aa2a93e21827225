"""Access control of the web app: users and roles, password hashes, sessions, CSRF, login rate limit.

- Users come from the config's ``users`` section (username, role, agent id or department, an argon2id
  hash made by ``python -m callcenter.web.auth`` or :func:`hash_password`). Passwords are never stored.
- Sessions are Starlette's signed cookie (``SessionMiddleware``, secret ``web.session_secret``); the
  cookie holds the username, a session id and a CSRF token, nothing else. The session id must stand in
  the server-side store (callcenter/web/sessions.py): signing out, an admin disabling the user and a new
  password hash end it, also across a restart.
- Every state-changing request (POST/PUT/PATCH/DELETE) of a signed-in user must carry the session's CSRF
  token (header ``X-CSRF-Token`` or form field ``csrf_token``); the login form has its own pre-session token.
- Each protected endpoint is wrapped by :func:`requires` with the roles it admits; the wrapper records them
  on the endpoint (``__roles__``), so a test can walk every route. Routes open to everyone are listed in
  :data:`PUBLIC_PATHS` (the wallboard, health, metrics, the login page, the OpenAPI description).
- Personal data (callers' numbers and names, ID card numbers) is masked by the one policy of
  callcenter/privacy.py; :data:`PII_ROLES` may reveal one ticket's caller (audited).
"""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.requests import Request
from starlette.responses import Response

from callcenter import privacy
from callcenter.web.errors import WebError, forbidden_page
from callcenter.web.headers import nonce
from callcenter.web.sessions import SessionStore

SESSION_USER = "user"
SESSION_CSRF = "csrf"
SESSION_ID = "sid"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Role(StrEnum):
    AGENT = "agent"  # 话务员: own desktop, own calls
    SUPERVISOR = "supervisor"  # 值班长: everything agents see, unmasked, plus other agents' states
    ADMIN = "admin"  # 管理员: configuration pages and the audit trail
    DEPARTMENT = "department"  # 承办单位: tickets dispatched to its department


ALL_ROLES = frozenset(Role)
#: each role's own workspace: where signing in leads, and the way out of a page the role may not open
HOME: dict[Role, str] = {Role.AGENT: "/desk", Role.SUPERVISOR: "/supervisor", Role.ADMIN: "/admin",
                         Role.DEPARTMENT: "/tickets"}
# Roles that may reveal a caller's full number (audited; callcenter/privacy.py). Every page shows it masked.
PII_ROLES = frozenset(Role(r) for r in privacy.REVEAL_ROLES)

# Paths anyone may open: the wallboard (aggregates only, no personal data), health, metrics,
# the login form and the API description. Every other route must be wrapped by `requires`.
PUBLIC_PATHS = frozenset({
    "/", "/api/stats", "/api/stats/stream", "/metrics", "/healthz", "/login", "/openapi.json",
    "/desk/static", "/admin/static",
    # Twilio webhooks are checked by their X-Twilio-Signature (403 otherwise), not by a login.
    "/twilio/voice", "/twilio/status", "/twilio/sms",
})

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
# Verified against when the username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string ``$argon2id$...``) to put in the config's ``users[].password_hash``."""
    if not password:
        raise ValueError("empty password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    agent_id: str | None = None
    department: str | None = None
    display_name: str = ""
    password_hash: str = field(default="", repr=False, compare=False)
    endpoint: str | None = None  # a supervisor's own phone (dial string), for listen / whisper / barge

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PII_ROLES

    def public(self) -> dict[str, Any]:
        """What a page may show of the user (never the hash)."""
        return {"username": self.username, "role": self.role.value, "agent_id": self.agent_id,
                "department": self.department, "display_name": self.display_name or self.username,
                "sees_personal_data": self.sees_personal_data}


class UserDirectory:
    def __init__(self, users: Iterable[User]) -> None:
        self._users = {u.username: u for u in users}

    @classmethod
    def from_config(cls, cfg: Any) -> UserDirectory:
        names = {str(a.id): a.name for a in getattr(cfg, "agents", [])}
        users = []
        for u in getattr(cfg, "users", None) or []:
            users.append(User(
                username=u.username, role=Role(u.role), agent_id=u.agent_id, department=u.department,
                display_name=names.get(u.agent_id or "", "") if u.agent_id else "",
                password_hash=u.password_hash.get_secret_value(), endpoint=getattr(u, "endpoint", None),
            ))
        return cls(users)

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def authenticate(self, username: str, password: str) -> User | None:
        user = self._users.get(username)
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
        return user if (ok and user is not None) else None

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Any:
        return iter(self._users.values())


@dataclass
class _Failures:
    count: int
    last: float


class LoginLimiter:
    """Exponential backoff on failed sign-ins; nobody can lock a user out (docs/security.md, "Sign-in throttling").

    Three counts, each forgotten `forget` seconds after its last failure:

    - one address trying one username: after `free_pair` failures the address waits 1, 2, 4 ... s (at most
      `max_wait`) before its next try of that name (429 with the wait);
    - one address, any username: after `free_address` failures the same (a flood or spray from one address);
    - one username, any address: after `free_user` failures every try of that name is *slowed*, 0.5, 1, 2 ... s
      (at most `max_slowdown`), never refused: the right password from another address still signs in.

    Refused tries cost no hashing. A success clears the name's counts, not the address's (signing in with
    one's own account must not reset a spray). `clock` is monotonic seconds (injected for tests).
    """

    def __init__(self, *, free_pair: int = 5, free_address: int = 20, free_user: int = 5, max_wait: float = 300.0,
                 max_slowdown: float = 4.0, forget: float = 900.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.free = {"p": free_pair, "a": free_address, "u": free_user}
        self.max_wait, self.max_slowdown, self.forget = max_wait, max_slowdown, forget
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, _Failures] = {}

    def _count(self, key: str, now: float) -> _Failures | None:
        f = self._failures.get(key)
        if f is not None and now - f.last >= self.forget:
            del self._failures[key]
            return None
        return f

    def _backoff(self, kind: str, f: _Failures | None, first: float, cap: float) -> float:
        over = f.count - self.free[kind] if f is not None else -1
        return 0.0 if over < 0 else min(first * 2.0 ** min(over, 30), cap)

    def retry_after(self, username: str, address: str) -> float:
        """0 when this address may try this username now, else the seconds to wait."""
        now = self._clock()
        wait = 0.0
        for kind, key in (("p", f"p:{address}\0{username}"), ("a", f"a:{address}")):
            f = self._count(key, now)
            if f is not None:
                wait = max(wait, f.last + self._backoff(kind, f, 1.0, self.max_wait) - now)
        return wait

    def slowdown(self, username: str) -> float:
        """Seconds to hold a try of this username before checking it (many failures from anywhere)."""
        return self._backoff("u", self._count(f"u:{username}", self._clock()), 0.5, self.max_slowdown)

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        for key in (f"p:{address}\0{username}", f"a:{address}", f"u:{username}"):
            f = self._count(key, now)
            if f is None:
                if len(self._failures) >= self._max_keys:  # bounded memory under a spray of names
                    del self._failures[min(self._failures, key=lambda k: self._failures[k].last)]
                self._failures[key] = _Failures(1, now)
            else:
                f.count, f.last = f.count + 1, now

    def succeeded(self, username: str, address: str = "") -> None:
        self._failures.pop(f"u:{username}", None)
        self._failures.pop(f"p:{address}\0{username}", None)


# ------------------------------------------------------------------ sessions and CSRF


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def check_csrf(request: Request) -> None:
    """Raise 403 `csrf_failed` unless the request carries the session's token (header or form field)."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and is_urlencoded(request):
        given = (await form_fields(request)).get(CSRF_FIELD)
    if not tokens_match(request.session.get(SESSION_CSRF), given):
        raise WebError(403, "csrf_failed", "missing or wrong CSRF token; reload the page")


def is_urlencoded(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def form_fields(request: Request) -> dict[str, str]:
    """A url-encoded form's fields (first value of each). Parsed here: no python-multipart needed."""
    from urllib.parse import parse_qs

    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError:
        raise WebError(400, "bad_form", "the form is not UTF-8") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=50).items()}


def log_in(request: Request, user: User) -> None:
    sessions: SessionStore = request.app.state.sessions
    old = request.session.get(SESSION_ID)
    if isinstance(old, str):
        sessions.revoke(old, "replaced")
    request.session.clear()  # a new session on every login: no fixation
    request.session[SESSION_USER] = user.username
    request.session[SESSION_ID] = sessions.open(user.username, user.password_hash)
    csrf_token(request)


def log_out(request: Request) -> None:
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str):
        request.app.state.sessions.revoke(session_id, "logout")
    request.session.clear()


def session_user(request: Request) -> User | None:
    """The user whose session the request's cookie names, if that session still stands (no side effect:
    long streams ask it again and again)."""
    if "session" not in request.scope:
        return None
    directory: UserDirectory = request.app.state.users
    name, session_id = request.session.get(SESSION_USER), request.session.get(SESSION_ID)
    user = directory.get(name) if isinstance(name, str) else None
    if user is None or not isinstance(session_id, str):
        return None
    sessions: SessionStore = request.app.state.sessions
    return user if sessions.stands(session_id, user.username, user.password_hash) else None


def current_user(request: Request) -> User | None:
    """The signed-in user, or None: no cookie, or a cookie whose session was ended server-side."""
    user = session_user(request)
    if user is None and "session" in request.scope and request.session.get(SESSION_ID) is not None:
        request.session.clear()  # an ended session: the browser gets an empty cookie back
    return user


Endpoint = Callable[[Request], Awaitable[Response]]


def requires(*roles: Role, csrf: bool = True, page: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Wrap an endpoint: 401 `login_required` without a session, 403 `forbidden` for another role,
    403 `csrf_failed` for an unsafe method without the token. `page=True`: a browser page, so an
    anonymous visitor is sent to the login form instead of getting JSON. The user is `request.state.user`.
    """
    admitted = frozenset(roles)
    if not admitted:
        raise ValueError("requires() needs at least one role")

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                if page and request.method == "GET":
                    from starlette.responses import RedirectResponse

                    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
                raise WebError(401, "login_required", "sign in first")
            if user.role not in admitted:
                if page and request.method == "GET":
                    return forbidden_page(getattr(request.app.state, "language", "zh"), HOME[user.role],
                                          nonce(request))
                raise WebError(403, "forbidden", "your role may not use this")
            if csrf and request.method in UNSAFE_METHODS:
                await check_csrf(request)
            request.state.user = user
            return await endpoint(request)

        guarded.__roles__ = admitted  # type: ignore[attr-defined]
        return guarded

    return wrap


def route_roles(endpoint: Any) -> frozenset[Role] | None:
    """The roles a wrapped endpoint admits; None for an unwrapped (public) one."""
    roles = getattr(endpoint, "__roles__", None)
    return frozenset(roles) if roles is not None else None


# ------------------------------------------------------------------ personal data

# The masking policy itself is callcenter/privacy.py (one module for every path); these names stay here
# for the pages and tests that import them.
mask_phone = privacy.mask_phone
mask_text = privacy.mask_text


def for_viewer(user: User, payload: Any) -> Any:
    """A screen-pop as the desk shows it to `user` (callcenter/privacy.py: masked for every role)."""
    return privacy.screen_pop_for_web(payload)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def redact_secret(text: str, secrets_: Iterable[str]) -> str:
    for s in secrets_:
        if s:
            text = text.replace(s, "***")
    return text


# ------------------------------------------------------------------ wiring into the app

# The wallboard's routes live in app.py without docstrings; their description is kept here.
_PUBLIC_OPERATIONS: dict[str, dict[str, Any]] = {
    "/api/stats": {"get": {"summary": "Live statistics (aggregates only)", "security": [],
                           "responses": {"200": {"description": "the snapshot"},
                                         "503": {"description": "stats_unavailable"}}}},
    "/healthz": {"get": {"summary": "Health", "security": [],
                         "responses": {"200": {"description": "ok"}, "503": {"description": "unhealthy"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                         "responses": {"200": {"description": "text exposition"}}}},
}


def openapi_document(routes: list[Any], *, title: str = "callcenter HTTP API", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3 description: each endpoint's docstring (YAML after `---`), its roles, and security.

    Routes that stream or serve pages (SSE, HTML, static files) are described but not fuzzable.
    """
    from starlette.schemas import SchemaGenerator

    generator = SchemaGenerator({
        "openapi": "3.0.3",
        "info": {"title": title, "version": version,
                 "description": "Sign in with POST /login (JSON); then send the session cookie, and on POST/PUT/"
                                "DELETE the header X-CSRF-Token with the token from GET /api/me."},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        }},
    })
    doc = generator.get_schema(routes)
    paths = doc.setdefault("paths", {})
    for path, ops in _PUBLIC_OPERATIONS.items():
        paths.setdefault(path, ops)
    roles_by_op = {(r.path, m.lower()): route_roles(r.endpoint)
                   for r in routes if hasattr(r, "endpoint") and getattr(r, "methods", None)
                   for m in r.methods}
    for path, ops in paths.items():
        for method, op in ops.items():
            roles = roles_by_op.get((path, method))
            op.setdefault("responses", {"200": {"description": "ok"}})
            if roles is not None:
                op["x-roles"] = sorted(r.value for r in roles)
                op["security"] = [{"session": [], "csrf": []}] if method in ("post", "put", "patch", "delete") \
                    else [{"session": []}]
                op["responses"].setdefault("401", {"description": "login_required"})
                op["responses"].setdefault("403", {"description": "forbidden or csrf_failed"})
            else:
                op.setdefault("security", [])
    return doc


def session_middleware(secret: str | None, *, hours: float = 12, https_only: bool = False) -> Any:
    """Starlette's signed-cookie sessions (itsdangerous). No secret: a random one for this process."""
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    return Middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(48), session_cookie="session",
                      max_age=int(hours * 3600), same_site="strict", https_only=https_only)


def _main() -> int:
    """`python -m callcenter.web.auth`: read a password (not echoed) and print its hash for users[].password_hash."""
    import getpass
    import sys

    first = getpass.getpass("password: ")
    if not first or getpass.getpass("again: ") != first:
        print("the passwords are empty or differ", file=sys.stderr)
        return 2
    print(hash_password(first))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
