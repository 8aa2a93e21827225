"""Several PBXs, end to end: two PBX simulators (each in its OWN process, as bench/e2e.py runs one) with
``--agents`` agents each, and one daemon (config ``pbxs: [a, b]``) in this process, over TCP on 127.0.0.1.

Each simulator places Poisson arrivals at ``--rate`` new calls per real second for ``--seconds``; every call
goes through the IVR (FastAGI to that PBX's listener), waits, is offered to an agent of its own PBX (Setvar +
Redirect on that PBX's AMI), rings, talks, hangs up and is recorded. Measured:

- every call recorded once: the store's rows per PBX against the calls each simulator placed (ids
  ``<pbx>:<uniqueid>``; the two simulators' uniqueids collide on purpose: same start, same seed);
- decision latency as bench/e2e.py measures it (input that made the match -> Redirect written);
- the daemon's CPU (user+sys, this process) and memory (peak RSS, and RSS at the end).

    .venv/bin/python bench/multi_pbx.py [--rate 100] [--seconds 6] [--agents 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from callcenter.clock import Clock
from callcenter.demo import override
from callcenter.simwire import pbx_share
from config.loader import load_config_text
from config.models import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, percentile, write_json
from _simproc import SimHandle, running_daemon, settle, sim_in_process
from e2e import EXAMPLE, OfferTimer, TimedDaemon, flat_sim_config

PBXS = ("a", "b")
EPOCH = datetime(2000, 1, 1).astimezone()


def multi_config(agents: int, wrapup: int, database: str, ami_ports: dict[str, int]) -> Config:
    """config/example.yaml with ``pbxs`` and ``agents`` generated agents per PBX (same extensions on each)."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    queues = [q["name"] for q in data["queues"]]
    for q in data["queues"]:
        q["wrapup_seconds"] = wrapup
    skills = {k: 10 for a in data["agents"] for k in (a.get("skills") or {})}
    ami = data.pop("ami")
    data.pop("agi", None)
    data["pbxs"] = [{"name": name, "ami": {**ami, "port": port}} for name, port in ami_ports.items()]
    data["agents"] = [
        {"id": str(n * 1000 + i), "name": f"坐席{name}{i}", "endpoint": f"PJSIP/{1000 + i}", "queues": queues,
         "skills": skills, "pbx": name}
        for n, name in enumerate(ami_ports, start=1) for i in range(1, agents + 1)
    ]
    for key in ("shifts", "teams", "shift_rules", "staffing", "mqtt"):
        data.pop(key, None)
    data.setdefault("centre", {})["auto_ready_agents"] = True
    cfg = load_config_text(yaml.safe_dump(data, allow_unicode=True), "bench-multi-pbx.yaml", environ={})
    pbxs = [p.model_copy(update={"agi": p.agi.model_copy(update={"port": 0})}) for p in cfg.pbxs]
    return override(cfg.model_copy(update={"pbxs": pbxs}), database_url=database, web_port=0, agi_port=0)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    calls = max(20, int(args.rate * args.seconds))
    with tempfile.TemporaryDirectory(prefix="bench-multi-pbx-") as tmp:
        draft = multi_config(args.agents, args.wrapup, f"sqlite:///{tmp}/calls.db", dict.fromkeys(PBXS, 1))
        async with contextlib.AsyncExitStack() as stack:
            sims: dict[str, SimHandle] = {}
            for name in PBXS:
                sim_cfg = flat_sim_config(pbx_share(draft, name), args.speed, args.rate, calls, args.talk, args.seed)
                sims[name] = await stack.enter_async_context(sim_in_process(sim_cfg, [calls]))
            cfg = multi_config(args.agents, args.wrapup, f"sqlite:///{tmp}/calls.db",
                               {n: s.ami_port for n, s in sims.items()})
            daemon = TimedDaemon(cfg, clock=Clock(args.speed), spool_dir=tmp)
            daemon.timer = OfferTimer()
            daemon.offer_timer = daemon.timer
            async with running_daemon(daemon):
                for link in daemon.pbxs.links:
                    await link.ami.wait_connected()
                rss0 = rss_mib()
                r0 = resource.getrusage(resource.RUSAGE_SELF)
                t0 = time.monotonic()
                for link in daemon.pbxs.links:
                    sims[link.name].start(link.agi.port)
                results = dict(zip(PBXS, await asyncio.gather(*(sims[n].result() for n in PBXS)), strict=True))
                await settle(daemon, within=60)
                wall = time.monotonic() - t0
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                rss1 = rss_mib()
                records = daemon.store.records(EPOCH)
    per_pbx = {n: sum(1 for r in records if r.pbx == n) for n in PBXS}
    timer = daemon.timer
    samples = [s * 1000 for s in timer.samples] or [float("nan")]
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    spans = [res["arrival_span_real"] for res in results.values()]
    out: dict[str, Any] = {
        "rate_per_pbx": args.rate,
        "calls_per_pbx": calls,
        "arrival_rate_per_pbx": {n: (calls - 1) / s if s else 0.0 for n, s in zip(PBXS, spans, strict=True)},
        "outcomes": {n: res["outcomes"] for n, res in results.items()},
        "records_per_pbx": per_pbx,
        "records_distinct": len({r.call_id for r in records}),
        "every_call_recorded_once": all(v == calls for v in per_pbx.values()) and len(records) == 2 * calls,
        "offers": len(timer.samples),
        "latency_ms": {"p50": percentile(samples, 50), "p90": percentile(samples, 90),
                       "p99": percentile(samples, 99), "max": max(samples)},
        "to_decision_ms_p99": percentile([s * 1000 for s in timer.to_decision] or [float("nan")], 99),
        "to_redirect_ms_p99": percentile([s * 1000 for s in timer.to_redirect] or [float("nan")], 99),
        "daemon_cpu_seconds": cpu,
        "daemon_cpu_per_1000_calls": cpu / (2 * calls) * 1000,
        "daemon_cpu_share": cpu / wall,
        "daemon_rss_mib_start": rss0,
        "daemon_rss_mib_end": rss1,
        "daemon_peak_rss_mib": r1.ru_maxrss / 1024,
        "sim_cpu_share": {n: res["cpu_seconds"] / res["wall_seconds"] for n, res in results.items()},
        "wall_seconds": wall,
        "engine_errors": daemon.stats.engine_errors,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0, help="new calls per real second, per PBX")
    ap.add_argument("--seconds", type=float, default=6.0, help="real seconds of arrivals")
    ap.add_argument("--agents", type=int, default=500, help="agents per PBX (at most 999)")
    ap.add_argument("--speed", type=float, default=40.0, help="simulated seconds per real second")
    ap.add_argument("--talk", type=float, default=5.0, help="median talk time, simulated seconds")
    ap.add_argument("--wrapup", type=int, default=5, help="wrap-up seconds of every queue")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    result: dict[str, Any] = {"bench": "multi_pbx", "machine": machine(), "command": command(argv),
                              "pbxs": len(PBXS), "agents_per_pbx": args.agents, "speed": args.speed,
                              "talk": args.talk, "wrapup": args.wrapup, "simulators": "one process each (spawn)"}
    result |= asyncio.run(run(args))
    m, lat = result["machine"], result["latency_ms"]
    print(f"two PBXs x {args.agents} agents, {args.rate:g} new calls/s each, {args.seconds:g} s -- {m['cpu']}, "
          f"{m['cores']} cores, Python {m['python']}, {m['date']}")
    print(f"records per PBX {result['records_per_pbx']} of {result['calls_per_pbx']} each "
          f"(recorded once: {'yes' if result['every_call_recorded_once'] else 'NO'}); outcomes {result['outcomes']}")
    print(f"arrivals/s {', '.join(f'{n} {v:.0f}' for n, v in result['arrival_rate_per_pbx'].items())}; "
          f"latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, max {lat['max']:.1f} ms (p99 input->decision "
          f"{result['to_decision_ms_p99']:.1f} ms, decision->Redirect {result['to_redirect_ms_p99']:.1f} ms)")
    print(f"daemon CPU {result['daemon_cpu_per_1000_calls']:.2f} s per 1000 calls ({result['daemon_cpu_share']:.0%} "
          f"of a core); RSS {result['daemon_rss_mib_start']:.0f} -> {result['daemon_rss_mib_end']:.0f} MiB, "
          f"peak {result['daemon_peak_rss_mib']:.0f} MiB")
    print(f"command: {result['command']}")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
