"""A real ``kill -9``: ``callcenter run`` as a process, killed with SIGKILL in the middle of a burst, started
again on the same config, store and working directory.

The simulator runs in the test (real time: the daemon's clock is the wall clock) and writes Asterisk's
Master.csv as cdr_csv does; the daemon reads it (``cdr.master_csv``). Every call must end with exactly
one record that agrees with the simulator: the ones open at the kill (the open-call journal), the ones
that ended while no daemon ran (their CDRs), the ones that began and ended then (their CDRs too);
callers waiting at the kill keep their original queue entry time (CC_ENTERED / the journal).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from asterisk.sim import PbxSimulator, SimConfig
from callcenter.demo import override, without_roster
from callcenter.resync import OpenCallJournal
from callcenter.simwire import sim_config_for_daemon
from config.loader import load_config
from records.store import Store
from tests.pair import EXAMPLE
from tests.ports import free_ports
from tests.test_fault_check import EPOCH, Verdict, wait_for

CALLS = 30
SECRET = "kill9-secret"  # the test's own AMI user on the simulator


def _write_config(tmp_path: Path, ami_port: int, agi_port: int, web_port: int) -> tuple[Path, str, Path]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    db_url = f"sqlite:///{tmp_path / 'calls.db'}"
    master = tmp_path / "cdr-csv" / "Master.csv"
    raw["ami"].update(host="127.0.0.1", port=ami_port, secret=SECRET, ping_interval=1.0)
    raw["agi"] = {"host": "127.0.0.1", "port": agi_port}
    raw["database"] = {"url": db_url}
    raw["web"] = {**raw.get("web", {}), "host": "127.0.0.1", "port": web_port}
    raw["cdr"] = {"master_csv": str(master), "wait": 2.0}
    for key in ("mqtt", "shifts", "teams", "staffing"):  # every agent on duty; no broker needed
        raw.pop(key, None)
    for agent in raw["agents"]:
        agent.pop("team", None)
    for queue in raw["queues"]:  # real time: a short wrap-up keeps the test short
        queue["wrapup_seconds"] = 1
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path, db_url, master


def _metric(web_port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return -1.0
    m = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else -1.0


async def _start(config: Path, cwd: Path, web_port: int, n: int) -> asyncio.subprocess.Process:
    exe = Path(sys.executable).with_name("callcenter")
    log = (cwd / f"daemon-{n}.log").open("ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            str(exe), "--log-level", "INFO", "run", "--config", str(config), cwd=cwd, stdout=log, stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        log.close()  # the child has its own copy
    # ready: web up and the first resync after the AMI login done
    async def synced() -> None:
        while await asyncio.to_thread(_metric, web_port, "callcenter_resync_runs_total") < 1:
            if proc.returncode is not None:
                raise AssertionError(f"daemon exited with {proc.returncode}: see {cwd}/daemon-{n}.log")
            await asyncio.sleep(0.1)

    async with asyncio.timeout(30):
        await synced()
    return proc


async def _stop(proc: asyncio.subprocess.Process, sig: int) -> int:
    if proc.returncode is None:
        proc.send_signal(sig)
    async with asyncio.timeout(30):
        return await proc.wait()


async def test_kill_9_mid_burst_every_call_recorded_once_waiting_keep_their_place(tmp_path: Path) -> None:
    ami_port, agi_port, web_port = free_ports(3)
    cfg = without_roster(load_config(EXAMPLE, environ={}))
    cfg = override(cfg, agi_port=agi_port)
    sim_cfg = sim_config_for_daemon(cfg, speed=1.0, seed=11, calls=0).model_dump()
    for user in sim_cfg["users"]:
        user["secret"] = SECRET
    config, db_url, master = _write_config(tmp_path, ami_port, agi_port, web_port)
    sim_cfg.update(ami_port=ami_port, agi_url=f"agi://127.0.0.1:{agi_port}/ivr", cdr_csv=str(master),
                   prompt_seconds=0.2, hold_max=600.0, fallback_wait=0.5,
                   default_endpoint={"answer_delay": 0.5, "answer_delay_sigma": 0.0})
    procs: list[asyncio.subprocess.Process] = []
    async with PbxSimulator(SimConfig.model_validate(sim_cfg)) as sim:
        try:
            procs.append(await _start(config, tmp_path, web_port, 1))
            # 30 callers in 3 s for 12 agents: talks of 1..9 s, so some end while no daemon runs and
            # the rest of the callers wait in the queue at the kill
            uids = []
            for i in range(CALLS):
                uids.append(await sim.place_call(f"1380000{i:04d}", name="张三" if i % 3 == 0 else "", dtmf="1",
                                                 patience=600, talk=1.0 + (i * 7) % 9, dtmf_delay=0.2))
                await asyncio.sleep(0.1)
            await wait_for(lambda: sum(1 for u in uids if sim.ledger[u].answered_by) >= 10, within=30)
            assert await _stop(procs[0], signal.SIGKILL) == -signal.SIGKILL
            journal_path = tmp_path / f"callcenter-open-{hashlib.sha256(db_url.encode()).hexdigest()[:12]}.jsonl"
            open_at_kill, _ = OpenCallJournal(journal_path).load()
            waiting = {cid: e.queued_at for cid, e in open_at_kill.items() if e.waiting}
            # with no daemon: this caller's AGI is refused, Asterisk's own queue takes it and it ends unseen
            unseen = await sim.place_call("13900000001", name="王小明", dtmf="1", patience=600)
            async with asyncio.timeout(20):
                await sim.wait_call(unseen)
            await asyncio.sleep(1.0)  # answered calls end while no daemon runs
            procs.append(await _start(config, tmp_path, web_port, 2))
            async with asyncio.timeout(120):
                await sim.drain()
            store = Store(db_url)
            try:
                async with asyncio.timeout(30):
                    while await asyncio.to_thread(store.count) < CALLS + 1:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                assert await _stop(procs[1], signal.SIGTERM) == 0
                records = {r.call_id: r for r in store.records(EPOCH)}
            finally:
                store.close()
        finally:
            for p in procs:
                if p.returncode is None:
                    await _stop(p, signal.SIGKILL)
    still_open, _ = OpenCallJournal(journal_path).load()  # after a clean stop: calls the daemon never closed
    truth = sim.ledger
    v = Verdict(calls=len(truth))
    v.lost = sorted(set(truth) - set(records))
    v.duplicated = sorted(u for u, t in truth.items() if t.end_count != 1)
    v.stuck = sorted(set(still_open) - set(records))
    v.wrong = [f"not a simulated call: {u}" for u in sorted(set(records) - set(truth))]
    for u, t in truth.items():
        rec = records.get(u)
        if rec is not None and (rec.outcome.value == "answered") != (t.outcome == "answered"):
            v.wrong.append(f"{u}: record {rec.outcome.value}, truth {t.outcome}")
        elif rec is not None and t.outcome == "answered" and rec.agent_id != t.answered_by:
            v.wrong.append(f"{u}: answered by {rec.agent_id}, truth {t.answered_by}")
    v.assert_clean("daemon kill -9 (subprocess)", 1, len(open_at_kill))
    assert v.calls == CALLS + 1
    assert waiting, "no caller was waiting at the kill: the test proves nothing about queue places"
    for cid, queued_at in waiting.items():
        assert records[cid].queued_at == queued_at, (cid, records[cid].queued_at, queued_at)
    rec = records[unseen]
    assert (rec.outcome.value, rec.caller_number, rec.caller_name) == ("fallback", "13900000001", "王小明")
    log2 = (tmp_path / "daemon-2.log").read_text(encoding="utf-8")
    assert SECRET not in log2 and "resync" in log2
