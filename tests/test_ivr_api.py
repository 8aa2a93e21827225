"""Menu versions over HTTP (admins only) and the admin page: save, refuse a bad menu with its problems
next to their lines, roll back; new calls take the new version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callcenter.ivr_service import IvrService
from callcenter.web.app import create_app
from callcenter.web.auth import Role, User, UserDirectory, csrf_token, log_in
from callcenter.web.ivr_api import ivr_routes
from config.loader import load_config
from ivr.versions import MenuRejected

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
USERS = UserDirectory([User("admin", Role.ADMIN), User("1001", Role.AGENT, agent_id="1001")])


async def _test_login(request: Request) -> Response:
    """Test-only sign-in (the real form lives in auth's routes): a session for the named user."""
    user = USERS.get(request.path_params["name"])
    assert user is not None
    log_in(request, user)
    return JSONResponse({"csrf": csrf_token(request)})


@pytest.fixture
async def api(tmp_path):
    service = IvrService(load_config(EXAMPLE, environ={}), tmp_path, lambda: NOW)
    app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="12345", users=USERS, session_secret="s" * 40,
                     extra_routes=lambda streams: [Route("/test-login/{name}", _test_login, methods=["POST"]),
                                                   *ivr_routes(service, language="zh", centre_name="12345")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test") as client:
        yield service, client


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    token = (await client.post(f"/test-login/{name}")).json()["csrf"]
    return {"X-CSRF-Token": token}


async def test_save_check_refuse_and_rollback(api):
    service, client = api
    headers = await login(client, "admin")
    current = (await client.get("/api/ivr")).json()
    assert current["current"]["number"] == 1 and current["current"]["author"] == "config"
    text = (await client.get("/api/ivr/versions/1")).json()["text"]

    bad = text.replace("queue: complaints", "queue: complaint", 1)
    checked = (await client.post("/api/ivr/check", json={"text": bad}, headers=headers)).json()
    assert checked["ok"] is False
    (problem,) = checked["problems"]
    assert problem["key"] == "ivr.nodes.to-complaints.queue" and "unknown queue 'complaint'" in problem["message"]
    assert bad.splitlines()[problem["line"] - 1].strip() == "queue: complaint"

    refused = await client.post("/api/ivr/versions", json={"text": bad}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"] == "menu_rejected"
    assert service.current().number == 1  # the old version keeps serving

    good = text.replace("topic: 咨询", "topic: 政策咨询")
    saved = await client.post("/api/ivr/versions", json={"text": good, "note": "topic"}, headers=headers)
    assert saved.status_code == 201 and saved.json()["number"] == 2 and saved.json()["author"] == "admin"
    assert "+    topic: 政策咨询" in (await client.get("/api/ivr/versions/2")).json()["diff"]
    node = service.current().menu.nodes["to-general"]
    assert getattr(node, "topic", None) == "政策咨询"

    rolled = await client.post("/api/ivr/rollback/1", json={}, headers=headers)
    assert rolled.status_code == 201 and rolled.json()["number"] == 3
    assert service.current().text == text and (await client.get("/api/ivr/versions/9")).status_code == 404


async def test_only_admins_and_only_with_csrf(api):
    service, client = api
    assert (await client.get("/api/ivr")).status_code == 401
    assert (await client.get("/admin/ivr")).status_code == 303  # the page sends visitors to the login form
    agent = await login(client, "1001")
    assert (await client.get("/api/ivr")).status_code == 403
    assert (await client.post("/api/ivr/versions", json={"text": "x"}, headers=agent)).status_code == 403
    await login(client, "admin")
    no_token = await client.post("/api/ivr/versions", json={"text": service.current().text})
    assert no_token.status_code == 403 and no_token.json()["error"] == "csrf_failed"
    assert service.current().number == 1


async def test_admin_page_shows_the_menu_and_history(api):
    _, client = api
    await login(client, "admin")
    page = (await client.get("/admin/ivr")).text
    assert "语音导航编辑器" in page and ">v1<" in page and "您好，欢迎致电12345" in page and 'name="csrf-token"' in page
    assert "保存为新版本" in page and "版本历史" in page


def test_versions_refuse_blank_author_and_keep_order(tmp_path):
    service = IvrService(load_config(EXAMPLE, environ={}), tmp_path, lambda: NOW)
    with pytest.raises(MenuRejected):
        service.save(service.current().text, "  ")
    with pytest.raises(MenuRejected, match="expected a mapping"):
        service.save("- just a list", "admin")
    assert [v.number for v in service.versions.versions] == [1]
