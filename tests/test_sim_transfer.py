"""Call control in the PBX simulator over real AMI: BlindTransfer, Atxfer and Park of a bridged call, with the
responses and events Asterisk 22 sends, and the [cc-transfer] / [cc-handoff] contexts of the shipped dialplan."""

from __future__ import annotations

from datetime import UTC, datetime

from asterisk.ami.codec import Message
from asterisk.sim import EndpointBehaviour, PbxSimulator, SimConfig
from asterisk.sim.pbx import DIALPLAN, shipped_extensions
from asterisk.sim.testing import RawAmi, TinyAgi, simple_ivr
from callcenter.desk import HANDOFF_NUMBERS, TRANSFER_TARGETS

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONES = {"PJSIP/1001": EndpointBehaviour(answer_delay=1.0, answer_delay_sigma=0.0)}


def cfg(agi_url: str) -> SimConfig:
    return SimConfig(ami_port=0, agi_url=agi_url, speed=50, seed=7, start=START, endpoints=PHONES,
                     transfer_talk=5, handoff_answer=1, handoff_brief=2)


async def answered_call(sim: PbxSimulator, ami: RawAmi) -> tuple[str, str, str]:
    """Place a call, route it to agent 1001 and wait until they talk: (call id, caller channel, agent channel)."""
    uid = await sim.place_call(talk=600, dtmf="1")
    hold = await ami.until(lambda m: m.get("UserEvent") == "CcHold", wait_s=30)
    caller = hold["Channel"]
    ami.send("Setvar", Channel=caller, Variable="CC_AGENT_ENDPOINT", Value="PJSIP/1001", ActionID="s1")
    ami.send("Redirect", Channel=caller, Context="cc-route", Exten="1001", Priority="1", ActionID="r1")
    answer = await ami.until(lambda m: m.name == "DialEnd" and m.get("DialStatus") == "ANSWER", wait_s=30)
    await ami.until(lambda m: m.name == "BridgeEnter" and m.get("Channel") == caller)
    return uid, caller, answer["DestChannel"]


async def response(ami: RawAmi, action_id: str) -> Message:
    return await ami.until(lambda m: m.is_response and m.get("ActionID") == action_id)


def names(msgs: list[Message]) -> list[str]:
    """The call's events in order (device states, which Asterisk interleaves, are left out)."""
    return [m.name for m in msgs if m.name != "DeviceStateChange"]


async def collect(ami: RawAmi, last: str, seen: list[Message]) -> Message:
    while True:
        msg = await ami.next(30)
        if msg.name in ("CEL", "VarSet", "Newexten", "Cdr"):
            continue
        seen.append(msg)
        if msg.name == last:
            return msg


def test_dialplan_contexts_match_the_desktop_choices() -> None:
    assert shipped_extensions("cc-transfer") == set(TRANSFER_TARGETS)
    assert shipped_extensions("cc-handoff") == set(HANDOFF_NUMBERS)
    assert "[cc-transfer]" in DIALPLAN.read_text(encoding="utf-8")


async def test_blind_transfer_moves_the_caller_to_the_department_and_ends_the_agent_leg() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login()
            uid, caller, agent = await answered_call(sim, ami)
            ami.send("BlindTransfer", Channel=agent, Context="cc-transfer", Exten="8102", ActionID="bt")
            reply = await response(ami, "bt")
            assert reply.headers[:3] == [("Response", "Success"), ("ActionID", "bt"), ("Message", "Transfer succeeded")]
            seen: list[Message] = []
            await collect(ami, "BridgeDestroy", seen)
            assert names(seen) == ["BlindTransfer", "BridgeLeave", "BridgeLeave", "SoftHangupRequest", "Hangup",
                                   "BridgeDestroy"]
            bt = seen[0]
            assert bt["Result"] == "Success" and bt["IsExternal"] == "Yes"
            assert bt["TransfererChannel"] == agent and bt["TransfereeChannel"] == caller
            assert bt["Context"] == "cc-transfer" and bt["Extension"] == "8102"
            assert [seen[1]["Channel"], seen[4]["Channel"]] == [caller, agent]

            # The caller now runs [cc-transfer] 8102 (Status shows where the channel is).
            ami.send("Status", Channel=caller, ActionID="st")
            await response(ami, "st")
            status = await ami.until(lambda m: m.name == "Status")
            assert (status["Context"], status["Exten"]) == ("cc-transfer", "8102")
            truth = await sim.wait_call(uid)
        finally:
            await ami.close()
    assert truth.outcome == "answered" and truth.answered_by == "1001"
    assert truth.transfers == [("BlindTransfer", "cc-transfer", "8102")]
    assert truth.offers[-1].result == "ANSWER" and truth.end_count == 1


