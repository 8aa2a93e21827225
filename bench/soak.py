"""Load and soak: simulated days of calls through the daemon, watching for leaks and lost records.

Each simulated day has ``--calls-per-day`` calls at a flat hourly rate, except one peak hour (10:00
Asia/Shanghai) at three times that rate: 23 hours x r + 1 hour x 3r. The simulator runs in its own
process and speaks AMI and FastAGI over TCP to the daemon in this process (bench/_simproc.py), at
``--speed`` simulated seconds per real second, into a fresh SQLite store.

A warm-up load (``--warmup`` calls) runs first and settles: checkpoint "warm". Then the days run while
a sampler notes the daemon process's RSS (psutil when installed, else /proc), its asyncio tasks, open
file descriptors and sockets every ``--sample`` real seconds; after they settle: checkpoint "end".
Printed: start / end / max of each and the RSS slope over the run (least squares, MB per simulated
day, second half of the samples so the warm-up does not count), and the call-by-call check: every
call the simulator placed is in the store exactly once (the simulator's ledger against the store).

    .venv/bin/python bench/soak.py                                  # the peak day: 8,000 calls
    .venv/bin/python bench/soak.py --days 7 --calls-per-day 4000    # a week, 28,000 calls
    .venv/bin/python bench/soak.py --days 1 --calls-per-day 800 --speed 600 --json out.json   # (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asterisk.sim import SimConfig
from asterisk.sim.config import LoadProfile
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override
from callcenter.simwire import sim_config_for_daemon
from config.models import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, write_json
from _simproc import running_daemon, settle, sim_in_process
from e2e import bench_config

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 08:00 in Asia/Shanghai
PEAK_HOUR_UTC = 2  # 10:00 Asia/Shanghai
PEAK_FACTOR = 3.0
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def day_profile(calls_per_day: int) -> tuple[float, ...]:
    usual = calls_per_day / (23 + PEAK_FACTOR)
    return tuple(usual * (PEAK_FACTOR if h == PEAK_HOUR_UTC else 1.0) for h in range(24))


def soak_sim_config(cfg: Config, speed: float, calls_per_day: int, seed: int) -> SimConfig:
    base = sim_config_for_daemon(cfg, speed=speed, seed=seed, calls=0)
    load = LoadProfile(hourly_rate=day_profile(calls_per_day), menu_digits=base.load.menu_digits)
    return base.model_copy(update={"load": load, "start": START})


# ---------------------------------------------------------------- the process's resources


def rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def fds_and_sockets() -> tuple[int, int]:
    fds = sockets = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile (the listdir's own fd)
        fds += 1
        sockets += target.startswith("socket:")
    return fds, sockets


def sample(daemon: Daemon, t0: float) -> dict[str, Any]:
    fds, sockets = fds_and_sockets()
    return {
        "real_s": round(time.monotonic() - t0, 3),
        "sim_day": (daemon.clock.now() - START).total_seconds() / 86400,
        "rss_mb": rss_bytes() / 2**20,
        "tasks": len(asyncio.all_tasks()),
        "fds": fds,
        "sockets": sockets,
        "records": daemon.stats.records,
        "open_calls": len(daemon.ledger.calls),
    }


def fd_kinds() -> dict[str, int]:
    """Open descriptors by kind: socket, pipe, anon_inode or the file's name (calls.db-wal, ...)."""
    kinds: Counter[str] = Counter()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{name}")
            kinds[target.split(":", 1)[0] if ":" in target else Path(target).name] += 1
    return dict(kinds)


