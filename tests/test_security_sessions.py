"""Issue 15, finding 3: signing out ends the session on the server, and so do an admin's "disable" and a new
password hash; what was ended stays ended across a daemon restart, and what stands survives it.

The real daemon over real HTTP (the PBX simulator on real TCP), restarted twice on the same SQLite database
with the same session secret; the cookies are replayed as an attacker who copied them would.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine

from callcenter.web import sessions
from callcenter.web.auth import hash_password
from config.loader import load_config
from config.models import Config
from records import migrate
from tests.alembic_check import empty_db, table_names, upgraded
from tests.pair import EXAMPLE, running_pair

__all__ = ["empty_db"]  # the fixture, imported for pytest
SECRET = "session-secret-for-the-restart-test-0123456789"
# config/example.yaml's demo passwords
PASSWORDS = {"1001": "agent1001", "supervisor": "supervisor", "admin": "admin12345"}


def config(supervisor_password: str | None = None) -> Config:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"web": cfg.web.model_copy(update={"session_secret": SecretStr(SECRET)}), "mqtt": None})
    if supervisor_password is not None:  # the admin gave the supervisor a new password in the config
        new_hash = SecretStr(hash_password(supervisor_password))
        users = [u.model_copy(update={"password_hash": new_hash}) if u.username == "supervisor" else u
                 for u in cfg.users]
        cfg = cfg.model_copy(update={"users": users})
    return cfg


@asynccontextmanager
async def daemon_web(tmp_path: Path, cfg: Config) -> AsyncIterator[str]:
    async with running_pair(tmp_path, cfg=cfg, database=f"sqlite:///{tmp_path / 'calls.db'}") as pair:
        yield f"http://127.0.0.1:{pair.daemon.web_port}"


async def sign_in(base: str, username: str, password: str | None = None) -> tuple[httpx.Response, dict[str, str]]:
    """Sign in from a fresh browser; returns the answer and the cookies (with the CSRF token under 'csrf')."""
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/login")
        token = re.search(r'id="csrf" value="([^"]+)"', page.text)
        assert token is not None
        r = await http.post("/login", json={"username": username, "password": password or PASSWORDS[username],
                                            "csrf_token": token.group(1)})
        cookies = dict(http.cookies)
        if r.status_code == 200:
            cookies["csrf"] = r.json()["csrf_token"]
        return r, cookies


async def call(base: str, cookies: dict[str, str], method: str, path: str, json: object = None) -> int:
    """The status `path` answers to a replay of `cookies` (a copied cookie, its CSRF token in the header)."""
    jar = {k: v for k, v in cookies.items() if k != "csrf"}
    async with httpx.AsyncClient(base_url=base, cookies=jar) as http:
        r = await http.request(method, path, json=json, headers={"X-CSRF-Token": cookies.get("csrf", "")})
        return r.status_code


async def test_signing_out_disabling_and_a_new_password_end_sessions_across_restarts(tmp_path: Path) -> None:
    async with daemon_web(tmp_path, config()) as base:
        agent = (await sign_in(base, "1001"))[1]
        sup_a, sup_b = (await sign_in(base, "supervisor"))[1], (await sign_in(base, "supervisor"))[1]
        admin = (await sign_in(base, "admin"))[1]
        assert await call(base, agent, "GET", "/api/me") == 200
        assert await call(base, sup_a, "GET", "/api/tickets/export?format=csv") == 200

        # Signing out: the copied cookie no longer reads, changes a state or exports.
        assert await call(base, agent, "POST", "/logout") == 200
        assert await call(base, agent, "GET", "/api/me") == 401
        assert await call(base, agent, "POST", "/api/desk/state", {"state": "ready"}) == 401
        assert await call(base, sup_a, "POST", "/logout") == 200
        assert await call(base, sup_a, "GET", "/api/tickets/export?format=csv") == 401
        assert await call(base, sup_b, "GET", "/api/tickets/export?format=csv") == 200  # only that session ended

        # An admin disables the agent: the agent's live session ends and sign-ins are refused.
        agent2 = (await sign_in(base, "1001"))[1]
        assert await call(base, agent2, "GET", "/api/desk/state") == 200
        assert await call(base, admin, "POST", "/api/admin/users/1001/disable") == 200
        assert await call(base, agent2, "GET", "/api/desk/state") == 401
        r, _ = await sign_in(base, "1001")
        assert r.status_code == 403 and r.json()["error"] == "user_disabled"
        assert await call(base, admin, "POST", "/api/admin/users/admin/disable") == 409  # not oneself

    async with daemon_web(tmp_path, config()) as base:  # restart: same database, same session secret
        assert await call(base, sup_b, "GET", "/api/me") == 200  # what stood still stands
        assert await call(base, admin, "GET", "/api/admin/users") == 200
        for ended in (agent, sup_a, agent2):  # what was ended stays ended
            assert await call(base, ended, "GET", "/api/me") == 401
        r, _ = await sign_in(base, "1001")
        assert r.status_code == 403
        assert await call(base, admin, "POST", "/api/admin/users/1001/enable") == 200
        r, agent3 = await sign_in(base, "1001")
        assert r.status_code == 200

    # The supervisor's password hash is changed in the config: their sessions end, nobody else's.
    async with daemon_web(tmp_path, config(supervisor_password="a-new-password-42")) as base:
        assert await call(base, sup_b, "GET", "/api/me") == 401
        assert await call(base, agent3, "GET", "/api/me") == 200
        r, _ = await sign_in(base, "supervisor")
        assert r.status_code == 401
        r, _ = await sign_in(base, "supervisor", "a-new-password-42")
        assert r.status_code == 200


async def test_admin_signs_a_user_out_everywhere(tmp_path: Path) -> None:
    async with daemon_web(tmp_path, config()) as base:
        one, two = (await sign_in(base, "1001"))[1], (await sign_in(base, "1001"))[1]
        admin = (await sign_in(base, "admin"))[1]
        async with httpx.AsyncClient(base_url=base, cookies={"session": admin["session"]}) as http:
            r = await http.post("/api/admin/users/1001/signout", headers={"X-CSRF-Token": admin["csrf"]})
            assert r.status_code == 200 and r.json()["sessions_ended"] == 2
            audit = (await http.get("/api/admin/audit")).json()
            assert "signout" in str(audit)
        for ended in (one, two):
            assert await call(base, ended, "GET", "/api/me") == 401
        assert (await sign_in(base, "1001"))[0].status_code == 200  # signing out is not disabling


def test_the_migration_builds_the_session_tables(empty_db: str) -> None:
    upgraded(empty_db, ["web_sessions", "web_users_disabled"], sessions.metadata)
    engine = create_engine(empty_db)
    try:  # the migrated tables serve the store as they are
        store = sessions.SessionStore(engine)
        sid = store.open("1001", "$argon2id$hash")
        assert store.stands(sid, "1001", "$argon2id$hash")
        store.revoke(sid)
        assert not sessions.SessionStore(engine).stands(sid, "1001", "$argon2id$hash")
    finally:
        engine.dispose()
    migrate.downgrade(empty_db, "0005")
    assert "web_sessions" not in table_names(empty_db)
    migrate.upgrade(empty_db)


async def test_the_admin_page_disables_a_user_and_their_session_ends(tmp_path: Path) -> None:
    """Headless Chromium: the admin's Users tab (in Chinese) disables agent 1001, whose open session ends."""
    from callcenter.web.screenshot import chromium

    errors: list[str] = []
    async with daemon_web(tmp_path, config()) as base:
        agent = (await sign_in(base, "1001"))[1]
        async with chromium() as browser:
            page = await browser.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/login")
            await page.fill("#username", "admin")
            await page.fill("#password", PASSWORDS["admin"])
            await page.click("#login-button")
            await page.wait_for_url(f"{base}/admin")
            await page.click("#tabs button[data-section='users']")
            row = page.locator("#items-users tr[data-user='1001']")
            await row.wait_for()
            assert "话务员" in await row.inner_text() and "正常" in await row.inner_text()
            await row.locator("button[data-action='disable']").click()
            await page.locator("#items-users tr[data-user='1001'] button[data-action='enable']").wait_for()
            assert "已停用" in await page.locator("#items-users tr[data-user='1001']").inner_text()
            assert await call(base, agent, "GET", "/api/me") == 401
            own = page.locator("#items-users tr[data-user='admin']")
            await own.locator("button[data-action='disable']").click()
            await own.locator(".row-error", has_text="不能停用自己的账号").wait_for()
    assert errors == []


