"""Agent availability follows the phone: an agent whose device is busy with a call the daemon did not place
(Asterisk's fallback queue, a direct call) is not offered a call, and a restarted daemon learns which devices
are in use (DeviceStateList at its resync).

The AMI source is DeviceStateChange: Asterisk's own aggregate of every channel on a device (so a second line,
a transfer or an outbound call all count), sent without any dialplan hint; ExtensionStatus needs a hint per
agent in the centre's dialplan, and following channels means re-deriving what Asterisk already computes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asterisk.ami.tracker import CallTracker, DeviceChanged
from asterisk.ami.transcripts import load_transcript, transcript_paths
from asterisk.sim import PbxSimulator, SimConfig
from callcenter.callflow import CallFlow
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override, without_roster
from callcenter.resync import OpenCallJournal
from callcenter.simwire import sim_config_for_daemon
from config.loader import load_config
from metrics.live import LiveStats
from queueing import (
    AgentDeviceChanged,
    AgentLoggedIn,
    AgentReady,
    AgentSpec,
    CallQueued,
    Engine,
    EngineConfig,
    OfferCall,
    QueueSpec,
)
from tests.engine_kit import make, ready
from tests.pair import EXAMPLE, MORNING, running_pair
from tests.ports import free_ports

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def test_real_device_state_events_are_read() -> None:
    tracker = CallTracker()
    seen: list[DeviceChanged] = []
    e1 = next(p for p in transcript_paths() if p.name.startswith("e1"))
    for block in load_transcript(e1).received:
        if not block.is_banner:
            seen += [f for f in tracker.feed(block.message(), T0 + timedelta(seconds=block.at))
                     if isinstance(f, DeviceChanged)]
    agent = [(d.device, d.state) for d in seen if d.device == "Local/1001@cc-agents"]
    assert agent[0] == ("Local/1001@cc-agents", "INUSE") and agent[-1] == ("Local/1001@cc-agents", "NOT_INUSE")


def test_engine_offers_no_call_to_a_busy_phone_and_offers_when_it_is_free() -> None:
    h = make([QueueSpec("general")], [AgentSpec("a1", ("general",)), AgentSpec("a2", ("general",))])
    ready(h, "a1", "a2")
    engine, t = h.engine, h.now
    engine.handle(AgentDeviceChanged(t, "a1", busy=True))
    engine.handle(AgentDeviceChanged(t, "a2", busy=True))
    out = engine.handle(CallQueued(t + timedelta(seconds=1), "c1", "general", caller="138"))
    assert not [c for c in out if isinstance(c, OfferCall)]
    assert engine.agent_state("a1")[0].value == "ready"  # still ready: only the phone is busy
    out = engine.handle(AgentDeviceChanged(t + timedelta(seconds=2), "a2", busy=False))
    assert [(c.call_id, c.agent_id) for c in out if isinstance(c, OfferCall)] == [("c1", "a2")]


async def _place_fallback_calls(sim: PbxSimulator, refused_port: int, n: int, talk: float) -> list[str]:
    """Callers the daemon cannot serve (FastAGI refused): Asterisk's queue gives them to its members."""
    good = sim.config.agi_url
    sim.set_agi_url(f"agi://127.0.0.1:{refused_port}/ivr")
    uids = [await sim.place_call(f"1390000{i:04d}", patience=600, talk=talk) for i in range(n)]
    deadline = asyncio.get_running_loop().time() + 20
    while sum(1 for u in uids if sim.ledger[u].answered_by) < n:
        assert asyncio.get_running_loop().time() < deadline, "the fallback queue did not answer"
        await asyncio.sleep(0.05)
    sim.set_agi_url(good)
    return uids


def _rings_to_busy_phones(sim: PbxSimulator) -> list[str]:
    return [f"{u}: {o.agent} at {o.at:%H:%M:%S}" for u, t in sim.ledger.items() for o in t.offers
            if o.device_busy and not o.by_fallback]


async def test_daemon_does_not_ring_phones_busy_with_calls_it_did_not_place(tmp_path: Path) -> None:
    members = ("PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004")
    (refused,) = free_ports(1)
    async with running_pair(tmp_path, speed=20, seed=5, sim_changes={"fallback_members": members}) as pair:
        sim = pair.sim
        await _place_fallback_calls(sim, refused, 4, talk=120)
        direct = sim.occupy_device("PJSIP/1005")  # an agent's own call
        uids = [await sim.place_call(f"1380000{i:04d}", dtmf="1", patience=600, talk=5, dtmf_delay=0.2)
                for i in range(16)]
        for u in uids:
            await sim.wait_call(u)
        sim.release_device(direct)
        busy_agents = {"1001", "1002", "1003", "1004", "1005"}
        routed = [o.agent for u in uids for o in sim.ledger[u].offers]
        assert routed and not busy_agents & set(routed), routed
        assert _rings_to_busy_phones(sim) == []
        await pair.settle(within=60)


