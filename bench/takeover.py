"""Hot standby: the takeover time after ``kill -9`` of the leader, repeated (median and spread).

    .venv/bin/python bench/takeover.py                # 10 kills, a table
    .venv/bin/python bench/takeover.py --json         # the figures as JSON on stdout (or --json FILE)
    .venv/bin/python bench/takeover.py --kills 3 --calls 10

Two ``callcenter run`` processes (``ha`` section, lease 3 s, renewal every 1 s), one PBX simulator over real
TCP, one throwaway database on the PostgreSQL at 127.0.0.1:5432. Each round: ``--calls`` new callers arrive
(IVR, queue, agents; earlier ones may still be waiting or talking), the leader is killed with SIGKILL, and
the time is taken until the standby's /health/leader answers 200 (the lease expired on the database's clock,
the standby took it, and its resync adopted every call in flight); the killed node is started again and
becomes the standby for the next round. At the end every call's record is checked against the simulator
(lost, duplicated, stuck: all must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ha_pair.py, the shared harness
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, machine, spread, write_json

from records.testing import throwaway_pg_database
from tests.ha_pair import cluster
from tests.test_ha_takeover import (
    check_calls,
    journal_open,
    kill_leader_and_time_takeover,
    settle_records,
    start_pair,
)


async def run(kills: int, calls: int, tmp: Path) -> dict[str, Any]:
    takeovers: list[float] = []
    adoption: list[float] = []  # of which: lease taken -> every call adopted (the new leader's own figure)
    flying: list[int] = []
    with throwaway_pg_database() as db_url:
        async with cluster(tmp, db_url) as c:
            leader, standby = await start_pair(c)
            placed = 0
            for k in range(kills):
                uids = await c.place(calls, start=placed, spacing=0.05)
                placed += calls
                async with asyncio.timeout(90):
                    while sum(1 for u in uids if c.sim.ledger[u].answered_by) < min(3, calls):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                flying.append(sum(1 for t in c.sim.ledger.values() if t.outcome is None))
                print(f"kill {k + 1}: {leader.name} at {time.strftime('%H:%M:%S')}", file=sys.stderr)
                took = await kill_leader_and_time_takeover(c, leader, standby)
                takeovers.append(round(took, 3))
                adoption.append(round(await asyncio.to_thread(standby.metric, "callcenter_ha_takeover_seconds"), 3))
                print(f"kill {k + 1}/{kills}: {flying[-1]} calls in flight, takeover {took:.2f} s "
                      f"(adoption {adoption[-1]:.2f} s)", file=sys.stderr)
                await leader.start()  # the killed node comes back as the standby
                await leader.wait_up()
                async with asyncio.timeout(30):
                    while await asyncio.to_thread(leader.status, "/health/standby") != 200:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                leader, standby = standby, leader
            records = await settle_records(c, placed, within=600)
            await leader.stop(signal.SIGTERM)
            v = check_calls(c, records, journal_open(leader, db_url))
    return {
        "kills": kills,
        "calls_per_round": calls,
        "takeover_s": spread(takeovers) | {"stdev": round(statistics.stdev(takeovers), 3) if kills > 1 else 0.0},
        "adoption_s": spread(adoption),
        "in_flight_at_kill": spread([float(f) for f in flying]),
        "calls": v.calls, "lost": len(v.lost), "duplicated": len(v.duplicated), "stuck": len(v.stuck),
        "wrong": v.wrong[:20],
        "lease_seconds": 3.0, "renew_seconds": 1.0, "poll_seconds": 0.25,
        "machine": machine(), "command": command(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", nargs="?", const="-", help="print the figures as JSON (or write them to a file)")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20, help="new callers per round")
    ap.add_argument("--keep", help="keep the nodes' logs in this directory (new, or empty)")
    args = ap.parse_args(argv)
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        out = asyncio.run(run(args.kills, args.calls, Path(args.keep)))
    else:
        with tempfile.TemporaryDirectory(prefix="takeover-") as tmp:
            out = asyncio.run(run(args.kills, args.calls, Path(tmp)))
    if args.json == "-":
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        write_json(args.json, out)
        t = out["takeover_s"]
        print(f"takeover after kill -9 over {args.kills} kills: median {t['median']:.2f} s, "
              f"min {t['min']:.2f} s, max {t['max']:.2f} s, stdev {t['stdev']:.2f} s; of which adoption median "
              f"{out['adoption_s']['median']:.2f} s")
        print(f"calls {out['calls']}: lost {out['lost']}, duplicated {out['duplicated']}, stuck {out['stuck']}, "
              f"wrong {len(out['wrong'])}")
    return 0 if not (out["lost"] or out["duplicated"] or out["stuck"] or out["wrong"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
