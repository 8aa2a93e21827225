"""One daemon, two PBX simulators over real TCP (config ``pbxs``; docs/scale.md, "Several PBXs").

Both simulators start their clocks at the same instant, so their Asterisk uniqueids collide: the records
must still be one per call, keyed ``<pbx>:<uniqueid>``, carry their PBX, and be answered by an agent of the
caller's own PBX (queues are confined per PBX). One PBX's AMI is cut (dropped, then hung) mid-burst: it
reconnects and resyncs on its own while the other keeps routing, and its resync touches no call of the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from asterisk.sim import PbxSimulator, SimConfig
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override
from callcenter.simwire import pbx_share, sim_config_for_daemon
from config.loader import ConfigError, load_config_text
from config.models import Config
from tests.pair import EXAMPLE, MORNING
from tests.test_fault_check import EPOCH, busy_load

SPEED = 100.0
AGENTS = 6  # per PBX


def two_pbx_yaml(ports: dict[str, int], tmp_path: Path, agents: int = AGENTS) -> dict[str, Any]:
    """config/example.yaml with ``pbxs: [a, b]`` and ``agents`` agents on each, the same extensions on both."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    queues = [q["name"] for q in data["queues"]]
    skills = {k: 10 for a in data["agents"] for k in (a.get("skills") or {})}
    ami = {**data.pop("ami"), "secret": "s3cret", "ping_interval": 0.1, "action_timeout": 0.5}
    data.pop("agi", None)
    data["pbxs"] = [{"name": name, "ami": {**ami, "port": port}, "agi": {"host": "127.0.0.1", "port": 4573}}
                    for name, port in ports.items()]
    data["agents"] = [
        {"id": f"{n}{i:03d}", "name": f"坐席{name}{i}", "endpoint": f"PJSIP/{1000 + i}", "queues": queues,
         "skills": skills, "pbx": name}
        for n, name in enumerate(ports, start=1) for i in range(1, agents + 1)
    ]
    for key in ("shifts", "teams", "shift_rules", "staffing", "mqtt"):
        data.pop(key, None)
    data["centre"]["auto_ready_agents"] = True
    data["database"] = {"url": f"sqlite:///{tmp_path / 'calls.db'}"}
    return data


def load(data: dict[str, Any]) -> Config:
    return load_config_text(yaml.safe_dump(data, allow_unicode=True), "two-pbx.yaml", environ={})


def any_ports(cfg: Config) -> Config:
    """Every listener on a port the system picks (the YAML form takes 1..65535 only)."""
    pbxs = [p.model_copy(update={"agi": p.agi.model_copy(update={"port": 0})}) for p in cfg.pbxs]
    return override(cfg.model_copy(update={"pbxs": pbxs}), web_port=0, agi_port=0)


@contextlib.asynccontextmanager
async def two_pbxs(tmp_path: Path) -> AsyncIterator[tuple[Daemon, dict[str, PbxSimulator], Config]]:
    clock = Clock(SPEED, origin=MORNING)
    # The simulators need the config for their agents and users; their AMI ports come once they listen.
    draft = load(two_pbx_yaml({"a": 1, "b": 2}, tmp_path))
    sims: dict[str, PbxSimulator] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in ("a", "b"):
            sim_cfg = sim_config_for_daemon(pbx_share(draft, name), speed=SPEED, seed=11, calls=0)
            sim_cfg = SimConfig.model_validate({**sim_cfg.model_dump(), "start": clock.origin, **busy_load(rate=300.0)})
            sims[name] = await stack.enter_async_context(PbxSimulator(sim_cfg))
        cfg = any_ports(load(two_pbx_yaml({n: s.ami_port for n, s in sims.items()}, tmp_path)))
        daemon = Daemon(cfg, clock=clock, spool_dir=tmp_path)
        task = asyncio.create_task(daemon.run(), name="daemon")
        try:
            async with asyncio.timeout(20):
                await daemon.ready.wait()
                for link in daemon.pbxs.links:
                    await link.ami.wait_connected()
                    link.ami.ping_interval, link.ami.ping_timeout, link.ami.reconnect_min = 0.1, 0.2, 0.05
            for link in daemon.pbxs.links:
                sims[link.name].set_agi_url(f"agi://127.0.0.1:{link.agi.port}/ivr")
            yield daemon, sims, cfg
        finally:
            daemon.stop()
            async with asyncio.timeout(20):
                await task


