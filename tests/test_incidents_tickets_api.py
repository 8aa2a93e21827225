"""同源件 and work alerts over HTTP: the desk links a suggested ticket in one call, the supervisor
dispatches once and answers all, a department acknowledges and replies to a work alert; roles and slugs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callcenter.web.app import create_app
from callcenter.web.auth import Role, User, UserDirectory, csrf_token, log_in
from incidents.alerts import WorkAlerts
from incidents.sources import IncidentTickets
from incidents.web_tickets import incident_ticket_routes
from records.store import Store
from tests.test_agi_ivr_dialogues import MONDAY_10, Rig
from tests.test_incidents_announce import board_with_candidate
from tests.test_tickets_service import DIRECTORY, new
from tickets.access import Viewer
from tickets.deadlines import WorkCalendar
from tickets.service import TicketService
from tickets.settings import TicketsConfig

USERS = UserDirectory([User("a1001", Role.AGENT, agent_id="1001"), User("lead", Role.SUPERVISOR),
                       User("police", Role.DEPARTMENT, department="xihu.gaj")])


async def _login(request: Request) -> Response:
    user = USERS.get(request.path_params["name"])
    assert user is not None
    log_in(request, user)
    return JSONResponse({"csrf": csrf_token(request)})


@pytest.fixture
async def api(tmp_path: Path) -> Any:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    with Store(f"sqlite:///{tmp_path / 't.db'}") as store:
        svc = TicketService(store, TicketsConfig(), WorkCalendar.china(), DIRECTORY)
        routes = incident_ticket_routes(board, IncidentTickets(svc), WorkAlerts(store.engine), lambda: MONDAY_10)
        app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                         centre_name="12345", users=USERS, session_secret="s" * 40,
                         extra_routes=lambda streams: [Route("/test-login/{name}", _login, methods=["POST"]),
                                                       *routes])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t.test") as client:
            yield svc, client


async def as_user(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    return {"X-CSRF-Token": (await client.post(f"/test-login/{name}")).json()["csrf"]}


async def test_desk_links_supervisor_dispatches_once_and_answers_all(api: Any) -> None:
    svc, client = api
    numbers = [new(svc, caller=f"1390000{i:04d}", content="阳光花园停电了", at=MONDAY_10 - timedelta(minutes=3 - i))
               for i in range(3)]
    agent = await as_user(client, "a1001")
    listed = (await client.get("/api/incidents/1/tickets")).json()
    assert listed["lead"] is None and set(listed["suggested"]) == set(numbers)
    for i, n in enumerate(numbers):
        got = await client.post("/api/incidents/1/tickets", json={"ticket": n}, headers=agent)
        assert got.status_code == 201 and got.json()["lead"] is (i == 0)
    again = await client.post("/api/incidents/1/tickets", json={"ticket": numbers[0]}, headers=agent)
    assert again.status_code == 409 and again.json()["error"] == "already_linked"
    assert (await client.post("/api/incidents/1/tickets", json={"ticket": "nope"}, headers=agent)).status_code == 404
    assert (await client.post("/api/incidents/1/dispatch", json={"department": "xihu.gaj"},
                              headers=agent)).status_code == 403
    sup = await as_user(client, "lead")
    done = await client.post("/api/incidents/1/dispatch", json={"department": "xihu.gaj"}, headers=sup)
    assert done.json() == {"dispatched": numbers[0]}
    twice = await client.post("/api/incidents/1/dispatch", json={"department": "xihu.gaj"}, headers=sup)
    assert twice.status_code == 409
    early = await client.post("/api/incidents/1/answer-all", headers=sup)
    assert early.status_code == 409 and early.json()["error"] == "lead_not_answered"
    police = Viewer.for_department("xihu.gaj")
    svc.transition(numbers[0], "sign", police, MONDAY_10)
    svc.transition(numbers[0], "resolve", police, MONDAY_10 + timedelta(hours=1), note="已恢复供电")
    answered = (await client.post("/api/incidents/1/answer-all", headers=sup)).json()["answered"]
    assert sorted(answered) == sorted(numbers[1:])
    assert (await client.get("/api/incidents/9/tickets")).json()["error"] == "no_such_incident"


async def test_work_alert_is_sent_acknowledged_and_replied(api: Any) -> None:
    _, client = api
    sup = await as_user(client, "lead")
    bad = await client.post("/api/work-alerts", json={"subject": "x", "department": "xihu.gaj", "text": "t",
                                                      "hours": 1e9}, headers=sup)
    assert bad.status_code == 400
    alert = {"subject": "网约车@西湖区", "department": "xihu.gaj", "text": "网约车投诉集中，请核查回复。", "hours": 72}
    sent = await client.post("/api/work-alerts", json=alert, headers=sup)
    assert sent.status_code == 201 and sent.json()["state"] == "sent" and sent.json()["overdue"] is False
    n = sent.json()["id"]
    police = await as_user(client, "police")
    assert [a["id"] for a in (await client.get("/api/work-alerts")).json()["alerts"]] == [n]
    ack = await client.post(f"/api/work-alerts/{n}/acknowledge", headers=police)
    assert ack.json()["state"] == "acknowledged"
    assert (await client.post(f"/api/work-alerts/{n}/acknowledge", headers=police)).status_code == 409
    reply = await client.post(f"/api/work-alerts/{n}/reply", json={"text": "已约谈平台"}, headers=police)
    assert reply.json()["state"] == "replied" and reply.json()["reply"] == "已约谈平台"
    assert (await client.get("/api/work-alerts")).json()["alerts"] == []
    sup = await as_user(client, "lead")
    assert (await client.post(f"/api/work-alerts/{n}/reply", json={"text": "x"}, headers=sup)).status_code == 403
