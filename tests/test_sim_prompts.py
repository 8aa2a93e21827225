"""The simulator answers prompt commands as Asterisk 22 does when the sound file is missing (checked on the real
PBX: tests/integration/test_pbx_routing.py), and its dialplan, like the shipped one, keeps such a caller with
the daemon: the decision is CC_QUEUE, not AGISTATUS."""

from __future__ import annotations

from pathlib import Path

from asterisk.sim import PbxSimulator
from asterisk.sim.testing import AgiConn, TinyAgi
from tests.pair import running_pair
from tests.test_sim_calls import cfg, run_with_router


async def _ivr_with_missing_files(conn: AgiConn) -> None:
    if conn.env.get("agi_network_script") == "ivr/survey":
        return
    await conn.cmd("ANSWER")
    await conn.cmd('STREAM FILE callcenter/zh/welcome ""')
    await conn.cmd('STREAM FILE callcenter/zh/never-recorded ""')
    await conn.cmd("GET DATA callcenter/zh/never-recorded-menu 3000 1")
    await conn.cmd('GET DATA "" 3000 1')
    await conn.cmd("SET VARIABLE CC_QUEUE general")


async def test_missing_sound_files_answer_like_asterisk_and_the_call_stays_with_the_daemon(tmp_path: Path) -> None:
    (tmp_path / "callcenter" / "zh").mkdir(parents=True)
    (tmp_path / "callcenter" / "zh" / "welcome.wav").write_bytes(b"RIFF")
    async with TinyAgi(_ivr_with_missing_files) as agi, PbxSimulator(cfg(agi.url, sounds_dir=str(tmp_path))) as sim:
        truth, holds, _ = await run_with_router(sim, lambda n: "1001", caller="13800000009", dtmf=["2"],
                                                     talk=5, patience=300, dtmf_delay=0.5)
    replies = agi.conns[0].replies
    assert replies[1].startswith("200 result=0 endpos=")  # present: played
    assert replies[2] == "200 result=-1 endpos=0"  # res_agi handle_streamfile, file missing
    assert replies[3] == "200 result=-1"  # GET DATA: ast_app_getdata_full gives up before reading keys
    assert replies[4] == "200 result=2"  # GET DATA "": the keys without a prompt
    assert truth.agi_status == "FAILURE"  # the script "completed, returning -1", as res_agi says
    assert truth.queue == "general" and holds == [truth.uniqueid]  # yet not sent to the fallback
    assert truth.outcome == "answered" and truth.answered_by == "1001"


async def test_daemon_routes_callers_whose_prompts_are_missing(tmp_path: Path) -> None:
    """The daemon's IVR over the simulator with the welcome and the main menu's prompt missing: the caller's
    keys are still read (GET DATA without the prompt) and every call reaches the ACD, none the fallback."""
    missing = ["callcenter/zh/welcome", "callcenter/zh/main-menu", "callcenter/zh/language"]
    async with running_pair(tmp_path, speed=100, seed=5, sim_changes={"missing_prompts": missing}) as pair:
        sim, daemon = pair.sim, pair.daemon
        complaints = await sim.place_call("13800138010", dtmf=["1", "2"], talk=5, caller_hangs_up=True,
                                          patience=900)
        general = await sim.place_call("13800138011", dtmf=["1", "1"], talk=5, caller_hangs_up=True,
                                       patience=900)
        for uid in (complaints, general):
            await sim.wait_call(uid)
        await pair.settle()
        records = {r.call_id: r for r in daemon.store.records(pair.clock.origin.replace(year=2000))}
    for uid, queue in ((complaints, "complaints"), (general, "general")):
        truth = sim.ledger[uid]
        assert truth.agi_status == "FAILURE"  # the welcome's STREAM FILE failed, as on Asterisk
        assert truth.outcome == "answered" and records[uid].queue == queue
        assert records[uid].agent_id == truth.answered_by and records[uid].outcome.value == "answered"