async def test_an_open_desk_stream_ends_with_its_session(tmp_path: Path) -> None:
    """A screen-pop stream opened before signing out delivers nothing after it and ends."""
    async with daemon_web(tmp_path, config()) as base:
        old, other = (await sign_in(base, "1001"))[1], (await sign_in(base, "1001"))[1]
        lines: list[str] = []
        async with httpx.AsyncClient(base_url=base, cookies={"session": old["session"]}, timeout=30) as http, \
                http.stream("GET", "/api/desk/stream") as stream:
            assert stream.status_code == 200
            reader = stream.aiter_lines()
            while not (await anext(reader)).startswith("retry:"):
                pass
            assert await call(base, old, "POST", "/logout") == 200
            # The agent's other session changes the state: an event for agent 1001's streams.
            assert await call(base, other, "POST", "/api/desk/state", {"state": "not_ready", "reason": "meal"}) == 200
            async with asyncio.timeout(20):
                lines = [line async for line in reader]  # ends: the server closed the stream
        assert not any("meal" in line for line in lines), lines


def test_a_session_lasts_its_hours_and_no_longer() -> None:
    now = [datetime(2026, 3, 2, 1, 0, tzinfo=UTC)]
    store = sessions.SessionStore(hours=12, clock=lambda: now[0])
    sid = store.open("1001", "$argon2id$hash")
    now[0] += timedelta(hours=11, minutes=59)
    assert store.stands(sid, "1001", "$argon2id$hash")
    assert not store.stands(sid, "1002", "$argon2id$hash")  # a cookie naming another user: refused
    assert not store.stands(sid, "1001", "$argon2id$other")  # made under another password hash
    now[0] += timedelta(minutes=2)
    assert not store.stands(sid, "1001", "$argon2id$hash")
    assert not store.stands("never-issued", "1001", "$argon2id$hash")
