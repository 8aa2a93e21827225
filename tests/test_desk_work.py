"""The agent desk never loses work, over HTTP against the daemon and the PBX simulator over TCP: a held caller
is taken back (取回) and rings the same agent with the same call (so the page keeps its draft) and the ticket
is filed on it; hang-up; wrap-up finished early or extended; a desk page that stops its heartbeat makes its
agent not ready (桌面离线) through the engine's own events, never cutting a call. Plus the pure parts: the IVR
path in words, the engine's ExtendWrapUp."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.ivr_service import IvrService
from queueing import (
    AgentLoggedIn,
    AgentReady,
    CallEnded,
    CallQueued,
    CancelTimer,
    EventError,
    OfferAnswered,
    StartTimer,
)
from queueing.harness import Harness
from tests.pair import EXAMPLE, Pair, running_pair
from tests.test_desktop_browser import CALLER, desk_config
from tests.test_desktop_transfer import answered_at_desk, signed_in, until

GUARD = 30.0  # s, against a hang only
PHONES = {"endpoints": {"PJSIP/1001": {"answer_delay": 2.0}}}  # the agent at the desk answers every ring
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def drain(sub: Any) -> list[tuple[str, dict[str, Any]]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def agent_state(pair: Pair) -> tuple[str, str]:
    st, reason = pair.daemon.engine.agent_state("1001")
    return st.value, reason


async def test_a_held_caller_is_taken_back_with_the_same_call_and_the_ticket_is_filed(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=desk_config(), speed=10, sim_changes=PHONES) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            with pair.daemon.screenpop.hub.subscribe("1001") as sub:
                call_id = await answered_at_desk(pair, http, headers)
                offers = [p for kind, p in drain(sub) if kind == "offer"]
                assert [p["call_id"] for p in offers] == [call_id]
                assert offers[0]["caller_name"] == "李先生" and offers[0]["ivr_words"] == ["普通话", "未按键"]

                r = await http.post("/api/desk/call", json={"action": "retrieve"}, headers=headers)
                assert r.status_code == 409 and r.json()["error"] == "not_held"
                r = await http.post("/api/desk/call", json={"action": "hold"}, headers=headers)
                assert r.status_code == 200, r.text
                truth = pair.sim.ledger[call_id]
                await until(lambda: truth.transfers != [])
                assert truth.transfers == [("Park", "parkedcalls", "701")]
                state = (await http.get("/api/desk/state", headers=headers)).json()
                assert state["state"] == "on_call" and state["hold"]["call_id"] == call_id and state["hold"]["until"]
                r = await http.post("/api/desk/call", json={"action": "transfer", "target": "8101"}, headers=headers)
                assert r.status_code == 409 and r.json()["error"] == "on_hold"
                await asyncio.sleep(1.0)  # 10 s on hold (simulated): the agent is still on the call, not offered more
                assert agent_state(pair) == ("on_call", "")

                r = await http.post("/api/desk/call", json={"action": "retrieve"}, headers=headers)
                assert r.status_code == 200, r.text
                await until(lambda: len(truth.offers) == 2)
                await asyncio.sleep(0.5)  # the phone rings again and the agent answers
                assert truth.offers[0].result == "ANSWER" and truth.outcome is None
                events = drain(sub)
                holds = [p for kind, p in events if kind == "hold"]
                assert [h["held"] for h in holds] == [True, False]
                again = [p for kind, p in events if kind == "offer"]
                assert [p["call_id"] for p in again] == [call_id]  # the same call rings: the page keeps its draft
                assert (await http.get("/api/desk/state", headers=headers)).json()["hold"] is None
                assert agent_state(pair) == ("on_call", "")

                r = await http.post("/api/desk/call", json={"action": "hangup"}, headers=headers)
                assert r.status_code == 200, r.text
                await until(lambda: agent_state(pair)[0] == "wrap_up")
                await pair.settle(within=GUARD)
            r = await http.post("/api/tickets", headers=headers, json={
                "call_id": call_id, "channel": "phone", "category": "consultation", "topic": "utilities.water",
                "county": "xihu", "township": "文新街道", "address": "文一西路8号", "contact": "13900001111",
                "content": "来电人反映小区停水"})
            assert r.status_code in (200, 201), r.text
            number = r.json()["number"]
    record = pair.daemon.store.get(call_id)
    assert record is not None and record.outcome.value == "answered" and record.agent_id == "1001"
    ticket = pair.daemon.tickets.get(number, viewer())
    assert list(ticket.calls) == [call_id] and ticket.caller_number == CALLER
    assert (ticket.township, ticket.address, ticket.contact) == ("文新街道", "文一西路8号", "13900001111")


def viewer() -> Any:
    from tickets.access import Role, Viewer

    return Viewer(Role.SUPERVISOR, user="test")


async def test_wrap_up_is_extended_then_finished_early(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=desk_config(), speed=10, sim_changes=PHONES) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            r = await http.post("/api/desk/wrapup", json={"seconds": 60}, headers=headers)
            assert r.status_code == 409  # not in wrap-up: refused, nothing changes
            r = await http.post("/api/desk/wrapup", json={"seconds": 5}, headers=headers)
            assert r.status_code == 422
            await answered_at_desk(pair, http, headers)
            r = await http.post("/api/desk/call", json={"action": "hangup"}, headers=headers)
            assert r.status_code == 200
            await until(lambda: agent_state(pair)[0] == "wrap_up")
            r = await http.post("/api/desk/wrapup", json={"seconds": 120}, headers=headers)
            assert r.status_code == 200 and r.json()["wrapup_seconds"] == 120
            await asyncio.sleep(4.0)  # 40 s simulated: past the general queue's 20 s wrap-up
            assert agent_state(pair) == ("wrap_up", "")
            r = await http.post("/api/desk/state", json={"state": "ready"}, headers=headers)  # 结束整理
            assert r.status_code == 200 and r.json()["state"] == "ready"


def heartbeat_config(seconds: float) -> Any:
    cfg = desk_config()
    return cfg.model_copy(update={"web": cfg.web.model_copy(update={"desk_heartbeat_seconds": seconds})})


async def beat(http: httpx.AsyncClient, headers: dict[str, str], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = await http.post("/api/desk/heartbeat", headers=headers)
        assert r.status_code == 200
        await asyncio.sleep(1.0)


async def test_a_desk_without_heartbeat_makes_its_agent_not_ready_but_never_cuts_a_call(tmp_path: Path) -> None:
    async with running_pair(tmp_path, cfg=heartbeat_config(5), speed=10, sim_changes=PHONES) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            r = await http.post("/api/desk/state", json={"state": "ready"}, headers=headers)
            assert r.status_code == 200
            await beat(http, headers, 7.0)  # longer than the limit, beating: still ready
            assert agent_state(pair) == ("ready", "")
            started = time.monotonic()
            await until(lambda: agent_state(pair) == ("not_ready", "desk_offline"))
            assert 3.0 < time.monotonic() - started < 8.0
            assert pair.daemon.desk.desks_lost == 1

            # On a call when the page goes: the call goes on; the agent is made not ready after it.
            r = await http.post("/api/desk/state", json={"state": "ready"}, headers=headers)
            await http.post("/api/desk/heartbeat", headers=headers)
            call_id = await pair.sim.place_call(CALLER, name="李先生", dtmf="1", talk=80)
            await until(lambda: agent_state(pair)[0] == "on_call")
            await asyncio.sleep(6.0)  # the page is silent past the limit while the agent talks
            assert agent_state(pair)[0] == "on_call"
            await until(lambda: pair.sim.ledger[call_id].outcome is not None)
            await until(lambda: agent_state(pair) == ("not_ready", "desk_offline"))
            # Not ready: a new caller is not offered to this agent.
            await pair.sim.place_call("13900002222", dtmf="1", talk=5, patience=3)
            await asyncio.sleep(1.0)
            assert agent_state(pair) == ("not_ready", "desk_offline")


async def test_agents_without_a_desk_page_are_left_alone(tmp_path: Path) -> None:
    """The autopilot's agents (and API clients that never beat) are never made not ready for it."""
    async with running_pair(tmp_path, cfg=heartbeat_config(5), speed=10, sim_changes=PHONES) as pair:
        ready = {a for a in pair.daemon.desk.heard}
        assert ready == set()
        assert pair.daemon.desk.check_desks(time.monotonic() + 3600) == []


