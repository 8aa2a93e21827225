"""Scripted calls through the simulated dialplan, driven over real AMI and FastAGI connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from asterisk.sim import EndpointBehaviour, PbxSimulator, SimConfig
from asterisk.sim.testing import AgiConn, RawAmi, TinyAgi, simple_ivr

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONES = {
    "PJSIP/1001": EndpointBehaviour(answer_delay=2.0, answer_delay_sigma=0.0),
    "PJSIP/1050": EndpointBehaviour(no_answer_rate=1.0),
    "PJSIP/1060": EndpointBehaviour(busy_rate=1.0),
}


def cfg(agi_url: str, **kw: object) -> SimConfig:
    return SimConfig(ami_port=0, agi_url=agi_url, speed=100, seed=7, start=START, endpoints=PHONES, **kw)  # type: ignore[arg-type]


async def route(ami: RawAmi, agents: Callable[[int], str | None], holds: list[str]) -> None:
    """A tiny ACD: on the n-th CcHold, send the caller to agents(n) (None: leave it on hold)."""
    n = 0
    while True:
        msg = await ami.until(lambda m: m.get("UserEvent") == "CcHold", wait_s=30)
        holds.append(msg.getall("Uniqueid")[-1])
        agent = agents(n)
        n += 1
        if agent is None:
            continue
        ch = msg["Channel"]
        ami.send("Setvar", Channel=ch, Variable="CC_AGENT_ENDPOINT", Value=f"PJSIP/{agent}", ActionID=f"s{n}")
        ami.send("Redirect", Channel=ch, Context="cc-route", Exten=agent, Priority="1", ActionID=f"r{n}")


async def run_with_router(sim: PbxSimulator, agents: Callable[[int], str | None], **call: object) -> tuple:
    ami = await RawAmi.connect(sim.ami_port)
    holds: list[str] = []
    try:
        await ami.login()
        router = asyncio.ensure_future(route(ami, agents, holds))
        try:
            uid = await sim.place_call(**call)  # type: ignore[arg-type]
            truth = await sim.wait_call(uid)
        finally:
            router.cancel()
            await asyncio.gather(router, return_exceptions=True)
        events = ami.queue
    finally:
        await ami.close()
    return truth, holds, events


async def test_scripted_call_is_answered_and_surveyed() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        truth, holds, _ = await run_with_router(
            sim,
            lambda n: "1001",
            caller="13912345678",
            name="李雷",
            dtmf=["2"],
            talk=30,
            patience=300,
            survey=["1"],
        )
    assert truth.outcome == "answered"
    assert truth.answered_by == "1001" and truth.offered_to == ["1001"]
    assert truth.ivr_digits == ["2"] and truth.queue == "q2" and truth.survey_digits == "1"
    assert holds == [truth.uniqueid] and truth.end_count == 1
    assert truth.answered_at is not None and truth.ended_at is not None
    assert (truth.ended_at - truth.answered_at).total_seconds() >= 30
    env = agi.conns[0].env
    assert env["agi_channel"] == truth.channel and env["agi_uniqueid"] == truth.uniqueid
    assert env["agi_network_script"] == "ivr" and env["agi_priority"] == "5" and env["agi_type"] == "PJSIP"
    assert list(env)[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert agi.conns[0].env_raw.endswith(b"agi_threadid: " + env["agi_threadid"].encode() + b"\n\n")
    assert agi.conns[1].env["agi_network_script"] == "ivr/survey"


async def test_caller_abandons_on_hold() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        truth, holds, _ = await run_with_router(
            sim, lambda n: None, caller="13800000001", dtmf=["1"], patience=40
        )
    assert truth.outcome == "abandoned_queue" and truth.ended_by == "caller"
    assert truth.reached_hold and holds == [truth.uniqueid] and truth.offers == []
    assert truth.ended_at is not None
    assert round((truth.ended_at - truth.arrived_at).total_seconds()) == 40


async def test_no_answer_and_busy_go_back_to_hold_then_answered() -> None:
    order = ["1050", "1060", "1001"]
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url, ring_timeout=6)) as sim:
        truth, holds, _ = await run_with_router(
            sim, lambda n: order[n], caller="13800000002", dtmf=["1"], talk=5, patience=600
        )
    assert [(o.agent, o.result) for o in truth.offers] == [
        ("1050", "NOANSWER"),
        ("1060", "BUSY"),
        ("1001", "ANSWER"),
    ]
    assert truth.hold_count == 3 and holds == [truth.uniqueid] * 3
    assert truth.outcome == "answered" and truth.answered_by == "1001"


async def test_caller_abandons_while_agent_rings() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        truth, _, _ = await run_with_router(
            sim, lambda n: "1050", caller="13800000003", dtmf=["1"], patience=12
        )
    assert truth.outcome == "abandoned_ringing"
    assert [(o.agent, o.result) for o in truth.offers] == [("1050", "CANCEL")]


async def test_caller_hangs_up_mid_menu_agi_gets_hangup_then_511() -> None:
    seen: list[str] = []

    async def slow_ivr(conn: AgiConn) -> None:
        seen.append(await conn.cmd("ANSWER"))
        seen.append(await conn.cmd('STREAM FILE cc-long-welcome ""'))  # the caller hangs up during it
        seen.append(await conn.line())  # HANGUP
        seen.append(await conn.cmd("GET DATA cc-menu 3000 1"))
        seen.append(await conn.cmd('VERBOSE "still here" 1'))
        seen.append(await conn.cmd("FOO BAR"))

    async with TinyAgi(slow_ivr) as agi:
        config = cfg(agi.url, prompt_lengths={"cc-long-welcome": 60.0})
        async with PbxSimulator(config) as sim:
            uid = await sim.place_call("13800000004", patience=10)
            truth = await sim.wait_call(uid)
    assert seen == [
        "200 result=0",
        "200 result=-1 endpos=0",
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
        "200 result=1",
        "510 Invalid or unknown command",
    ]
    assert truth.outcome == "abandoned_ivr" and truth.agi_status == "HANGUP"
    assert not truth.reached_hold and truth.end_count == 1


async def test_agi_unreachable_goes_to_fallback() -> None:
    async with TinyAgi(simple_ivr) as agi:
        closed_url = agi.url
    # the port is closed now: connection refused, as in b2
    events: list[list[tuple[str, str]]] = []
    async with PbxSimulator(cfg(closed_url, fallback_wait=20)) as sim:
        sim.add_listener(events.append)
        uid = await sim.place_call("13800000005", dtmf=["1"], patience=300)
        truth = await sim.wait_call(uid)
    assert truth.outcome == "fallback" and truth.agi_status == "FAILURE"
    assert not truth.reached_hold
    varsets = [dict(e) for e in events if e[0] == ("Event", "VarSet")]
    assert {"Variable": "AGISTATUS", "Value": "FAILURE"}.items() <= next(
        v for v in varsets if v["Variable"] == "AGISTATUS"
    ).items()
    assert any(e[0] == ("Event", "UserEvent") and ("UserEvent", "CcFallback") in e for e in events)
    assert not any(e[0][1].startswith("AGIExec") for e in events)


async def test_ami_hangup_and_getvar_status_on_held_call() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login()
            uid = await sim.place_call("13800000006", dtmf=["3"], patience=600)
            hold = await ami.until(lambda m: m.get("UserEvent") == "CcHold")
            ch = hold["Channel"]
            ami.send("Getvar", Channel=ch, Variable="CC_QUEUE", ActionID="g")
            got = await ami.until(lambda m: m.is_response)
            ami.send("Status", Channel=ch, ActionID="st")
            st = await ami.until(lambda m: m.is_response)
            item = await ami.until(lambda m: m.name == "Status")
            done = await ami.until(lambda m: m.name == "StatusComplete")
            ami.send("Hangup", Channel=ch, Cause="16", ActionID="h")
            hung = await ami.until(lambda m: m.is_response)
            truth = await sim.wait_call(uid)
            ami.send("Hangup", Channel=ch, ActionID="h2")
            gone = await ami.until(lambda m: m.is_response)
        finally:
            await ami.close()
    assert got.headers == [
        ("Response", "Success"),
        ("ActionID", "g"),
        ("Variable", "CC_QUEUE"),
        ("Value", "q3"),
    ]
    assert st.get("EventList") == "start" and item["Uniqueid"] == uid and done["ListItems"] == "1"
    assert hung.headers == [("Response", "Success"), ("ActionID", "h"), ("Message", "Channel Hungup")]
    assert gone.headers == [("Response", "Error"), ("ActionID", "h2"), ("Message", "No such channel")]
    assert truth.outcome == "failed" and truth.ended_by == "ami_hangup"
