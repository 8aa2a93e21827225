"""Access control over the whole web app: every route walked with every role, sign-in, CSRF, rate limit,
no secret in pages, errors or logs. The app is the real one (create_app) over ASGI, with a fake desk."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from callcenter.screenpop import AgentHub
from callcenter.web import create_app
from callcenter.web.admin import AuditLog, ConfigEditor, admin_routes
from callcenter.web.auth import (
    PUBLIC_PATHS,
    LoginLimiter,
    Role,
    User,
    UserDirectory,
    hash_password,
    mask_phone,
    mask_text,
    route_roles,
    verify_password,
)
from callcenter.web.desktop import DeskError, desktop_routes
from callcenter.web.supervisor import supervisor_routes
from config.loader import load_config
from config.models import Config
from tests.pair import EXAMPLE

PASSWORDS = {"agent": "agent-pass-1", "supervisor": "super-pass-2", "admin": "admin-pass-3",
             "department": "dept-pass-4"}
HASHES = {role: hash_password(pw) for role, pw in PASSWORDS.items()}
SECRET = "s" * 40


class FakeDesk:
    """A DeskBackend without a daemon: records what it was asked."""

    def __init__(self) -> None:
        self.hub = AgentHub()
        self.tickets_api = False
        self.commands: list[tuple[str, ...]] = []
        self.notes: list[dict[str, Any]] = []

    def state(self, agent_id: str) -> dict[str, Any]:
        return {"agent_id": agent_id, "state": "not_ready", "reason": "login"}

    def set_state(self, agent_id: str, state: str, reason: str, by: str) -> dict[str, Any]:
        self.commands.append((agent_id, state, reason, by))
        return {"agent_id": agent_id, "state": state, "reason": reason}

    async def call_control(self, agent_id: str, action: str, target: str) -> dict[str, Any]:
        raise DeskError(409, "no_call", "you have no call to control")

    async def save_note(self, agent_id: str, note: dict[str, Any]) -> dict[str, Any]:
        self.notes.append(note)
        return {"ok": True, "call_id": note["call_id"], "stored": "call_note"}

    def agents(self) -> list[dict[str, Any]]:
        return [{"agent_id": "1001", "state": "ready", "reason": ""}]

    def extend_wrapup(self, agent_id: str, seconds: int) -> dict[str, Any]:
        raise DeskError(409, "not_allowed", "not in wrap-up")

    def heartbeat(self, agent_id: str) -> None:
        self.commands.append((agent_id, "heartbeat", "", ""))

    def page_options(self) -> dict[str, Any]:
        return {"queues": {"general": "综合咨询"}, "heartbeat_seconds": 45}


class FakeSupervisor:
    """A SupervisorBackend without a daemon: an empty board, actions echoed."""

    def board(self) -> dict[str, Any]:
        return {"now": "2026-03-02T09:00:00+00:00", "timezone": "Asia/Shanghai", "agents": [], "queues": [],
                "recent": []}

    async def force_state(self, agent_id: str, state: str, reason: str, user: str) -> dict[str, Any]:
        return {"ok": True, "agent_id": agent_id, "state": state, "reason": reason}

    async def set_queues(self, agent_id: str, queues: list[str], user: str) -> dict[str, Any]:
        return {"ok": True, "agent_id": agent_id, "queues": queues}

    async def set_priority(self, call_id: str, priority: int, user: str) -> dict[str, Any]:
        return {"ok": True, "call_id": call_id, "priority": priority}

    async def spy(self, agent_id: str, mode: str, user: str, endpoint: str | None) -> dict[str, Any]:
        return {"ok": True, "agent_id": agent_id, "mode": mode}


def users() -> UserDirectory:
    return UserDirectory([
        User("agent1", Role.AGENT, agent_id="1001", password_hash=HASHES["agent"]),
        User("super1", Role.SUPERVISOR, password_hash=HASHES["supervisor"]),
        User("admin1", Role.ADMIN, password_hash=HASHES["admin"]),
        User("dept1", Role.DEPARTMENT, department="住建局", password_hash=HASHES["department"]),
    ])


USERNAMES = {"agent": "agent1", "supervisor": "super1", "admin": "admin1", "department": "dept1"}


def example_config() -> Config:
    return load_config(EXAMPLE, environ={})


def make_app(tmp_path: Path, *, desk: FakeDesk | None = None, limiter: LoginLimiter | None = None,
             cfg: Config | None = None) -> Starlette:
    desk = desk or FakeDesk()
    editor = ConfigEditor(cfg or example_config(), AuditLog(tmp_path / "audit.jsonl"), tmp_path / "edits.yaml",
                          clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = create_app(
        snapshot=lambda: {"now": "x"}, metrics_text=lambda: (b"", "text/plain"), language="zh",
        centre_name="测试中心",
        extra_routes=lambda streams: [
            *desktop_routes(desk, users(), language="zh", centre_name="测试中心", streams=streams, limiter=limiter),
            *admin_routes(editor, language="zh", centre_name="测试中心"),
            *supervisor_routes(FakeSupervisor(), language="zh", centre_name="测试中心", streams=streams,
                               queues={"general": "综合咨询"}),
        ],
        users=users(), session_secret=SECRET,
    )
    app.state.desk = desk
    app.state.editor = editor
    return app


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def login_token(http: httpx.AsyncClient) -> str:
    page = await http.get("/login")
    match = re.search(r'id="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


async def sign_in(http: httpx.AsyncClient, role: str) -> str:
    """Sign in as the user of `role`; returns the session's CSRF token."""
    token = await login_token(http)
    r = await http.post("/login", json={"username": USERNAMES[role], "password": PASSWORDS[role], "csrf_token": token})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def walk(app: Starlette) -> list[tuple[str, str, frozenset[Role] | None]]:
    out = []
    for r in app.routes:
        if isinstance(r, Route):
            for method in sorted((r.methods or set()) - {"HEAD"}):
                out.append((r.path, method, route_roles(r.endpoint)))
    return out