# ------------------------------------------------------------------ pure parts


def test_the_ivr_path_reads_in_words(tmp_path: Path) -> None:
    from callcenter.ivr_words import ivr_words  # new here: imported inside, so that each test fails on its own
    from callcenter.screenpop import caller_name
    from config.loader import load_config

    cfg = load_config(EXAMPLE, environ={})
    menu = IvrService(cfg, tmp_path, lambda: T0).current().menu
    assert ivr_words(menu, "welcome>language:1>hours=main>main:2", "zh") == ["普通话", "投诉举报"]
    assert ivr_words(menu, "welcome>language:4>main:1", "zh") == ["按键4（无效）", "咨询"]
    assert ivr_words(menu, "welcome>language:2>hours=main>main:6", "en") == ["English", "English-speaking agent"]
    assert ivr_words(menu, "welcome>language:1>main:timeout>main:timeout>main:1", "zh") == ["普通话", "未按键", "咨询"]
    assert ivr_words(None, "", "zh") == []
    assert caller_name("<unknown>") == "" and caller_name(" 李先生 ") == "李先生"


def test_extend_wrapup_replaces_the_wrap_up_timer() -> None:
    from queueing import AgentSpec, Engine, EngineConfig, ExtendWrapUp, QueueSpec, WrongAgentState

    cfg = EngineConfig(queues=(QueueSpec("q", wrapup_seconds=20),), agents=(AgentSpec("a1", ("q",)),))
    h = Harness(Engine(cfg), T0)
    h.send(AgentLoggedIn(T0, "a1"))
    h.send(AgentReady(T0, "a1"))
    with pytest.raises(WrongAgentState):
        h.send(ExtendWrapUp(T0, "a1", 60))
    h.send(CallQueued(T0, "c1", "q"))
    h.send(OfferAnswered(T0, "c1", "a1"))
    out = h.send(CallEnded(T0 + timedelta(seconds=30), "c1"))
    first = next(c for c in out if isinstance(c, StartTimer))
    out = h.send(ExtendWrapUp(T0 + timedelta(seconds=40), "a1", 90))
    assert out[0] == CancelTimer(first.key)
    assert isinstance(out[1], StartTimer) and out[1].due == T0 + timedelta(seconds=130)
    with pytest.raises(EventError):
        ExtendWrapUp(T0, "a1", 0)


