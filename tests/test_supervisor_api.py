"""The supervisor's console API against the daemon and the PBX simulator over real TCP: each action (force
ready / not ready / log out, move between queues, raise a waiting caller's priority, listen / whisper / barge)
changes the ACD, shows on the board and is written to the audit log; other roles are refused, pages as HTML."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from asterisk.sim.pbx import AppCall
from asterisk.sim.testing import RawAmi
from callcenter.web.auth import hash_password
from config.models import Config
from config.models.services import UserConfig
from tests.pair import Pair, running_pair
from tests.test_desktop_browser import desk_config

GUARD = 30.0  # s, against a hang only
PASSWORDS = {"lead": "night-lead-pass-1", "deputy": "deputy-pass-2", "a1001": "agent-pass-3"}
CALLER = "13800138000"


def supervisor_config() -> Config:
    """The example config with nobody standing in for agents, a supervisor with a phone, one without, an agent."""
    cfg = desk_config()
    users = [
        UserConfig(username="lead", role="supervisor", endpoint="PJSIP/9001",
                   password_hash=SecretStr(hash_password(PASSWORDS["lead"]))),
        UserConfig(username="deputy", role="supervisor", password_hash=SecretStr(hash_password(PASSWORDS["deputy"]))),
        UserConfig(username="a1001", role="agent", agent_id="1001",
                   password_hash=SecretStr(hash_password(PASSWORDS["a1001"]))),
    ]
    return cfg.model_copy(update={"users": users})


async def signed_in(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    page = await http.get("/login")
    match = re.search(r'id="csrf" value="([^"]+)"', page.text)
    assert match is not None
    r = await http.post("/login", json={"username": username, "password": PASSWORDS[username],
                                        "csrf_token": match.group(1)})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"], "next": r.json()["next"]}


async def until(pred: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        while not pred():  # noqa: ASYNC110  (state changes arrive over TCP from the simulator)
            await asyncio.sleep(0.02)


async def pbx_channels(pair: Pair) -> list[str]:
    """The channels the simulator has, asked over AMI (CoreShowChannels) as of a real Asterisk."""
    ami = await RawAmi.connect(pair.sim.ami_port)
    try:
        await ami.login(pair.cfg.ami.username, pair.cfg.ami.secret.get_secret_value(), events="off")
        ami.send("CoreShowChannels", ActionID="chans")
        names: list[str] = []
        while True:
            m = await ami.until(lambda m: m.get("ActionID") == "chans" and not m.is_response)
            if m.name != "CoreShowChannel":
                return names
            names.append(m.get("Channel") or "")
    finally:
        await ami.close()


def audit(pair: Pair, tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "callcenter-audit.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["section"] == "supervisor"]


def agent_row(board: dict[str, object], agent_id: str) -> dict[str, object]:
    agents = board["agents"]
    assert isinstance(agents, list)
    return next(a for a in agents if a["agent_id"] == agent_id)


async def test_force_states_and_queues_change_the_acd_and_are_audited(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=supervisor_config(), speed=5) as pair:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            h = await signed_in(http, "lead")
            assert h.pop("next") == "/supervisor"  # a supervisor signs in to the console
            board = (await http.get("/api/supervisor/board")).json()
            assert len(board["agents"]) == 12 and board["queues"][0]["name"] == "general"
            assert agent_row(board, "1001")["state"] == "logged_out"

            url = "/api/supervisor/agents/1001/state"
            r = await http.post(url, json={"state": "ready"}, headers=h)
            assert r.status_code == 200 and r.json()["state"] == "ready"
            assert pair.daemon.engine.agent_state("1001")[0].value == "ready"
            r = await http.post(url, json={"state": "not_ready"}, headers=h)
            assert r.status_code == 422 and r.json()["error"] == "reason_required"
            r = await http.post(url, json={"state": "not_ready", "reason": "meal"}, headers=h)
            assert r.status_code == 200 and (r.json()["state"], r.json()["reason"]) == ("not_ready", "meal")
            row = agent_row((await http.get("/api/supervisor/board")).json(), "1001")
            assert (row["state"], row["reason"], row["by"]) == ("not_ready", "meal", "lead")
            assert row["since"] is not None  # the page ticks the time in state from here
            r = await http.post(url, json={"state": "logged_out"}, headers=h)
            assert r.status_code == 200 and r.json()["state"] == "logged_out"
            r = await http.post("/api/supervisor/agents/9999/state", json={"state": "ready"}, headers=h)
            assert r.status_code == 404 and r.json()["error"] == "unknown_agent"
            r = await http.post(url, json={"state": "ready"})  # no CSRF token
            assert r.status_code == 403 and r.json()["error"] == "csrf_failed"

            url = "/api/supervisor/agents/1001/queues"
            r = await http.post(url, json={"queues": ["english", "complaints"]}, headers=h)
            assert r.status_code == 200 and r.json()["queues"] == ["english", "complaints"]
            assert pair.daemon.engine.agent_queues("1001") == ("english", "complaints")
            assert pair.daemon.live.agent_queues["1001"] == ("english", "complaints")
            r = await http.post(url, json={"queues": ["nowhere"]}, headers=h)
            assert r.status_code == 404 and r.json()["error"] == "unknown_queue"
            r = await http.post(url, json={"queues": []}, headers=h)
            assert r.status_code == 422
            assert pair.daemon.engine.agent_queues("1001") == ("english", "complaints")

    entries = audit(pair, tmp_path)
    assert [e["action"] for e in entries] == ["force_ready", "force_not_ready", "force_logged_out", "set_queues"]
    assert all(e["user"] == "lead" and e["key"] == "1001" and e["at"] for e in entries)
    assert entries[1]["before"] == {"state": "ready", "reason": ""}
    assert entries[1]["after"] == {"state": "not_ready", "reason": "meal"}
    assert entries[3]["before"] == {"queues": ["general", "complaints", "english"]}
    assert entries[3]["after"] == {"queues": ["english", "complaints"]}


async def test_raised_caller_is_served_first_and_the_board_shows_the_queue(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=supervisor_config(), speed=5) as pair:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            h = await signed_in(http, "lead")
            h.pop("next")
            first = await pair.sim.place_call("13800000001", dtmf=("1", "1"), talk=30)
            second = await pair.sim.place_call("13900000002", dtmf=("1", "1"), talk=30)
            await until(lambda: len(pair.daemon.engine.waiting_calls("general")) == 2)
            board = (await http.get("/api/supervisor/board")).json()
            waiting = board["queues"][0]["waiting"]
            assert [(c["call_id"], c["position"], c["priority"]) for c in waiting] == [(first, 1, 0), (second, 2, 0)]
            assert waiting[1]["number"] == "139****0002"  # masked on the board
            assert "13900000002" not in json.dumps(board)
            assert waiting[1]["ivr"] == "普通话 › 咨询"  # language key 1, main menu key 1, in words
            assert waiting[1]["since"] is not None

            r = await http.post(f"/api/supervisor/calls/{second}/priority", json={"priority": 1}, headers=h)
            assert r.status_code == 200 and r.json()["priority"] == 1
            assert pair.daemon.engine.waiting_calls("general") == [second, first]
            r = await http.post("/api/supervisor/calls/nope/priority", json={"priority": 1}, headers=h)
            assert r.status_code == 404 and r.json()["error"] == "no_such_call"
            r = await http.post(f"/api/supervisor/calls/{second}/priority", json={"priority": 99}, headers=h)
            assert r.status_code == 422

            # The first agent made ready takes the raised caller, not the one who came first.
            r = await http.post("/api/supervisor/agents/1001/state", json={"state": "ready"}, headers=h)
            assert r.status_code == 200
            await until(lambda: pair.daemon.ledger.calls[second].offer_agent == "1001")
            assert pair.daemon.ledger.calls[first].offer_agent is None
    entries = audit(pair, tmp_path)
    assert entries[0]["action"] == "set_priority" and entries[0]["key"] == second
    assert (entries[0]["before"], entries[0]["after"]) == ({"priority": 0}, {"priority": 1})


async def test_listen_whisper_barge_originate_chanspy_to_the_supervisors_phone(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=supervisor_config(), speed=5) as pair:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            h = await signed_in(http, "lead")
            h.pop("next")
            spy = "/api/supervisor/agents/1001/spy"
            r = await http.post(spy, json={"mode": "listen"}, headers=h)
            assert r.status_code == 409 and r.json()["error"] == "no_call"
            await http.post("/api/supervisor/agents/1001/state", json={"state": "ready"}, headers=h)
            call_id = await pair.sim.place_call(CALLER, dtmf="1", talk=600)
            await until(lambda: pair.daemon.engine.agent_state("1001")[0].value == "on_call")
            agent_channel = pair.daemon.desk.calls["1001"].agent_channel
            assert agent_channel.startswith("PJSIP/1001-") and agent_channel in await pbx_channels(pair)
            assert agent_row((await http.get("/api/supervisor/board")).json(), "1001")["can_spy"] is True

            for mode in ("listen", "whisper", "barge"):
                r = await http.post(spy, json={"mode": mode}, headers=h)
                assert r.status_code == 200 and r.json()["call_id"] == call_id
            await until(lambda: len(pair.sim.app_calls) == 3)
            assert [(c.application, c.data) for c in pair.sim.app_calls] == [
                ("ChanSpy", f"{agent_channel},qEu"), ("ChanSpy", f"{agent_channel},qwEu"),
                ("ChanSpy", f"{agent_channel},qBEu")]
            assert all(isinstance(c, AppCall) and c.channel.startswith("PJSIP/9001-") for c in pair.sim.app_calls)
            r = await http.post(spy, json={"mode": "eavesdrop"}, headers=h)
            assert r.status_code == 422

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pair.daemon.web_port}") as http:
            h = await signed_in(http, "deputy")
            h.pop("next")
            r = await http.post(spy, json={"mode": "listen"}, headers=h)
            assert r.status_code == 409 and r.json()["error"] == "no_endpoint"  # no phone of their own to ring
    entries = audit(pair, tmp_path)
    spies = [e for e in entries if e["action"] in ("listen", "whisper", "barge")]
    assert [e["action"] for e in spies] == ["listen", "whisper", "barge"]
    assert spies[0]["after"] == {"channel": agent_channel, "phone": "PJSIP/9001"}


async def test_other_roles_are_refused_and_pages_never_answer_json(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=supervisor_config(), speed=5) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.get("/supervisor", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
            assert (await http.get("/api/supervisor/board")).status_code == 401

            h = await signed_in(http, "a1001")
            assert h.pop("next") == "/desk"
            r = await http.get("/supervisor")
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
            assert "无权访问" in r.text and 'href="/desk"' in r.text and '"error"' not in r.text
            for path, body in (("/api/supervisor/agents/1001/state", {"state": "ready"}),
                               ("/api/supervisor/calls/x/priority", {"priority": 1}),
                               ("/api/supervisor/agents/1002/spy", {"mode": "listen"})):
                r = await http.post(path, json=body, headers=h)
                assert r.status_code == 403 and r.json()["error"] == "forbidden"
            assert (await http.get("/api/supervisor/board")).status_code == 403
            assert pair.daemon.engine.agent_state("1001")[0].value == "logged_out"

        async with httpx.AsyncClient(base_url=base) as http:
            await signed_in(http, "lead")
            r = await http.get("/desk", follow_redirects=False)  # was raw JSON {"error": "forbidden"}
            assert r.status_code == 303 and r.headers["location"] == "/supervisor"
            r = await http.get("/supervisor")
            assert r.status_code == 200 and "值班长席" in r.text
    assert not (tmp_path / "callcenter-audit.jsonl").exists()  # nothing was done