async def test_restarted_daemon_learns_busy_phones_and_rings_none(tmp_path: Path) -> None:
    """The daemon is stopped while Asterisk's queue gives callers to agents, and started again during a load:
    its resync (DeviceStateList) must know those phones are in use before it routes a call."""
    members = ("PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004", "PJSIP/1005", "PJSIP/1006")
    (refused,) = free_ports(1)
    cfg = without_roster(load_config(EXAMPLE, environ={}))
    cfg = override(cfg, database_url=f"sqlite:///{tmp_path / 'calls.db'}", web_port=0, agi_port=0)
    clock = Clock(20.0, origin=MORNING)
    sim_cfg = sim_config_for_daemon(cfg, speed=20.0, seed=9, calls=0).model_dump()
    sim_cfg.update(start=clock.origin, fallback_members=members)
    async with PbxSimulator(SimConfig.model_validate(sim_cfg)) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)

        async def start() -> tuple[Daemon, asyncio.Task[None]]:
            daemon = Daemon(cfg, clock=clock, spool_dir=tmp_path)
            task = asyncio.create_task(daemon.run())
            async with asyncio.timeout(20):
                await daemon.ready.wait()
                await daemon.ami.wait_connected()
                await daemon.resync.synced.wait()
            sim.set_agi_url(f"agi://127.0.0.1:{daemon.agi_port}/ivr")
            return daemon, task

        async def stop(daemon: Daemon, task: asyncio.Task[None]) -> None:
            # not cancelled on a timeout: a daemon stopping with FastAGI sessions open waits for them, and
            # the simulator's exit below hangs those calls up
            daemon.stop()
            await asyncio.wait({task}, timeout=20)

        first = await start()
        load = [await sim.place_call(f"1380000{i:04d}", dtmf="1", patience=600, talk=3, dtmf_delay=0.2)
                for i in range(4)]
        for u in load:  # (a daemon stopped with FastAGI sessions open waits for them: tests/test_fault_* cover it)
            await sim.wait_call(u)
        await stop(*first)  # the daemon is down: calls go to Asterisk's own queue
        await _place_fallback_calls(sim, refused, len(members), talk=200)
        second = await start()
        try:
            load += [await sim.place_call(f"1381000{i:04d}", dtmf="1", patience=600, talk=3, dtmf_delay=0.2)
                     for i in range(12)]
            for u in load:
                await sim.wait_call(u)
            assert _rings_to_busy_phones(sim) == []
            routed = [o.agent for u in load[4:] for o in sim.ledger[u].offers]
            assert routed and not {"1001", "1002", "1003", "1004", "1005", "1006"} & set(routed), routed
        finally:
            await stop(*second)
    async with asyncio.timeout(30):  # both daemons' ends (the first may still wait for its FastAGI sessions)
        await asyncio.gather(first[1], second[1])


def test_call_flow_maps_device_states_to_agents_whose_endpoints_have_dashes(tmp_path: Path) -> None:
    """Found on the real PBX: a Local phone's endpoint (``Local/1001@lab-agents``) holds a dash; the device is
    the endpoint itself, never cut at its last dash as a channel name is."""
    engine = Engine(EngineConfig((QueueSpec("main"),), (AgentSpec("a1", ("main",)), AgentSpec("a2", ("main",)))))
    sent: list[object] = []
    flow = CallFlow(engine=engine, live=LiveStats(queues=[("main", "Main")]),
                    journal=OpenCallJournal(tmp_path / "open.jsonl"), timers=_NoTimers(),
                    endpoints={"a1": "Local/1001@lab-agents", "a2": "Local/1002@lab-agents"}, queue_names=["main"],
                    send=sent.append)
    for aid in ("a1", "a2"):
        flow.feed(AgentLoggedIn(T0, aid))
        flow.feed(AgentReady(T0, aid))
    flow.devices_seen({"Local/1001@lab-agents": "INUSE"}, T0)  # the resync's view
    flow.handle(DeviceChanged(T0, "Local/1002@lab-agents", "RINGING"))  # a live event
    flow.feed(CallQueued(T0 + timedelta(seconds=1), "c1", "main", caller="138"))
    assert [c for c in sent if isinstance(c, OfferCall)] == []
    flow.handle(DeviceChanged(T0 + timedelta(seconds=2), "Local/1001@lab-agents", "NOT_INUSE"))
    assert [(c.call_id, c.agent_id) for c in sent if isinstance(c, OfferCall)] == [("c1", "a1")]


class _NoTimers:
    def start(self, key: object, due: datetime) -> None: ...

    def cancel(self, key: object) -> None: ...
