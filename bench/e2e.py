"""End-to-end benchmark: the PBX simulator and the daemon on one machine over TCP, stepped call rates.

For each rate the simulator runs in its OWN process (multiprocessing, spawn), so it does not share the
daemon's core: it places Poisson arrivals at ``rate`` new calls per real second for ``--seconds``;
every call goes through the IVR (FastAGI to the daemon), waits in a queue (CcHold), is offered to an
agent (Setvar + Redirect over AMI), rings, talks, hangs up, and is recorded in the store (SQLite).
The daemon (callcenter/daemon.py, unmodified but for an optional timing hook) runs in this process
with ``--agents`` generated agents, all in every queue, short wrap-up, so agents are not the limit.

Latency measured: from the moment the daemon has both a ready agent and a waiting call -- the receive
time of the AMI read (or the timer) whose event made the match possible -- to the moment the connect
action (the AMI Redirect) is written; Setvar's round trip to the simulator is inside it.
CPU: the daemon process's user+sys time (resource.getrusage, threads included) per 1,000 calls.

A rate is "sustained" when p99 < 20 ms, the simulator placed >= 95 % of the asked rate, and every
call ends answered and recorded (no backlog left).

    .venv/bin/python bench/e2e.py [--rates 50,100,200,300] [--seconds 6] [--agents 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import Hashable
from datetime import datetime
from pathlib import Path
from typing import Any

from asterisk.ami.codec import Message
from asterisk.sim import SimConfig
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override
from config.loader import load_config_text
from config.models import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, percentile, write_json
from _simproc import running_daemon, settle, sim_in_process

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
P99_LIMIT_MS = 20.0
TARGET_RATE = 200.0


# ---------------------------------------------------------------- the daemon side


class OfferTimer:
    """The daemon's ``offer_timer`` hook: input receive time -> Redirect written, per offer."""

    def __init__(self) -> None:
        self.input_at: float | None = None
        self.started: dict[str, tuple[float, float]] = {}
        self.samples: list[float] = []
        #: the two parts of each sample: input -> engine decision, decision -> Redirect written
        self.to_decision: list[float] = []
        self.to_redirect: list[float] = []
        self.unstamped = 0
        self.first_offer = 0.0
        self.last_offer = 0.0

    def offered(self, call_id: str) -> None:
        now = time.monotonic()
        if self.input_at is None:  # an input the bench does not stamp (web, resync): decision time
            self.unstamped += 1
        self.started[call_id] = (now if self.input_at is None else self.input_at, now)
        self.first_offer = self.first_offer or now
        self.last_offer = now

    def sent(self, call_id: str) -> None:
        started = self.started.pop(call_id, None)
        if started is not None:
            now = time.monotonic()
            self.samples.append(now - started[0])
            self.to_decision.append(started[1] - started[0])
            self.to_redirect.append(now - started[1])


class TimedDaemon(Daemon):
    """The real daemon; only notes when each input arrived, for the offer timer."""

    timer: OfferTimer

    def _on_ami_event(self, msg: Message, _received: float) -> None:
        self.timer.input_at = _received  # the AmiClient's clock is time.monotonic: the socket read
        try:
            super()._on_ami_event(msg, _received)
        finally:
            self.timer.input_at = None

    def _timer_fired(self, key: Hashable, at: datetime) -> None:
        self.timer.input_at = time.monotonic()
        try:
            super()._timer_fired(key, at)
        finally:
            self.timer.input_at = None


def bench_config(agents: int, wrapup: int, database: str) -> Config:
    """config/example.yaml with ``agents`` generated agents in every queue, no shifts, no MQTT."""
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    queues = [q["name"] for q in data["queues"]]
    for q in data["queues"]:
        q["wrapup_seconds"] = wrapup
    # Every agent has every skill of the example at the top level, so any caller may go to any agent.
    skills = {k: 10 for a in data["agents"] for k in (a.get("skills") or {})}
    data["agents"] = [
        {"id": str(1001 + i), "name": f"坐席{i + 1}", "endpoint": f"PJSIP/{1001 + i}", "queues": queues,
         "skills": skills}
        for i in range(agents)
    ]
    for key in ("shifts", "teams", "shift_rules", "staffing", "mqtt"):
        data.pop(key, None)
    data.setdefault("centre", {})["auto_ready_agents"] = True
    cfg = load_config_text(yaml.safe_dump(data, allow_unicode=True), "bench-e2e.yaml", environ={})
    return override(cfg, database_url=database, web_port=0, agi_port=0)


# ---------------------------------------------------------------- the simulator (its own process)


def flat_sim_config(cfg: Config, speed: float, rate: float, calls: int, talk: float, seed: int) -> SimConfig:
    """Poisson arrivals at ``rate`` new calls per real second, patient callers, phones that answer."""
    from asterisk.sim.config import EndpointBehaviour, LoadProfile
    from callcenter.simwire import sim_config_for_daemon

    base = sim_config_for_daemon(cfg, speed=speed, seed=seed, calls=calls)
    per_sim_hour = rate * 3600.0 / speed
    load = LoadProfile(
        hourly_rate=(per_sim_hour,) * 24, menu_digits=base.load.menu_digits, talk_median=talk, talk_sigma=0.3,
        patience_median=3600.0, patience_sigma=0.0,
    )
    phone = EndpointBehaviour(answer_delay=1.0, answer_delay_sigma=0.2)
    return base.model_copy(update={"load": load, "endpoints": {}, "default_endpoint": phone})


# ---------------------------------------------------------------- one step


