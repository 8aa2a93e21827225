"""Every event the simulator emits has the header names, in the order, of the recorded event of the
same name (shared/ami-transcripts, Asterisk 22.10.1)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

from asterisk.ami.transcripts import TRANSCRIPT_DIR
from asterisk.sim import EndpointBehaviour, PbxSimulator, SimConfig
from asterisk.sim.testing import RawAmi, TinyAgi, recorded_messages, simple_ivr

REC = TRANSCRIPT_DIR
#: events the recordings do not contain (the lab dialplan had no such step); checked by hand
NOT_RECORDED = {"UserEvent/CcFallback", "UserEvent/CcHoldTimeout"}


def key(headers: list[tuple[str, str]]) -> str:
    name = headers[0][1]
    if name == "UserEvent":
        return "UserEvent/" + dict(headers)["UserEvent"]
    return name


def recorded_shapes() -> dict[str, set[tuple[str, ...]]]:
    shapes: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path in sorted(REC.glob("*.txt")):
        if "fastagi" in path.name or path.name == "README.md":
            continue
        for direction, headers in recorded_messages(str(path)):
            if direction == "<<<" and headers and headers[0][0] == "Event":
                shapes[key(headers)].add(tuple(k for k, _ in headers))
    return shapes


def matches(names: tuple[str, ...], recorded: set[tuple[str, ...]], user_event: bool) -> bool:
    if user_event:  # the shipped dialplan may add fields after the recorded ones (CcHold gets Queue)
        return any(names[: len(r)] == r for r in recorded)
    return names in recorded


async def test_header_names_and_order_match_recordings() -> None:
    emitted: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    phones = {
        "PJSIP/1001": EndpointBehaviour(answer_delay=1.0),
        "PJSIP/1050": EndpointBehaviour(no_answer_rate=1.0),
        "PJSIP/1060": EndpointBehaviour(busy_rate=1.0),
    }
    order = ["1050", "1060", "1001"]
    async with TinyAgi(simple_ivr) as agi:
        config = SimConfig(
            ami_port=0,
            agi_url=agi.url,
            speed=200,
            start=datetime(2026, 3, 2, 9, tzinfo=UTC),
            endpoints=phones,
            ring_timeout=5,
            emit_cel=True,
            fallback_wait=5,
        )
        async with PbxSimulator(config) as sim:
            sim.add_listener(lambda h: emitted[key(h)].add(tuple(k for k, _ in h)))
            ami = await RawAmi.connect(sim.ami_port)
            try:
                await ami.login()
                answered = await sim.place_call(
                    "13800000010", name="王芳", dtmf=["12#"], talk=5, patience=900
                )
                for agent in order:
                    hold = await ami.until(lambda m: m.get("UserEvent") == "CcHold")
                    ch = hold["Channel"]
                    ami.send("Setvar", Channel=ch, Variable="CC_AGENT_ENDPOINT", Value=f"PJSIP/{agent}")
                    ami.send("Redirect", Channel=ch, Context="cc-route", Exten=agent, Priority="1")
                await sim.wait_call(answered)
                abandoned = await sim.place_call("13800000011", dtmf=["1"], patience=20)
                await sim.wait_call(abandoned)
                # the daemon is away: no FastAGI server -> fallback
                ami.send(
                    "Originate",
                    Channel="PJSIP/trunk",
                    Context="cc-incoming",
                    Exten="s",
                    Priority="1",
                    CallerID='"Alice Caller" <5550101>',
                    Async="true",
                    ActionID="o1",
                )
                await ami.until(lambda m: m.name == "OriginateResponse")
                await asyncio.wait_for(sim.drain(), 30)
            finally:
                await ami.close()
    recorded = recorded_shapes()
    checked = 0
    for name, shapes in emitted.items():
        if name in NOT_RECORDED:
            continue
        assert name in recorded, f"{name} is not a recorded event"
        for names in shapes:
            assert matches(names, recorded[name], name.startswith("UserEvent/")), (
                name,
                names,
                recorded[name],
            )
            checked += 1
    must = {
        "Newchannel",
        "Newstate",
        "VarSet",
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "AGIExecStart",
        "AGIExecEnd",
        "DTMFBegin",
        "DTMFEnd",
        "UserEvent/CcHold",
        "UserEvent/CcRouteResult",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "DialBegin",
        "DialState",
        "DialEnd",
        "BridgeCreate",
        "BridgeEnter",
        "BridgeLeave",
        "BridgeDestroy",
        "SoftHangupRequest",
        "HangupRequest",
        "Hangup",
        "Cdr",
        "CEL",
        "OriginateResponse",
    }
    assert must <= set(emitted), must - set(emitted)
    assert checked >= len(must)
