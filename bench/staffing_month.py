"""Staffing benchmark: plan a 30-day month for 50 queues x 48 intervals on one core.

    .venv/bin/python bench/staffing.py --json                 # print the figures as JSON
    .venv/bin/python bench/staffing.py --json out.json        # or write them to a file
    .venv/bin/python bench/staffing.py --queues 5 --days 7 --repeats 1   # quick

Per run (seeded; no I/O): a quarter of offered calls per queue (Poisson draws of the quarter seeder's
curve, queue volumes Zipf-like), a forecast per queue for the month (staffing/forecast.py), Erlang-A agents
per queue and interval for 97 % connection and 80 % answered within 15 s (staffing/requirements.py), and
one HiGHS roster for the centre over the month from the example's three shift templates staggered
(staffing/roster.py). Each stage is timed; the whole is repeated (--repeats, default 3): median and spread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: numpy's BLAS may not fan out
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from _common import command, machine, spread, write_json

from callcenter.staffing_seed import quarter_rates
from staffing.forecast import fit
from staffing.requirements import Targets, agents_needed
from staffing.roster import Template, solve

TEMPLATES = [Template(f"{name}{h:+d}h" if h else name, dtime((s + h) % 24), dtime((e + h) % 24), dtime((b + h) % 24),
                      30, 4) for name, s, e, b in (("early", 8, 16, 11), ("late", 16, 23, 18), ("night", 23, 8, 3))
             for h in (-2, 0, 2)]


def _runs_on(pattern: str, day: date) -> bool:
    """daily, workdays (Mon-Fri here: the bench needs no calendar), offdays."""
    return pattern == "daily" or (pattern == "workdays") == (day.weekday() < 5)


def one_run(queues: int, days: int, history_days: int, seed: int) -> dict[str, Any]:
    first = date(2026, 1, 5)
    rates, _ = quarter_rates(first, history_days + days, seed, {"total": 1.0})
    curve = rates["total"]
    weights = np.array([1.0 / (i + 1) ** 0.8 for i in range(queues)])
    weights *= 20.0 / weights.sum()  # a centre 20 times the example's size, spread over the queues
    rng = np.random.default_rng(seed)
    history = [rng.poisson(curve[:history_days] * w).astype(float) for w in weights]
    plan_first = first + timedelta(days=history_days)
    plan_days = [plan_first + timedelta(days=i) for i in range(days)]
    t0 = time.perf_counter()
    forecasts = [fit(h, first).forecast(plan_days) for h in history]
    t1 = time.perf_counter()
    calls = np.concatenate([f.ravel() for f in forecasts])
    targets = Targets(connection_rate=0.97, service_level=0.8, sl_seconds=15, occupancy_max=0.9)
    need, _ = agents_needed(calls, 1800.0, 210.0, 216.0, targets)
    t2 = time.perf_counter()
    centre_need = need.reshape(queues, days, 48).sum(axis=0)
    day_calls = np.sum(forecasts, axis=0).sum(axis=1)
    plan = solve(centre_need, plan_first, TEMPLATES, _runs_on, available=10_000, day_calls=day_calls)
    t3 = time.perf_counter()
    return {"forecast_s": t1 - t0, "erlang_a_s": t2 - t1, "roster_s": t3 - t2, "total_s": t3 - t0,
            "cells": int(calls.size), "agent_hours": plan.agent_hours, "roster_status": plan.status}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queues", type=int, default=50)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--history-days", type=int, default=91)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", nargs="?", const="-", default=None, help="print JSON (or write it to PATH)")
    args = ap.parse_args()
    runs = [one_run(args.queues, args.days, args.history_days, args.seed + r) for r in range(args.repeats)]
    result = {
        "machine": machine(), "command": command(),
        "queues": args.queues, "days": args.days, "intervals": 48, "cells": runs[0]["cells"],
        **{k: spread([round(r[k], 3) for r in runs]) for k in ("total_s", "forecast_s", "erlang_a_s", "roster_s")},
        "agent_hours": [r["agent_hours"] for r in runs], "roster_status": [r["roster_status"] for r in runs],
    }
    if args.json == "-":
        print(json.dumps(result, ensure_ascii=False))
    else:
        write_json(args.json, result)
        t = result["total_s"]
        print(f"{args.queues} queues x {args.days} days x 48 intervals: total median {t['median']:.2f} s "
              f"(min {t['min']:.2f}, max {t['max']:.2f}); forecast {result['forecast_s']['median']:.2f} s, "
              f"Erlang-A {result['erlang_a_s']['median']:.2f} s, roster {result['roster_s']['median']:.2f} s")


if __name__ == "__main__":
    main()
