"""How routing cost grows: queueing.Engine decision time against agents and waiting calls.

The engine alone (no I/O), on one core, over a grid of agents (10-10,000) x waiting calls (10-5,000),
20 queues (Zipf-like load), every agent in 3 of them with skill levels 1-3 (bench/engine.py's `build`).
At each point, ``--rounds`` times: an agent goes ready and picks the best call across its queues (the
backlog is kept), and a caller arrives and picks among all ready agents by strategy and skills
(bench/engine.py's `decisions_with_backlog`). Writes a plot with ``--plot PATH`` (matplotlib, Agg).

    .venv/bin/python bench/scaling.py [--agents 10,100,1000,10000] [--waiting 10,100,1000,5000]
                                      [--rounds 1000] [--json out.json] [--plot docs/img/perf-scaling.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import command, machine, write_json
from engine import build, decisions_with_backlog

from queueing import Strategy

QUEUES = 20


def plot(results: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = results["agents"]
    waiting = results["waiting"]
    grid = {(p["agents"], p["waiting"]): p for p in results["points"]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, title in (
        (axes[0], "agent_ready", "agent goes ready -> picks a waiting call"),
        (axes[1], "call_arrival", "call arrives -> picks a ready agent"),
    ):
        for w in waiting:
            xs = [a for a in agents if (a, w) in grid]
            ax.plot(xs, [grid[(a, w)][f"{key}_p50_us"] for a in xs], marker="o", label=f"{w} waiting, p50")
            ax.plot(xs, [grid[(a, w)][f"{key}_p99_us"] for a in xs], marker=".", linestyle="--", alpha=0.6,
                    label=f"{w} waiting, p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("agents logged in")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("routing decision, Engine.handle() (us)")
    axes[1].legend(fontsize=7, ncol=2)
    m = results["machine"]
    fig.suptitle(f"queueing.Engine decision time, {QUEUES} queues, one core ({m['cpu']}, Python {m['python']})",
                 fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    results["plot"] = path
    results["matplotlib"] = matplotlib.__version__


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", default="10,100,1000,10000")
    ap.add_argument("--waiting", default="10,100,1000,5000")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--strategy", default="longest_idle", choices=[s.value for s in Strategy])
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--plot", metavar="PATH")
    args = ap.parse_args(argv)
    agents = [int(a) for a in args.agents.split(",")]
    waiting = [int(w) for w in args.waiting.split(",")]
    results: dict[str, Any] = {
        "bench": "scaling", "machine": machine(), "command": command(argv), "queues": QUEUES,
        "strategy": args.strategy, "rounds": args.rounds, "agents": agents, "waiting": waiting, "points": [],
    }
    m = results["machine"]
    print(f"routing decision time (us, p50/p99) -- {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['date']}")
    print(f"{QUEUES} queues, strategy {args.strategy}, {args.rounds} decisions per point and side")
    print(f"{'agents':>7} {'waiting':>8} {'ready->call p50':>16} {'p99':>7} {'arrival->agent p50':>19} {'p99':>7} "
          f"{'setup s':>8}")
    for n_agents in agents:
        setup = build(n_agents, QUEUES, Strategy(args.strategy), args.seed)
        for n_waiting in waiting:
            t0 = time.perf_counter()
            point = decisions_with_backlog(setup, n_waiting, args.rounds, args.seed)
            point["seconds"] = time.perf_counter() - t0
            point["agents"], point["waiting"] = n_agents, n_waiting
            results["points"].append(point)
            print(f"{n_agents:>7} {n_waiting:>8} {point['agent_ready_p50_us']:>16.1f} "
                  f"{point['agent_ready_p99_us']:>7.1f} "
                  f"{point['call_arrival_p50_us']:>19.1f} {point['call_arrival_p99_us']:>7.1f} "
                  f"{point['seconds']:>8.1f}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot} (matplotlib {results['matplotlib']})")
    print(f"command: {results['command']}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