async def test_blind_transfer_refusals_use_asterisk_wording() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login()
            ami.send("BlindTransfer", Channel="PJSIP/none-00000099", Exten="8101", ActionID="a")
            ami.send("BlindTransfer", Channel="PJSIP/none-00000099", ActionID="b")
            ami.send("Atxfer", Exten="110", ActionID="c")
            ami.send("Park", ActionID="d")
            got = [(await response(ami, x))["Message"] for x in "abcd"]
            # A caller still on hold is in no bridge: nothing to transfer.
            await sim.place_call(talk=60, dtmf="1")
            hold = await ami.until(lambda m: m.get("UserEvent") == "CcHold", wait_s=30)
            ami.send("BlindTransfer", Channel=hold["Channel"], Context="cc-transfer", Exten="8101", ActionID="e")
            got.append((await response(ami, "e"))["Message"])
        finally:
            await ami.close()
    assert got == ["Channel specified does not exist", "No extension specified", "No channel specified",
                   "Channel not specified", "Transfer invalid"]


async def test_atxfer_hands_the_caller_to_the_emergency_line_after_the_agent_briefs_it() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login()
            uid, caller, agent = await answered_call(sim, ami)
            ami.send("Atxfer", Channel=agent, Context="cc-handoff", Exten="120", ActionID="ax")
            reply = await response(ami, "ax")
            assert reply["Message"] == "Atxfer successfully queued"
            seen: list[Message] = []
            done = await collect(ami, "Unhold", seen)
            order = names(seen)
            assert order[:2] == ["Hold", "MusicOnHoldStart"]
            assert order.index("DialEnd") < order.index("AttendedTransfer") < order.index("Hangup")
            at = next(m for m in seen if m.name == "AttendedTransfer")
            target = at["TransferTargetChannel"]
            assert target.startswith("Local/120@cc-handoff-") and at["TransfereeChannel"] == caller
            assert at["OrigTransfererChannel"] == agent and at["DestType"] == "Bridge" and at["Result"] == "Success"
            hung = next(m for m in seen if m.name == "Hangup")
            assert hung["Channel"] == agent
            enter = next(m for m in seen if m.name == "BridgeEnter")
            assert enter["Channel"] == target
            assert done["Channel"] == caller
            truth = await sim.wait_call(uid)
        finally:
            await ami.close()
    assert truth.outcome == "answered" and truth.transfers == [("Atxfer", "cc-handoff", "120")]


async def test_park_holds_the_caller_with_music_and_rings_the_agent_again() -> None:
    async with TinyAgi(simple_ivr) as agi, PbxSimulator(cfg(agi.url)) as sim:
        ami = await RawAmi.connect(sim.ami_port)
        try:
            await ami.login()
            _uid, caller, agent = await answered_call(sim, ami)
            ami.send("Park", Channel=caller, TimeoutChannel=agent, Timeout="20000", ActionID="pk")
            assert (await response(ami, "pk"))["Message"] == "Park successful"
            seen: list[Message] = []
            parked = await collect(ami, "ParkedCall", seen)
            assert parked["ParkeeChannel"] == caller and parked["ParkerDialString"] == "PJSIP/1001"
            assert parked["ParkingTimeout"] == "20"
            assert "Hangup" in names(seen)  # the agent leg left
            timeout = await ami.until(lambda m: m.name == "ParkedCallTimeOut", wait_s=30)
            assert timeout["ParkeeChannel"] == caller
            ring = await ami.until(lambda m: m.name == "DialBegin", wait_s=30)
            assert ring["Channel"] == caller and ring["DestChannel"].startswith("PJSIP/1001-")
        finally:
            await ami.close()
