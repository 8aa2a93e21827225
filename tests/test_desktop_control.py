"""The desk's pure parts: call control -> AMI actions, desk commands -> ACD events, masked pops, forms."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.desk import DeskError, control_actions, desk_events
from callcenter.web.auth import Role, User, for_viewer
from queueing import AgentLoggedIn, AgentLoggedOut, AgentNotReady, AgentReady, AgentState
from tests.test_auth_routes import client, make_app, sign_in

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CH = {"caller_channel": "PJSIP/trunk-00000001", "agent_channel": "PJSIP/1001-00000002"}


def test_call_control_maps_to_ami_actions() -> None:
    assert control_actions("hold", "", **CH) == [
        ("Park", {"Channel": "PJSIP/trunk-00000001", "TimeoutChannel": "PJSIP/1001-00000002", "Timeout": 120000})]
    assert control_actions("transfer", "8101", **CH) == [
        ("BlindTransfer", {"Channel": "PJSIP/1001-00000002", "Context": "cc-transfer", "Exten": "8101"})]
    assert control_actions("handoff", "120", **CH) == [
        ("Atxfer", {"Channel": "PJSIP/1001-00000002", "Context": "cc-handoff", "Exten": "120"})]
    with pytest.raises(DeskError) as err:
        control_actions("handoff", "999", **CH)
    assert err.value.slug == "invalid_target"
    with pytest.raises(DeskError):
        control_actions("conference", "", **CH)
    with pytest.raises(DeskError) as err:
        control_actions("transfer", "110", **CH)  # departments only: 110 is a hand-off
    assert err.value.slug == "invalid_target"


def test_desk_commands_map_to_acd_events() -> None:
    out = desk_events(AgentState.LOGGED_OUT, "1001", "ready", "", T0)
    assert out == [AgentLoggedIn(at=T0, agent_id="1001"), AgentReady(at=T0, agent_id="1001")]
    assert desk_events(AgentState.READY, "1001", "not_ready", "meal", T0) == [
        AgentNotReady(at=T0, agent_id="1001", reason="meal")]
    assert desk_events(AgentState.NOT_READY, "1001", "logged_out", "", T0) == [AgentLoggedOut(at=T0, agent_id="1001")]
    assert desk_events(AgentState.LOGGED_OUT, "1001", "logged_out", "", T0) == []


def test_pop_is_masked_for_every_role() -> None:
    pop = {"caller_number": "13800138000", "caller_name": "李先生",
           "history": {"open_tickets": [{"title": "身份证110101199003071234 反映噪音"}], "last_calls": []}}
    agent = for_viewer(User("a", Role.AGENT, agent_id="1001"), pop)
    assert agent["caller_number"] == "138****8000"
    assert agent["history"]["open_tickets"][0]["title"] == "身份证110101********1234 反映噪音"
    # One policy for every role on the web (callcenter/privacy.py): a supervisor reveals a number explicitly.
    assert for_viewer(User("s", Role.SUPERVISOR), pop) == agent


async def test_desk_api_validates_state_and_call_control(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with client(app) as http:
        h = {"X-CSRF-Token": await sign_in(http, "agent")}
        r = await http.post("/api/desk/state", json={"state": "not_ready"}, headers=h)
        assert r.status_code == 422 and r.json()["error"] == "reason_required"
        r = await http.post("/api/desk/state", json={"state": "not_ready", "reason": "meal"}, headers=h)
        assert r.status_code == 200
        r = await http.get("/api/desk/options", headers=h)
        assert r.status_code == 200 and r.json()["tickets_api"] is False  # no ticket service in this app
        r = await http.post("/api/desk/call", json={"action": "hold"}, headers=h)
        assert r.status_code == 409 and r.json()["error"] == "no_call"
        r = await http.post("/api/desk/call", json={"action": "transfer"}, headers=h)
        assert r.status_code == 422
        r = await http.post("/api/desk/state", content=b"{", headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 400
    assert app.state.desk.commands == [("1001", "not_ready", "meal", "agent1")]