def concrete(path: str) -> str:
    return path.replace("{section}", "agents").replace("{key}", "1001").replace("{agent_id}", "1001") \
        .replace("{call_id}", "c1")


def test_every_route_is_public_by_name_or_checks_roles(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    routes = walk(app)
    assert len(routes) > 20
    for path, method, roles in routes:
        if roles is None:
            assert path in PUBLIC_PATHS, f"{method} {path} checks no role and is not listed as public"
    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    assert set(mounts) <= PUBLIC_PATHS  # static files only


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin", "department"])
async def test_every_route_refuses_the_wrong_role(tmp_path: Path, role: str | None) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        csrf = await sign_in(http, role) if role else ""
        checked = 0
        for path, method, roles in walk(app):
            if roles is None:
                continue
            admitted = role is not None and Role(role) in roles
            if admitted and path in ("/api/desk/stream", "/api/supervisor/stream", "/logout"):
                continue  # an endless stream (the browser test reads it); signing out (tested below)
            r = await http.request(method, concrete(path), headers={"X-CSRF-Token": csrf},
                                   json={} if method in ("POST", "PUT") else None, follow_redirects=False)
            if role is None:
                assert r.status_code in (401, 303), (method, path, r.status_code)
            elif admitted:
                assert r.status_code not in (401, 403, 500), (role, method, path, r.status_code, r.text)
            elif r.headers["content-type"].startswith("text/html"):  # a page: a page in the centre's language
                assert r.status_code == 403 and method == "GET", (role, method, path, r.status_code)
                assert 'data-error="forbidden"' in r.text and "无权访问" in r.text
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert r.json()["error"] == "forbidden"
            checked += 1
        assert checked >= 14  # /api/desk/notes is gone: the desk posts tickets to /api/tickets


async def test_unsafe_requests_need_the_csrf_token(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        csrf = await sign_in(http, "agent")
        r = await http.post("/api/desk/state", json={"state": "ready"})
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
        r = await http.post("/api/desk/state", json={"state": "ready"}, headers={"X-CSRF-Token": "wrong"})
        assert r.status_code == 403
        r = await http.post("/api/desk/state", json={"state": "ready"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
    assert app.state.desk.commands == [("1001", "ready", "", "agent1")]


async def test_login_needs_its_csrf_token_and_is_rate_limited(tmp_path: Path) -> None:
    now = [0.0]
    app = make_app(tmp_path, limiter=LoginLimiter(free_pair=3, clock=lambda: now[0]))
    async with client(app) as http:
        r = await http.post("/login", json={"username": "agent1", "password": PASSWORDS["agent"], "csrf_token": "x"})
        assert r.status_code == 403
        token = await login_token(http)
        for _ in range(3):
            r = await http.post("/login", json={"username": "agent1", "password": "nope", "csrf_token": token})
            assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
        # Blocked now, even with the right password; the reply says when to retry.
        r = await http.post("/login", json={"username": "agent1", "password": PASSWORDS["agent"], "csrf_token": token})
        assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
        now[0] = 61.0
        r = await http.post("/login", json={"username": "agent1", "password": PASSWORDS["agent"], "csrf_token": token})
        assert r.status_code == 200
        me = (await http.get("/api/me")).json()
        assert me["username"] == "agent1" and me["agent_id"] == "1001"
        assert "password_hash" not in me and "$argon2" not in str(me)


async def test_form_login_redirects_and_logout_clears_the_session(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        token = await login_token(http)
        r = await http.post("/login", data={"username": "admin1", "password": PASSWORDS["admin"], "csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/admin"
        me = (await http.get("/api/me")).json()
        r = await http.post("/logout", headers={"X-CSRF-Token": me["csrf_token"]})
        assert r.status_code == 200
        assert (await http.get("/api/me")).status_code == 401
        r = await http.get("/desk", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_no_secret_in_pages_errors_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(tmp_path)
    bodies = []
    async with client(app) as http:
        token = await login_token(http)
        r = await http.post("/login", json={"username": "admin1", "password": "admin-pass-WRONG", "csrf_token": token})
        bodies.append(r.text)
        await sign_in(http, "admin")
        for path in ("/admin", "/api/me", "/api/admin/agents", "/openapi.json", "/login", "/api/admin/audit"):
            bodies.append((await http.get(path)).text)
    text = "\n".join(bodies) + caplog.text
    for secret in (*PASSWORDS.values(), "admin-pass-WRONG", SECRET, *HASHES.values(), "change-me"):
        assert secret not in text
    assert "$argon2" not in text


async def test_openapi_lists_the_api_with_roles(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        doc = (await http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    put = doc["paths"]["/api/admin/{section}/{key}"]["put"]
    assert put["x-roles"] == ["admin"]
    assert doc["paths"]["/api/desk/state"]["post"]["x-roles"] == ["agent"]
    assert doc["paths"]["/api/stats"]["get"]["security"] == []


def test_password_hashes_verify_and_refuse() -> None:
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "wrong")
    assert not verify_password("not-a-hash", "x")
    assert users().authenticate("nobody", "x") is None
    with pytest.raises(ValueError):
        hash_password("")


def test_masking_of_personal_data() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("02161234567") == "021****4567"
    assert mask_phone("12345") == "*****"
    text = "身份证110101199003071234，电话13912345678，工单2026030100001"
    masked = mask_text(text)
    assert "110101********1234" in masked and "139****5678" in masked
    assert "2026030100001" in masked  # a ticket number is no ID card
    assert "199003071234" not in masked and "12345678" not in masked
