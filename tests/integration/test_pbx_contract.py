"""The same FastAGI conversation against the real Asterisk 22 and the simulator: the replies must be equal
(where the simulator differed, it was fixed to answer like Asterisk; docs/contracts.md lists each case)."""

from __future__ import annotations

import re

from asterisk.sim import PbxSimulator
from asterisk.sim.testing import AgiConn, TinyAgi
from tests.integration.harness import Phones
from tests.integration.lab import Lab, write_silence
from tests.test_sim_calls import cfg

CONVERSATION = [
    "ANSWER",
    'STREAM FILE lab/short ""',  # present: played to the end
    'STREAM FILE callcenter/zh/never-recorded ""',  # missing
    "GET DATA callcenter/zh/never-recorded-menu 1000 1",  # missing prompt: no key read
    'GET DATA "" 4000 1',  # no prompt: the caller's key
    "GET VARIABLE CC_ENTERED",
    "SET VARIABLE CC_QUEUE general",
]


async def _converse(conn: AgiConn) -> None:
    if conn.env.get("agi_network_script") != "ivr":
        return
    for line in CONVERSATION:
        await conn.cmd(line)


def _shape(reply: str) -> str:
    """endpos and variable values differ between runs; the rest must not."""
    reply = re.sub(r"endpos=[1-9]\d*", "endpos=N", reply)
    return re.sub(r"result=1 \(\d+\)", "result=1 (EPOCH)", reply)


async def test_prompt_replies_equal_on_the_real_pbx_and_the_simulator(lab: Lab, phones: Phones) -> None:
    write_silence(lab.sounds / "lab" / "short.wav", 0.3)
    async with TinyAgi(_converse) as agi:
        truth = await phones.call(patience=6, dtmf="2", dtmf_delay=1.5, agi_url=agi.url)
        await phones.all_ended(within=30)
    real = agi.conns[0]
    async with TinyAgi(_converse) as agi, PbxSimulator(cfg(agi.url, sounds_dir=str(lab.sounds))) as sim:
        uid = await sim.place_call("13800000001", dtmf=["2"], dtmf_delay=1.0, patience=60)
        await sim.wait_call(uid)
    simulated = agi.conns[0]
    assert [_shape(r) for r in simulated.replies] == [_shape(r) for r in real.replies], real.replies
    assert real.replies[2:5] == ["200 result=-1 endpos=0", "200 result=-1", "200 result=2"]
    assert phones.agi_status[truth.uniqueid] == sim.ledger[uid].agi_status == "FAILURE"
    assert not truth.fallback and truth.held  # CC_QUEUE set: the caller waits for the daemon, not the fallback
    assert list(simulated.env) == list(real.env)
    same = ("agi_network", "agi_network_script", "agi_priority", "agi_context", "agi_enhanced", "agi_version")
    assert {k: simulated.env[k] for k in same} == {k: real.env[k] for k in same}
