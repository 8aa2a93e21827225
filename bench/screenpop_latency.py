"""Screen-pop latency: from the agent's phone starting to ring to the pop at an MQTT subscriber.

The PBX simulator and the daemon run over TCP on this machine (the simulator in the same process and event
loop, which makes the figure pessimistic), with the real Mosquitto on 127.0.0.1:1883. The store is first
filled with ``--history-rows`` past calls (so each pop's history query runs against a realistic index),
part of them from the callers who will phone. Then calls arrive at ``--rate`` per real second for
``--seconds``; every call is answered by one of ``--agents`` generated agents.

Measured per pop: t0 = the simulator emits DialBegin (the phone rings; a real Asterisk sends the same
event at that moment), t1 = an MQTT client subscribed to <prefix>/agents/+/offer receives the offer
(QoS 1). Both on this process's monotonic clock. The pop's path: AMI event -> tracker -> ledger ->
screen-pop worker -> history query (SQLite, in a thread) -> MQTT publish -> broker -> subscriber.

    .venv/bin/python bench/screenpop_latency.py [--rate 40] [--seconds 15] [--agents 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override
from config.loader import load_config_text
from config.models import Config
from records.model import CallRecordData, Outcome

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, percentile, write_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
P99_LIMIT_MS = 200.0


def bench_config(agents: int, database: str, prefix: str) -> Config:
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    queues = [q["name"] for q in data["queues"]]
    for q in data["queues"]:
        q["wrapup_seconds"] = 2
    skills = {k: 10 for a in data["agents"] for k in (a.get("skills") or {})}
    data["agents"] = [
        {"id": str(1001 + i), "name": f"坐席{i + 1}", "endpoint": f"PJSIP/{1001 + i}", "queues": queues,
         "skills": skills}
        for i in range(agents)
    ]
    data["users"] = []
    for key in ("shifts", "teams", "shift_rules", "staffing"):
        data.pop(key, None)
    data["mqtt"] = {"host": "127.0.0.1", "port": 1883, "topic_prefix": prefix}
    data.setdefault("centre", {})["auto_ready_agents"] = True
    cfg = load_config_text(yaml.safe_dump(data, allow_unicode=True), "bench-screenpop.yaml", environ={})
    return override(cfg, database_url=database, web_port=0, agi_port=0)


def caller(i: int) -> str:
    return f"139{i:08d}"


def past_calls(rows: int, callers: int, now: Any, rng: random.Random) -> list[CallRecordData]:
    out = []
    for i in range(rows):
        number = caller(rng.randrange(callers * 4))  # a quarter of them are the bench's callers
        ended = now - timedelta(minutes=rng.randrange(1, 60 * 24 * 365))
        out.append(CallRecordData(
            call_id=f"hist-{i}", linkedid=f"hist-{i}", caller_number=number, caller_name="", channel="PJSIP/t-1",
            ivr_path="welcome>main:1", language="zh", queue="general", agent_id="1001",
            entered_at=ended - timedelta(seconds=200), queued_at=ended - timedelta(seconds=190),
            offered_at=ended - timedelta(seconds=180), answered_at=ended - timedelta(seconds=178), ended_at=ended,
            wait_seconds=12.0, talk_seconds=178.0, offers=1, outcome=Outcome.ANSWERED, hangup_cause=16))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from asterisk.sim import PbxSimulator
    from callcenter.simwire import sim_config_for_daemon

    prefix = f"cc-bench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="screenpop-bench-"))
    cfg = bench_config(args.agents, f"sqlite:///{tmp / 'calls.db'}", prefix)
    clock = Clock(args.speed)
    calls = int(args.rate * args.seconds)
    rng = random.Random(args.seed)
    rang: dict[tuple[str, str], float] = {}  # (call id, agent) -> DialBegin emitted
    got: dict[tuple[str, str], float] = {}  # (call id, agent) -> offer received
    seen: dict[tuple[str, str], float] = {}  # (call id, agent) -> the daemon handled the ring (AgentDialed)

    def on_sim_event(headers: Any) -> None:
        if headers and headers[0] == ("Event", "DialBegin"):
            h = dict(headers)
            rang.setdefault((h["Uniqueid"], h["DialString"].split("/")[-1]), time.monotonic())

    sim_cfg = sim_config_for_daemon(cfg, speed=args.speed, seed=args.seed, calls=0)
    async with PbxSimulator(sim_cfg) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
        daemon = Daemon(cfg, clock=clock, spool_dir=tmp)
        history = past_calls(args.history_rows, calls, clock.now(), rng)
        for i in range(0, len(history), 5000):
            daemon.store.write_batch(history[i:i + 5000])
        sim.add_listener(on_sim_event)
        ringing = daemon.screenpop.ringing

        def timed_ringing(call: Any) -> None:
            seen.setdefault((call.call_id, call.agent_id), time.monotonic())
            ringing(call)

        daemon.screenpop.ringing = timed_ringing  # type: ignore[method-assign]
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"bench-sub-{prefix}") as sub:
            await sub.subscribe(f"{prefix}/agents/+/offer", qos=1)

            async def pump() -> None:
                async for msg in sub.messages:
                    assert isinstance(msg.payload, bytes)
                    pop = json.loads(msg.payload)
                    got.setdefault((pop["call_id"], pop["agent_id"]), time.monotonic())

            async with asyncio.TaskGroup() as tg:
                pumping = tg.create_task(pump(), name="bench-subscriber")
                running = tg.create_task(daemon.run(), name="daemon")
                await daemon.ready.wait()
                await daemon.ami.wait_connected()
                sim.set_agi_url(f"agi://127.0.0.1:{daemon.agi_port}/ivr")
                counters = daemon.screenpop.counters
                async with asyncio.timeout(120):
                    while not counters.connected:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                    # Every agent logs in and goes ready at start: 2 retained states each. Measure the steady
                    # state, not that burst (the pops would queue behind thousands of state messages).
                    while not daemon.screenpop._outbox.empty():  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                started = time.monotonic()
                placed = []
                for i in range(calls):
                    due = started + i / args.rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    placed.append(await sim.place_call(caller(i), dtmf="1", talk=args.talk, patience=3600))
                for uid in placed:
                    await sim.wait_call(uid)
                await asyncio.sleep(0.5)  # the last pops in flight
                wall = time.monotonic() - started
                daemon.stop()
                await running
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
    lat = sorted((got[k] - t0) * 1000 for k, t0 in rang.items() if k in got)
    # The daemon's own part: from handling the ring's AMI event to the message at the subscriber.
    own = sorted((got[k] - t) * 1000 for k, t in seen.items() if k in got)
    missing = [k for k in rang if k not in got]
    return {
        "benchmark": "screenpop_latency",
        "command": command(),
        "machine": machine(),
        "settings": {"rate_per_s": args.rate, "seconds": args.seconds, "agents": args.agents, "speed": args.speed,
                     "history_rows": args.history_rows, "talk_s": args.talk},
        "calls": calls,
        "rings": len(rang),
        "pops_received": len(lat),
        "pops_missing": len(missing),
        "wall_seconds": round(wall, 2),
        "rings_per_s": round(len(rang) / wall, 1) if wall else None,
        "latency_ms": {"p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99),
                       "max": _r(lat[-1] if lat else None)},
        "daemon_part_ms": {"p50": _pct(own, 50), "p99": _pct(own, 99)},
        "p99_limit_ms": P99_LIMIT_MS,
        "ok": bool(lat) and not missing and percentile(lat, 99) < P99_LIMIT_MS,
    }


def _pct(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 2) if values else None


def _r(v: float | None) -> float | None:
    return round(v, 2) if v is not None else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=40.0, help="new calls per real second (default 40)")
    p.add_argument("--seconds", type=float, default=15.0, help="real seconds of arrivals (default 15)")
    p.add_argument("--agents", type=int, default=300, help="generated agents, all ready (default 300)")
    p.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second (default 20)")
    p.add_argument("--talk", type=float, default=60.0, help="simulated seconds of talk per call (default 60)")
    p.add_argument("--history-rows", type=int, default=100_000, help="past calls in the store (default 100000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    lat = result["latency_ms"]
    print("screen-pop latency, ring (DialBegin) -> offer at an MQTT subscriber, real Mosquitto 127.0.0.1:1883")
    print(f"  {result['calls']} calls at {args.rate:g}/s, {result['rings']} rings ({result['rings_per_s']}/s), "
          f"{args.agents} agents, {args.history_rows} past calls in the store")
    print(f"  pops received {result['pops_received']}, missing {result['pops_missing']}")
    print(f"  p50 {lat['p50']} ms  p90 {lat['p90']} ms  p99 {lat['p99']} ms  max {lat['max']} ms  "
          f"(limit p99 < {P99_LIMIT_MS:g} ms: {'ok' if result['ok'] else 'NOT MET'})")
    own = result["daemon_part_ms"]
    print(f"  of which from the daemon reading the ring to the subscriber: p50 {own['p50']} ms  p99 {own['p99']} ms")
    if args.json:
        write_json(args.json, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