async def test_a_ring_back_nobody_answers_leaves_the_caller_held_to_take_back(tmp_path: Path) -> None:
    from asterisk.sim.config import EndpointBehaviour

    async with running_pair(tmp_path, cfg=desk_config(), speed=10, sim_changes=PHONES) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            headers = await signed_in(http)
            call_id = await answered_at_desk(pair, http, headers)
            truth = pair.sim.ledger[call_id]
            phones = pair.sim.config.endpoints  # the running calls read the same mapping
            with pair.daemon.screenpop.hub.subscribe("1001") as sub:
                seen: list[tuple[str, dict[str, Any]]] = []

                def kinds(kind: str) -> list[dict[str, Any]]:
                    seen.extend(drain(sub))
                    return [p for k, p in seen if k == kind]

                assert (await http.post("/api/desk/call", json={"action": "hold"}, headers=headers)).status_code == 200
                await until(lambda: truth.transfers != [])
                phones["PJSIP/1001"] = EndpointBehaviour(no_answer_rate=1.0)  # the agent stepped away
                assert (await http.post("/api/desk/call", json={"action": "retrieve"},
                                        headers=headers)).status_code == 200
                await until(lambda: len(truth.offers) == 2 and truth.offers[1].result == "NOANSWER")
                await until(lambda: [h["held"] for h in kinds("hold")] == [True, False, True])
                assert agent_state(pair) == ("on_call", "")  # still the agent's call: no failed offer, no new one
                assert pair.daemon.stats.engine_errors == 0
                state = (await http.get("/api/desk/state", headers=headers)).json()
                assert state["hold"]["held"] is True and state["hold"]["until"] is None

                phones["PJSIP/1001"] = EndpointBehaviour(answer_delay=2.0)  # back at the desk: take the caller back
                assert (await http.post("/api/desk/call", json={"action": "retrieve"},
                                        headers=headers)).status_code == 200
                await until(lambda: kinds("talk") != [])
            assert truth.outcome is None
            assert (await http.post("/api/desk/call", json={"action": "hangup"}, headers=headers)).status_code == 200
            await until(lambda: agent_state(pair)[0] == "wrap_up")
            await pair.settle(within=GUARD)
    record = pair.daemon.store.get(call_id)
    assert record is not None and record.outcome.value == "answered" and record.agent_id == "1001"
