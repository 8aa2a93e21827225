"""The ticket routes over ASGI with real sign-in (callcenter/web/auth.py) on SQLite: create, list by
role with deadlines, transitions, confidentiality, exports to CSV and XLSX, the page's form."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callcenter.web import create_app
from callcenter.web.auth import Role, User, UserDirectory, csrf_token, log_in
from callcenter.web.tickets_api import tickets_routes
from records.store import Store
from records.testing import make_record
from tickets.deadlines import WorkCalendar
from tickets.departments import build, read_csv
from tickets.service import TicketService
from tickets.settings import TicketsConfig

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # Mon 10:00 in Shanghai
USERS = UserDirectory([
    User("agent1", Role.AGENT, agent_id="1001"),
    User("agent2", Role.AGENT, agent_id="1002"),
    User("super1", Role.SUPERVISOR),
    User("police", Role.DEPARTMENT, department="xihu.gaj"),
    User("xihu", Role.DEPARTMENT, department="xihu"),
])


@pytest.fixture
async def app_and_store(tmp_path: Path) -> AsyncIterator[tuple[object, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'api.db'}")
    svc = TicketService(store, TicketsConfig(), WorkCalendar.china(), build(read_csv(ROOT / "config/departments.csv")))
    async def test_login(request: Request) -> Response:  # stands in for the desktop's /login form
        user = USERS.get(request.path_params["name"])
        assert user is not None
        log_in(request, user)
        return JSONResponse({"csrf_token": csrf_token(request)})

    app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="测试中心",
                     extra_routes=lambda _s: [*tickets_routes(svc, now=lambda: NOW),
                                              Route("/test-login/{name}", test_login, methods=["POST"])],
                     users=USERS, session_secret="s" * 40)
    yield app, store
    store.close()


async def signed_in(app: object, username: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]
    r = await http.post(f"/test-login/{username}")
    assert r.status_code == 200, r.text
    return http, str(r.json()["csrf_token"])


async def test_create_dispatch_and_department_view(app_and_store: tuple[object, Store]) -> None:
    app, store = app_and_store
    store.write_batch([make_record("call-1", entered_at=NOW, caller="13900001111")])
    agent, csrf = await signed_in(app, "agent1")
    r = await agent.post("/api/tickets", headers={"X-CSRF-Token": csrf},
                         json={"category": "help", "content": "=HYPERLINK(\"x\") 路灯不亮", "call_id": "call-1",
                               "county": "xihu", "confidential": True})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    # masked on every web path (callcenter/privacy.py); the record gave the full one (see the reveal tests)
    assert r.json()["caller_number"] == "139****1111" and r.json()["calls"] == ["call-1"]
    r = await agent.post(f"/api/tickets/{number}/transition", headers={"X-CSRF-Token": csrf},
                         json={"action": "sign"})
    assert (r.status_code, r.json()["error"]) == (409, "illegal_transition")
    r = await agent.post(f"/api/tickets/{number}/transition", headers={"X-CSRF-Token": csrf},
                         json={"action": "dispatch", "department": "xihu.gaj"})
    assert r.status_code == 200 and r.json()["due_at"] == "2026-10-08T16:00:00+00:00"  # end of Oct 8 local

    other, _ = await signed_in(app, "agent2")
    assert (await other.get(f"/api/tickets/{number}")).status_code == 404  # confidential, not theirs
    police, pcsrf = await signed_in(app, "police")
    body = (await police.get("/api/tickets")).json()["tickets"]
    assert [t["number"] for t in body] == [number]
    assert body[0]["caller_number"] == "***" and body[0]["due_at"]
    detail = (await police.get(f"/api/tickets/{number}")).json()
    assert detail["actions"] == ["sign", "return", "reassign", "remind", "supervise", "merge"]
    r = await police.post(f"/api/tickets/{number}/transition", headers={"X-CSRF-Token": pcsrf},
                          json={"action": "sign"})
    assert r.json()["state"] == "in_progress"
    r = await police.post("/api/tickets", headers={"X-CSRF-Token": pcsrf}, json={"category": "help", "content": "x"})
    assert r.status_code == 403

    sup, _ = await signed_in(app, "super1")
    r = await sup.get("/api/tickets/export", params={"since": "2026-09-01", "until": "2026-10-01", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["number"] for row in rows] == [number]
    assert rows[0]["content"].startswith("'=")  # a formula stays text
    assert rows[0]["caller_number"] == "139****1111"  # exports never carry full numbers
    r = await police.get("/api/tickets/export", params={"since": "2026-09-01", "until": "2026-10-01",
                                                        "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][0] == number and values[1][values[0].index("caller_number")] == "***"
    history = (await sup.get("/api/callers/13900001111/history")).json()
    assert [t["number"] for t in history["open_tickets"]] == [number]
    assert [c["call_id"] for c in history["calls"]] == ["call-1"]
    for http in (agent, other, police, sup):
        await http.aclose()


async def test_page_form_prefilled_from_a_call(app_and_store: tuple[object, Store]) -> None:
    app, store = app_and_store
    store.write_batch([make_record("call-9", entered_at=NOW, caller="13900009999")])
    agent, _ = await signed_in(app, "agent1")
    page = await agent.get("/tickets", params={"call_id": "call-9"})
    assert page.status_code == 200
    assert 'placeholder="139****9999"' in page.text and "13900009999" not in page.text and "新建工单" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = await agent.post("/api/tickets", data={"csrf_token": token.group(1), "call_id": "call-9",
                                               "caller_number": "13900009999", "category": "consultation",
                                               "channel": "phone", "content": "社保查询"})
    assert r.status_code == 303
    page = await agent.get("/tickets")
    assert "社保查询" in page.text
    xihu, _ = await signed_in(app, "xihu")
    assert "新建工单" not in (await xihu.get("/tickets")).text  # departments do not create tickets
    await agent.aclose()
    await xihu.aclose()