def checkpoint(daemon: Daemon, t0: float) -> dict[str, Any]:
    """At a quiet moment (every call ended and recorded): what must not grow from one to the next."""
    gc.collect()
    return {**sample(daemon, t0), "fd_kinds": fd_kinds()}


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two distinct xs)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("rss_mb", "tasks", "fds", "sockets"):
        values = [s[key] for s in samples]
        out[key] = {"start": values[0], "end": values[-1], "max": max(values)}
    half = samples[len(samples) // 2:]
    out["rss_mb"]["slope_per_sim_day"] = slope([s["sim_day"] for s in half], [s["rss_mb"] for s in half])
    return out


# ---------------------------------------------------------------- the check, call by call


def ledger_check(daemon: Daemon, truth: dict[str, tuple[str, int]]) -> dict[str, Any]:
    stored = [r.call_id for r in daemon.store.records(EPOCH)]
    ids = set(stored)
    return {
        "calls": len(truth),
        "records": len(stored),
        "lost": sorted(set(truth) - ids),
        "not_simulated": sorted(ids - set(truth)),
        # ended twice in the simulator, or submitted to the store more than once (a replay)
        "duplicated": sorted(u for u, (_, ends) in truth.items() if ends != 1)
        + [f"{daemon.writer.submitted - len(stored)} submitted twice"] * (daemon.writer.submitted > len(stored)),
        "stuck": sorted(daemon.ledger.calls),
    }


class Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(1, total)
        self.enabled = enabled and sys.stderr.isatty()

    def show(self, s: dict[str, Any]) -> None:
        if not self.enabled:
            return
        done = min(1.0, s["records"] / self.total)
        bar = "#" * int(done * 30)
        sys.stderr.write(f"\r[{bar:<30}] {s['records']}/{self.total} day {s['sim_day']:.2f} "
                         f"RSS {s['rss_mb']:.0f} MB tasks {s['tasks']} fds {s['fds']} open {s['open_calls']}  ")
        sys.stderr.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


# ---------------------------------------------------------------- the run


async def soak(days: float, calls_per_day: int, speed: float, *, agents: int = 80, warmup: int = 100,
               seed: int = 12345, every: float = 1.0, progress: bool = False) -> dict[str, Any]:
    calls = max(1, round(days * calls_per_day))
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        cfg = bench_config(agents, 10, f"sqlite:///{tmp}/calls.db")
        async with sim_in_process(soak_sim_config(cfg, speed, calls_per_day, seed), [warmup, calls],
                                  ledger=True) as sim:
            cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
            daemon = Daemon(cfg, clock=Clock(speed, origin=START), spool_dir=tmp)
            async with running_daemon(daemon):
                t0 = time.monotonic()
                sim.start(daemon.agi_port)
                warm_result = await sim.result()
                await settle(daemon)
                warm = checkpoint(daemon, t0)
                samples = [sample(daemon, t0)]
                bar = Progress(warm["records"] + calls, progress)
                sim.go()
                result_task = asyncio.create_task(sim.result())
                while not result_task.done():
                    await asyncio.wait({result_task}, timeout=every)
                    samples.append(sample(daemon, t0))
                    bar.show(samples[-1])
                bar.end()
                main_result = result_task.result()
                with contextlib.suppress(TimeoutError):  # calls left open are reported as stuck
                    await settle(daemon)
                end = checkpoint(daemon, t0)
                wall = time.monotonic() - t0
                truth = {**warm_result.pop("ledger"), **main_result.pop("ledger")}
                check = ledger_check(daemon, truth)
    outcomes = Counter(warm_result["outcomes"]) + Counter(main_result["outcomes"])
    return {
        "days": days, "calls_per_day": calls_per_day, "speed": speed, "agents": agents, "warmup_calls": warmup,
        "peak_hour_utc": PEAK_HOUR_UTC, "peak_factor": PEAK_FACTOR, "calls": calls + warmup,
        "wall_seconds": wall, "sim_cpu_seconds": main_result["cpu_seconds"],
        "outcomes": dict(outcomes), "check": check, "checkpoints": {"warm": warm, "end": end},
        "resources": summarise(samples), "samples": samples,
        "writer": {"submitted": daemon.writer.submitted, "written": daemon.writer.written,
                   "spooled": daemon.writer.spooled, "failures": daemon.writer.failures},
        "engine_errors": daemon.stats.engine_errors,
        "ami": {"reconnects": daemon.ami.stats.reconnects, "ping_timeouts": daemon.ami.stats.ping_timeouts,
                "resyncs": daemon.resync.stats.runs},
    }


def report(r: dict[str, Any]) -> None:
    c, res = r["check"], r["resources"]
    print(f"{r['calls']:,} calls ({r['warmup_calls']} warm-up + {r['days']:g} day(s) x {r['calls_per_day']:,}, "
          f"peak hour x{r['peak_factor']:g}), {r['agents']} agents, speed {r['speed']:g}x, "
          f"{r['wall_seconds']:.0f} s real")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items())))
    print(f"{'':>10} {'start':>9} {'end':>9} {'max':>9}")
    for key in ("rss_mb", "tasks", "fds", "sockets"):
        v = res[key]
        print(f"{key:>10} {v['start']:>9.1f} {v['end']:>9.1f} {v['max']:>9.1f}")
    print(f"RSS slope (second half): {res['rss_mb']['slope_per_sim_day']:+.2f} MB per simulated day")
    w, e = r["checkpoints"]["warm"], r["checkpoints"]["end"]
    print(f"quiet checkpoints warm -> end: tasks {w['tasks']} -> {e['tasks']}, fds {w['fds']} -> {e['fds']}, "
          f"sockets {w['sockets']} -> {e['sockets']}, RSS {w['rss_mb']:.1f} -> {e['rss_mb']:.1f} MB")
    print(f"AMI reconnects {r['ami']['reconnects']} (ping timeouts {r['ami']['ping_timeouts']}), "
          f"resyncs {r['ami']['resyncs']}")
    print(f"store vs simulator: {c['calls']} calls, {c['records']} records, lost {len(c['lost'])}, "
          f"duplicated {len(c['duplicated'])}, stuck {len(c['stuck'])}, not simulated {len(c['not_simulated'])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=1.0, help="simulated days of calls (default 1: the peak day)")
    ap.add_argument("--calls-per-day", type=int, default=8000)
    ap.add_argument("--speed", type=float, default=600.0, help="simulated seconds per real second")
    ap.add_argument("--agents", type=int, default=80)
    ap.add_argument("--warmup", type=int, default=100, help="calls before the first quiet checkpoint")
    ap.add_argument("--sample", type=float, default=1.0, help="real seconds between resource samples")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.days <= 0 or args.calls_per_day < 1 or args.speed <= 0 or args.warmup < 1:
        ap.error("--days, --calls-per-day, --speed and --warmup must be positive")
    r = asyncio.run(soak(args.days, args.calls_per_day, args.speed, agents=args.agents, warmup=args.warmup,
                         seed=args.seed, every=args.sample, progress=not args.no_progress))
    r = {"bench": "soak", "machine": machine(), "command": command(argv), **r}
    report(r)
    print(f"command: {r['command']}")
    write_json(args.json, r)
    c = r["check"]
    return 1 if c["lost"] or c["duplicated"] or c["stuck"] or c["not_simulated"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
