"""Call control from the desktop API end to end (daemon + PBX simulator over TCP): agent 1001 answers, the desk
transfers the call to a department (BlindTransfer) or hands it off to 120 (Atxfer); the simulator has the caller
where the dialplan sends it, the agent is freed at once, and the call's record is answered by the agent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from asterisk.sim.testing import RawAmi
from tests.pair import Pair, running_pair
from tests.test_desktop_browser import CALLER, desk_config

GUARD = 30.0  # s, against a hang only
SIM = {"transfer_talk": 30.0, "handoff_answer": 1.0, "handoff_brief": 2.0}


async def signed_in(http: httpx.AsyncClient) -> dict[str, str]:
    page = await http.get("/login")
    match = re.search(r'id="csrf" value="([^"]+)"', page.text)
    assert match is not None
    r = await http.post("/login", json={"username": "1001", "password": "agent1001", "csrf_token": match.group(1)})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


async def until(pred: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        while not pred():  # noqa: ASYNC110  (state changes arrive over TCP from the simulator)
            await asyncio.sleep(0.02)


async def answered_at_desk(pair: Pair, http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await http.post("/api/desk/state", json={"state": "ready"}, headers=headers)
    assert r.status_code == 200 and r.json()["state"] == "ready"
    call_id = await pair.sim.place_call(CALLER, name="李先生", dtmf="1", talk=600)
    await until(lambda: pair.daemon.engine.agent_state("1001")[0].value == "on_call")
    return call_id


async def where(pair: Pair, channel: str) -> tuple[str, str]:
    """(context, exten) of a channel, asked of the simulator over AMI with Status, as of a real Asterisk."""
    ami = await RawAmi.connect(pair.sim.ami_port)
    try:
        await ami.login(pair.cfg.ami.username, pair.cfg.ami.secret.get_secret_value())
        ami.send("Status", Channel=channel, ActionID="where")
        status = await ami.until(lambda m: m.name == "Status" and m.get("ActionID") == "where")
        return status["Context"], status["Exten"]
    finally:
        await ami.close()


async def test_desk_transfers_the_call_to_a_department(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=desk_config(), speed=10, sim_changes=SIM) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            call_id = await answered_at_desk(pair, http, headers)
            r = await http.post("/api/desk/call", json={"action": "transfer", "target": "999"}, headers=headers)
            assert r.status_code == 422 and r.json()["error"] == "invalid_target"
            r = await http.post("/api/desk/call", json={"action": "transfer", "target": "8102"}, headers=headers)
            assert r.status_code == 200 and r.json()["call_id"] == call_id
            truth = pair.sim.ledger[call_id]
            await until(lambda: truth.transfers != [])
            assert await where(pair, truth.channel) == ("cc-transfer", "8102")
            # The agent is done with the call while the caller still talks to the department.
            await until(lambda: pair.daemon.engine.agent_state("1001")[0].value != "on_call")
            assert truth.outcome is None
            r = await http.post("/api/desk/call", json={"action": "hold"}, headers=headers)
            assert r.status_code in (409, 502)  # no call of the agent's left to control
            await pair.settle(within=GUARD)
    record = pair.daemon.store.get(call_id)
    assert record is not None
    assert record.outcome.value == "answered" and record.agent_id == "1001"
    assert truth.outcome == "answered" and truth.transfers == [("BlindTransfer", "cc-transfer", "8102")]
    assert record.answered_at is not None and record.talk_seconds is not None
    # Talk is the agent's part only: the department's 30 s after the transfer are not the agent's.
    whole = (record.ended_at - record.answered_at).total_seconds()
    assert whole - record.talk_seconds >= 25


async def test_desk_hands_the_call_off_to_the_ambulance_line(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=desk_config(), speed=10, sim_changes=SIM) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            call_id = await answered_at_desk(pair, http, headers)
            r = await http.post("/api/desk/call", json={"action": "handoff", "target": "120"}, headers=headers)
            assert r.status_code == 200
            truth = pair.sim.ledger[call_id]
            await until(lambda: truth.transfers != [])
            await until(lambda: pair.daemon.engine.agent_state("1001")[0].value != "on_call")
            assert truth.outcome is None  # the caller talks to 120 now
            await pair.settle(within=GUARD)
    record = pair.daemon.store.get(call_id)
    assert record is not None and record.outcome.value == "answered" and record.agent_id == "1001"
    assert truth.transfers == [("Atxfer", "cc-handoff", "120")]
    assert record.talk_seconds is not None and record.answered_at is not None
    assert (record.ended_at - record.answered_at).total_seconds() - record.talk_seconds >= 25