async def run_step(rate: float, seconds: float, agents: int, speed: float, talk: float, wrapup: int,
                   seed: int) -> dict[str, Any]:
    calls = max(20, int(rate * seconds))
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        cfg = bench_config(agents, wrapup, f"sqlite:///{tmp}/calls.db")
        async with sim_in_process(flat_sim_config(cfg, speed, rate, calls, talk, seed), [calls]) as sim:
            cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
            daemon = TimedDaemon(cfg, clock=Clock(speed), spool_dir=tmp)
            daemon.timer = OfferTimer()
            daemon.offer_timer = daemon.timer
            async with running_daemon(daemon):
                r0 = resource.getrusage(resource.RUSAGE_SELF)
                t0 = time.monotonic()
                sim.start(daemon.agi_port)
                sim_result = await sim.result()
                await settle(daemon, within=30)
                wall = time.monotonic() - t0
                r1 = resource.getrusage(resource.RUSAGE_SELF)
    timer = daemon.timer
    samples = [s * 1000 for s in timer.samples] or [float("nan")]
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    offer_span = timer.last_offer - timer.first_offer
    achieved = (len(timer.samples) - 1) / offer_span if offer_span > 0 else 0.0
    arrival_rate = (calls - 1) / sim_result["arrival_span_real"] if sim_result["arrival_span_real"] else 0.0
    answered = sim_result["outcomes"].get("answered", 0)
    step = {
        "rate": rate,
        "calls": calls,
        "arrival_rate": arrival_rate,
        "offer_rate": achieved,
        "offers": len(timer.samples),
        "unstamped": timer.unstamped,
        "latency_ms": {"p50": percentile(samples, 50), "p90": percentile(samples, 90),
                       "p99": percentile(samples, 99), "max": max(samples)},
        "to_decision_ms_p99": percentile([s * 1000 for s in timer.to_decision] or [float("nan")], 99),
        "to_redirect_ms_p99": percentile([s * 1000 for s in timer.to_redirect] or [float("nan")], 99),
        "daemon_cpu_seconds": cpu,
        "daemon_cpu_per_1000_calls": cpu / calls * 1000,
        "daemon_cpu_share": cpu / wall,
        "sim_cpu_seconds": sim_result["cpu_seconds"],
        "sim_cpu_share": sim_result["cpu_seconds"] / sim_result["wall_seconds"],
        "wall_seconds": wall,
        "outcomes": sim_result["outcomes"],
        "records": daemon.stats.records,
        "engine_errors": daemon.stats.engine_errors,
    }
    step["sustained"] = bool(
        step["latency_ms"]["p99"] < P99_LIMIT_MS
        and arrival_rate >= 0.95 * rate  # the simulator kept the asked rate
        and answered == calls
        and daemon.stats.records == calls
    )
    return step


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="50,100,200,300,400", help="new calls per real second, in order")
    ap.add_argument("--seconds", type=float, default=6.0, help="real seconds of arrivals per rate")
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--speed", type=float, default=40.0, help="simulated seconds per real second")
    ap.add_argument("--talk", type=float, default=5.0, help="median talk time, simulated seconds")
    ap.add_argument("--wrapup", type=int, default=5, help="wrap-up seconds of every queue")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--profile", metavar="PATH", help="cProfile the daemon's thread of the last rate into PATH")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, Any] = {
        "bench": "e2e", "machine": machine(), "command": command(argv),
        "agents": args.agents, "speed": args.speed, "talk": args.talk, "wrapup": args.wrapup,
        "p99_limit_ms": P99_LIMIT_MS, "target_rate": TARGET_RATE, "simulator": "separate process (spawn)",
        "steps": [],
    }
    m = results["machine"]
    print(f"end to end, simulator in its own process -- {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
          f"{m['date']}")
    print(f"{args.agents} agents, speed {args.speed:g}x, talk ~{args.talk:g} s, wrap-up {args.wrapup} s; "
          f"latency = agent ready and call waiting -> Redirect written")
    print(f"{'rate/s':>7} {'calls':>6} {'arrived/s':>9} {'offers/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'CPU s/1000':>10} {'daemon CPU':>10} {'sim CPU':>7} {'ok':>3}")
    best = 0.0
    for rate in rates:
        step_run = run_step(rate, args.seconds, args.agents, args.speed, args.talk, args.wrapup, args.seed)
        if args.profile and rate == rates[-1]:
            import cProfile

            with cProfile.Profile() as prof:
                step = asyncio.run(step_run)
            prof.dump_stats(args.profile)
        else:
            step = asyncio.run(step_run)
        results["steps"].append(step)
        lat = step["latency_ms"]
        print(f"{rate:>7.0f} {step['calls']:>6} {step['arrival_rate']:>9.0f} {step['offer_rate']:>8.0f} "
              f"{lat['p50']:>7.2f} {lat['p99']:>7.2f} {lat['max']:>7.1f} {step['daemon_cpu_per_1000_calls']:>10.2f} "
              f"{step['daemon_cpu_share']:>10.0%} {step['sim_cpu_share']:>7.0%} "
              f"{'yes' if step['sustained'] else 'no':>3}"
              f"   (p99 input->decision {step['to_decision_ms_p99']:.1f} ms, decision->Redirect "
              f"{step['to_redirect_ms_p99']:.1f} ms)")
        if step["sustained"]:
            best = max(best, rate)
    results["max_sustained_rate"] = best
    sustained = [s for s in results["steps"] if s["sustained"]]
    results["cpu_per_1000_calls_at_max"] = sustained[-1]["daemon_cpu_per_1000_calls"] if sustained else None
    print(f"highest sustained rate: {best:g} new calls/s (target >= {TARGET_RATE:g}; p99 < {P99_LIMIT_MS:g} ms)")
    print(f"command: {results['command']}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