async def wait_for(pred: Any, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not pred():  # noqa: ASYNC110 (a bounded poll)
            await asyncio.sleep(0.02)


def answered(sim: PbxSimulator) -> int:
    return sum(1 for t in sim.ledger.values() if t.answered_by is not None)


async def test_two_pbxs_one_cut_the_other_routes_every_call_recorded_once(tmp_path: Path) -> None:
    calls = 60
    async with two_pbxs(tmp_path) as (d, sims, cfg):
        a, b = d.pbxs.links
        loads = [asyncio.create_task(sims[n].run_load(calls=calls)) for n in ("a", "b")]
        try:
            await wait_for(lambda: len(sims["a"].ledger) >= calls // 3)
            runs_a, runs_b = a.resync.stats.runs, b.resync.stats.runs
            assert sims["a"].drop_ami() == 1
            await wait_for(lambda: a.resync.stats.runs > runs_a and a.resync.synced.is_set())
            # Now hang A's AMI: while A is deaf, B's callers still reach B's agents.
            sims["a"].freeze_ami(True)
            await wait_for(lambda: a.ami.stats.ping_timeouts > 0)
            b_before = answered(sims["b"])
            await wait_for(lambda: answered(sims["b"]) >= b_before + 3)
            assert not a.ami.stats.connected
            sims["a"].freeze_ami(False)
            await wait_for(lambda: a.resync.stats.runs > runs_a + 1 and a.resync.synced.is_set())
            await asyncio.gather(*loads)
        finally:
            for t in loads:
                t.cancel()
        async with asyncio.timeout(30):
            for sim in sims.values():
                await sim.drain()
            await wait_for(lambda: not d.ledger.calls)
            await d.writer.flush()
        assert b.resync.stats.runs == runs_b  # B never reconnected: its calls were never resynced
        records = d.store.records(EPOCH)
    agents_of = {name: {str(x.id) for x in cfg.agents if x.pbx == name} for name in sims}
    by_id = {r.call_id: r for r in records}
    assert len(by_id) == len(records) == 2 * calls  # one record per call, none twice
    for name, sim in sims.items():
        ours = {cid: r for cid, r in by_id.items() if r.pbx == name}
        assert set(ours) == {f"{name}:{uid}" for uid in sim.ledger}, name
        for uid, truth in sim.ledger.items():
            assert truth.end_count == 1
            rec = ours[f"{name}:{uid}"]
            if rec.agent_id is not None:
                assert rec.agent_id in agents_of[name], (rec.call_id, rec.agent_id)  # confined to its PBX
            if name == "b" and rec.outcome.value == "answered":  # B was never cut: every detail is right
                assert rec.agent_id == truth.answered_by
            # On A, an offer written just before the watchdog declared the hung connection dead may still
            # be carried out by the PBX after the daemon offered the call again: without CDRs (one PBX only)
            # such a record can name the second agent. It stays an agent of A.
    # The simulators' uniqueids collide: without the prefix the records would have overwritten each other.
    assert {u for u in sims["a"].ledger} & {u for u in sims["b"].ledger}
    assert d.engine.queue_length(cfg.queues[0].name) == 0


def test_single_ami_config_is_one_pbx_called_main(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cfg = load(data)
    assert [p.name for p in cfg.pbx_list()] == ["main"]
    assert cfg.pbx_list()[0].ami == cfg.ami


def test_pbxs_and_ami_together_or_unknown_pbx_are_clear_errors(tmp_path: Path) -> None:
    data = two_pbx_yaml({"a": 5038, "b": 5039}, tmp_path)
    cfg = load(data)
    assert cfg.ami.port == 5038  # the first PBX's
    with pytest.raises(ConfigError, match="either pbxs or ami"):
        load({**data, "ami": data["pbxs"][0]["ami"]})
    data["agents"][0]["pbx"] = "zz"
    with pytest.raises(ConfigError, match="unknown PBX 'zz'"):
        load(data)
    data["agents"][0]["pbx"] = "a"
    data["pbxs"][1]["name"] = "a"
    with pytest.raises(ConfigError, match="duplicate name 'a'"):
        load(data)


def test_a_restart_hands_each_pbx_resync_its_own_open_calls(tmp_path: Path) -> None:
    """The journal of a killed daemon holds open calls of both PBXs: each PBX's first resync gets its own,
    so A's login cannot close B's calls as gone from A (they are not in A's channel list)."""
    from datetime import UTC, datetime

    from callcenter.ledger import CallEntry
    from callcenter.resync import OpenCallJournal

    cfg = any_ports(load(two_pbx_yaml({"a": 5038, "b": 5039}, tmp_path)))
    journal = OpenCallJournal(tmp_path / "open.jsonl")
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for cid in ("a:1772413200.1", "b:1772413200.1", "b:1772413200.2"):
        journal.save(CallEntry(cid, at, linkedid=cid, channel="PJSIP/trunk-1"))
    journal.close()
    daemon = Daemon(cfg, spool_dir=tmp_path)
    assert daemon.pbxs.restore(OpenCallJournal(tmp_path / "open.jsonl")) == []
    a, b = daemon.pbxs.links
    assert set(a.resync.restored) == {"a:1772413200.1"}
    assert set(b.resync.restored) == {"b:1772413200.1", "b:1772413200.2"}
    assert a.resync.blind_since == b.resync.blind_since == at
    daemon.store.close()


def test_one_pbx_device_list_frees_only_its_own_agents(tmp_path: Path) -> None:
    """PJSIP/1001 exists on both PBXs: a DeviceStateChange on A is A's agent's, and A's resync (whose
    DeviceStateList names only A's phones) must not take B's busy agents as free."""
    from datetime import UTC, datetime

    from asterisk.ami.codec import Message

    cfg = any_ports(load(two_pbx_yaml({"a": 5038, "b": 5039}, tmp_path)))
    daemon = Daemon(cfg, spool_dir=tmp_path)
    flow, (a, b) = daemon.flow, daemon.pbxs.links
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    b._on_event(Message([("Event", "DeviceStateChange"), ("Device", "PJSIP/1001"), ("State", "INUSE")]), 0.0)
    assert flow.device_states == {"2001": "INUSE"}  # B's agent on PJSIP/1001, not A's
    a.resync.calls.devices_seen({"PJSIP/1002": "INUSE"}, at)
    assert flow.device_states["2001"] == "INUSE"  # untouched by A's list
    assert flow.device_states["1002"] == "INUSE" and flow.device_states["1001"] == "NOT_INUSE"
    # The desktop's call controls go to the PBX of the agent's call.
    assert daemon.desk.ami_of("b:1772413200.1") is b.ami and daemon.desk.ami_of("a:1772413200.1") is a.ami
    daemon.store.close()
