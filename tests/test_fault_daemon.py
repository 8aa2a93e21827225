"""The daemon dies mid-burst (its task cancelled with no drain, as close to ``kill -9`` as one process
allows), calls go on in the simulator, a new daemon starts on the same store and spool directory.

Every call is accounted for: the open-call journal tells the new daemon which calls the old one had;
the first resync adopts the live ones (waiting callers keep their place: CC_ENTERED) and closes the
ones that ended meanwhile with what Asterisk's CDRs say (Master.csv, written by the simulator as
cdr_csv does); a call that began and ended while no daemon ran gets its record from its CDR too;
nothing is recorded twice. Callers on hold while no daemon runs go to [cc-fallback] after CC_HOLD_MAX:
nobody is stranded. (tests/test_fault_kill9.py does the same with a real process and SIGKILL.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from asterisk.sim import PbxSimulator, SimConfig
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override, without_roster
from callcenter.simwire import sim_config_for_daemon
from config.loader import load_config
from config.models import CdrConfig, Config
from tests.pair import EXAMPLE
from tests.test_fault_check import EPOCH, busy_load, in_flight, settle, verdict, wait_for

SPEED = 100.0


async def _start(cfg: object, tmp_path: Path, clock: Clock) -> tuple[Daemon, asyncio.Task[None]]:
    d = Daemon(cfg, clock=clock, spool_dir=tmp_path)  # type: ignore[arg-type]
    d.ami.reconnect_min = 0.05
    task = asyncio.create_task(d.run(), name="daemon")
    async with asyncio.timeout(20):
        await d.ready.wait()
        await d.ami.wait_connected()
    return d, task


def _no_mqtt(cfg: Config) -> Config:
    # The crash is emulated by cancelling the daemon's task; the MQTT publishers are not under test here
    # (and their stop on cancellation is being worked on elsewhere).
    return cfg.model_copy(update={"mqtt": None})


async def _crash(d: Daemon, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    d.journal.close()  # the OS closes a killed process's files


# The kill is emulated in-process (task cancelled, no drain): the killed daemon's sockets are left for
# the garbage collector, as a real kill -9 leaves them to the OS.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_daemon_killed_mid_burst_restarts_and_accounts_for_every_call(tmp_path: Path) -> None:
    master = tmp_path / "cdr-csv" / "Master.csv"
    # every agent on duty (no rota): calls are answered, wait, ring and are cut at the kill
    cfg = without_roster(_no_mqtt(load_config(EXAMPLE, environ={})))
    cfg = override(cfg, database_url=f"sqlite:///{tmp_path / 'calls.db'}", web_port=0, agi_port=0)
    cfg = cfg.model_copy(update={"cdr": CdrConfig(master_csv=str(master))})
    clock = Clock(SPEED)
    sim_cfg = sim_config_for_daemon(cfg, speed=SPEED, seed=5, calls=0)
    sim_cfg = SimConfig.model_validate({**sim_cfg.model_dump(), **busy_load(), "hold_max": 3000.0,
                                        "fallback_wait": 20.0, "cdr_csv": str(master)})
    async with PbxSimulator(sim_cfg) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
        d1, t1 = await _start(cfg, tmp_path, clock)
        sim.set_agi_url(f"agi://127.0.0.1:{d1.agi_port}/ivr")
        load = asyncio.create_task(sim.run_load(calls=60))
        await wait_for(lambda: len(sim.ledger) >= 30)
        flying = in_flight(sim)
        await _crash(d1, t1)
        waiting = {cid: e.queued_at for cid, e in d1.ledger.calls.items() if e.waiting}
        # calls go on (and some end) with no daemon; this one begins and ends unseen (its AGI fails: fallback)
        unseen = await sim.place_call("13900000001", name="王小明", dtmf="1", patience=10_000)
        async with asyncio.timeout(20):
            await sim.wait_call(unseen)
        d2, t2 = await _start(cfg, tmp_path, clock)
        sim.set_agi_url(f"agi://127.0.0.1:{d2.agi_port}/ivr")
        await wait_for(d2.resync.synced.is_set)
        try:
            async with asyncio.timeout(60):
                await load
            await settle(d2, sim)
            v = verdict(d2, sim)
            records = {r.call_id: r for r in d2.store.records(EPOCH)}
        finally:
            d2.stop()
            await t2
    assert flying > 0
    assert d2.resync.stats.adopted + d2.resync.stats.closed > 0
    v.assert_clean("daemon killed (in process)", 1, flying)
    assert v.calls == 61
    assert d2.resync.stats.cdr_unseen >= 1 and d2.resync.stats.cdr_missing == 0
    rec = records[unseen]
    assert (rec.outcome.value, rec.caller_number, rec.caller_name) == ("fallback", "13900000001", "王小明")
    for cid, queued_at in waiting.items():  # waiting callers kept their place in the queue
        assert records[cid].queued_at == queued_at, (cid, records[cid], queued_at)


async def test_callers_on_hold_when_the_daemon_dies_go_to_fallback(tmp_path: Path) -> None:
    cfg = _no_mqtt(load_config(EXAMPLE, environ={}))
    cfg = override(cfg, database_url=f"sqlite:///{tmp_path / 'calls.db'}", web_port=0, agi_port=0)
    clock = Clock(SPEED)
    sim_cfg = sim_config_for_daemon(cfg, speed=SPEED, seed=9, calls=0)
    sim_cfg = SimConfig.model_validate({**sim_cfg.model_dump(), "hold_max": 30.0, "fallback_wait": 5.0})
    async with PbxSimulator(sim_cfg) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
        d, task = await _start(cfg, tmp_path, clock)
        sim.set_agi_url(f"agi://127.0.0.1:{d.agi_port}/ivr")
        await _crash(d, task)  # nobody routes: callers reach hold only if the AGI ran; else fallback at once
        uids = [await sim.place_call(f"1380000{i:04d}", dtmf="1", patience=10_000) for i in range(10)]
        async with asyncio.timeout(60):
            truths = [await sim.wait_call(u) for u in uids]
    for t in truths:
        assert t.outcome == "fallback", t
        assert t.ended_at is not None
