"""Write docs/performance.md from bench/results/*.json (what bench/run_all collected).

    .venv/bin/python bench/report.py [--results bench/results] [--out docs/performance.md] [--img docs/img]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine


def load(results: Path, name: str) -> dict[str, Any]:
    path = results / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def n0(v: Any) -> str:
    return f"{v:,.0f}" if isinstance(v, int | float) else "-"


def ingest_section(d: dict[str, Any]) -> list[str]:
    if not d:
        return ["(not run)"]
    runs = d["runs"]
    names = {
        "a_split": "split-only floor (frames found, nothing parsed)",
        "a_parse": "bare parse-only baseline (header lists, no state)",
        "b_panoramisk": "panoramisk 1.4 reader, end to end",
        "c_reader": "**ours: AmiReader + CallTracker** (target >= 150,000)",
        "d_client": "ours: AmiClient + CallTracker (the daemon's path)",
        "d_client_x2": "ours, two PBX streams into one process (total)",
    }
    sources = sorted({k.split("/")[0] for k in runs})
    out = ["| reader | " + " | ".join(f"{s}: events/s, median [min-max]" for s in sources) + " |",
           "|---|" + "---|" * len(sources)]
    for key, label in names.items():
        cells = []
        for s in sources:
            r = runs.get(f"{s}/{key}")
            cells.append(f"{n0(r['median'])} [{n0(r['min'])}-{n0(r['max'])}]" if r else "-")
        if any(c != "-" for c in cells):
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", f"{d['repeats']} repeats of ~{n0(d['events_target'])} events each; command: `{d['command']}`"]
    return out


def e2e_section(d: dict[str, Any]) -> list[str]:
    if not d:
        return ["(not run)"]
    out = ["| new calls/s asked | arrived/s | offers/s | p50 ms | p99 ms | max ms | p99 input->decision | "
           "p99 decision->Redirect | daemon CPU s / 1,000 calls | daemon CPU | simulator CPU | sustained |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in d["steps"]:
        lat = s["latency_ms"]
        out.append(
            f"| {s['rate']:.0f} | {s['arrival_rate']:.0f} | {s['offer_rate']:.0f} | {lat['p50']:.2f} | "
            f"{lat['p99']:.2f} | {lat['max']:.1f} | {s.get('to_decision_ms_p99', float('nan')):.1f} | "
            f"{s.get('to_redirect_ms_p99', float('nan')):.1f} | {s['daemon_cpu_per_1000_calls']:.2f} | "
            f"{s['daemon_cpu_share']:.0%} | {s.get('sim_cpu_share', 0):.0%} | {'yes' if s['sustained'] else 'no'} |"
        )
    out += ["", f"Highest sustained rate: **{d['max_sustained_rate']:g} new calls/s** (target >= "
                f"{d['target_rate']:g}; p99 < {d['p99_limit_ms']:g} ms). {d['agents']} agents, speed "
                f"{d['speed']:g}x, talk ~{d['talk']:g} s, wrap-up {d['wrapup']} s; simulator: {d['simulator']}.",
            f"Command: `{d['command']}`"]
    return out


def scaling_section(d: dict[str, Any], img: str) -> list[str]:
    if not d:
        return ["(not run)"]
    out = [f"![routing decision time]({img})", "",
           "| agents | waiting | agent ready -> call p50 / p99 (us) | call arrives -> agent p50 / p99 (us) |",
           "|---|---|---|---|"]
    for p in d["points"]:
        out.append(f"| {p['agents']:,} | {p['waiting']:,} | "
                   f"{p['agent_ready_p50_us']:.1f} / {p['agent_ready_p99_us']:.1f} | "
                   f"{p['call_arrival_p50_us']:.1f} / {p['call_arrival_p99_us']:.1f} |")
    out += ["", f"{d['queues']} queues, strategy {d['strategy']}, {d['rounds']} decisions per point and side; "
                f"plot with matplotlib {d.get('matplotlib', '-')}. Command: `{d['command']}`"]
    return out


def engine_section(d: dict[str, Any]) -> list[str]:
    if not d:
        return ["(not run)"]
    dec = d.get("decisions_500_waiting", {})
    out = [f"Decisions with {dec.get('waiting')} waiting and {dec.get('agents')} agents: agent ready -> call "
           f"p50 {dec.get('agent_ready_p50_us')} / p99 {dec.get('agent_ready_p99_us')} us; call arrives -> agent "
           f"p50 {dec.get('call_arrival_p50_us')} / p99 {dec.get('call_arrival_p99_us')} us (target p99 < 100 us).",
           "", "| strategy | calls | lifecycles/s (target >= 10,000) | decision p99 us | connection rate |",
           "|---|---|---|---|---|"]
    for day in d.get("days", []):
        out.append(f"| {day['strategy']} | {day['calls']:,} | {n0(day['lifecycles_per_s'])} | "
                   f"{day['decision_p99_us']} | {day['connection_rate']:.1%} |")
    out += ["", f"Peak memory {d.get('peak_rss_mb')} MB (target < 300 MB). Command: "
                f"`.venv/bin/python bench/engine.py --json bench/results/engine.json` (bench/engine.py, ACD owner)"]
    return out


def store_section(d: dict[str, Any]) -> list[str]:
    if not d:
        return ["(not run)"]
    out = ["| backend | batched records/s | Core executemany baseline | one per transaction | caller history "
           "p50 / p99 ms | screen-pop p50 / p99 ms |", "|---|---|---|---|---|---|"]
    for name, b in d.get("backends", {}).items():
        out.append(f"| {name} | {n0(b.get('batched_records_per_s'))} | {n0(b.get('core_executemany_records_per_s'))}"
                   f" | {n0(b.get('per_record_records_per_s'))} | {b.get('history_p50_ms', 0):.2f} / "
                   f"{b.get('history_p99_ms', 0):.2f} | {b.get('screenpop_p50_ms', 0):.2f} / "
                   f"{b.get('screenpop_p99_ms', 0):.2f} |")
    params = d.get("params", {})
    out += ["", f"{n0(params.get('records'))} records, {n0(params.get('history_rows'))} history rows. Command: "
                "`.venv/bin/python bench/store.py --json bench/results/store.json` (bench/store.py, store owner)"]
    return out


def one_node(e2e: dict[str, Any], ingest: dict[str, Any]) -> list[str]:
    rate = e2e.get("max_sustained_rate", 0) if e2e else 0
    cpu = e2e.get("cpu_per_1000_calls_at_max") if e2e else None
    c = ingest.get("runs", {}).get("synthetic/d_client", {}).get("median") if ingest else None
    lines = [
        f"- **Calls**: {rate:g} new calls/s sustained with p99 < 20 ms on this machine"
        + (f", at {cpu:.1f} CPU seconds per 1,000 calls in the daemon" if cpu else "")
        + ". A large city's peak hour is a few new calls per second (12345 lines: 10,000-30,000 calls a day): "
          "one node has two orders of magnitude of headroom for routing.",
    ]
    if c:
        lines.append(f"- **AMI**: the daemon's reader takes ~{n0(c)} events/s on one core; a call is ~190 "
                     f"events, so ~{c / 190:,.0f} calls/s of pure event intake -- above the end-to-end figure, "
                     "so AMI parsing is not what limits a node.")
    lines.append("- **Routing**: a decision costs 10-20 us at p50 even with 10,000 agents and 5,000 waiting "
                 "(plot above); the engine alone handles >15,000 call lifecycles/s. Routing is never the limit.")
    return lines


STATIC_BOTTLENECK = """\
Per call the daemon spends ~4 ms of CPU (end-to-end table). Profiling a 150 calls/s run (cProfile,
`bench/e2e.py --profile PATH`) splits it roughly: AMI events (read, tracker, ledger, engine) ~35-40 %,
the FastAGI IVR sessions (menu + survey, several AGI round trips per call) ~25-30 %, the open-call journal
(`callcenter/resync.py` `OpenCallJournal.save`: `dataclasses.asdict` + JSON of every call on every change)
~10-15 %, socket sends/closes, the store writer thread and the web/metrics the rest.

What limited the rate was not CPU but the **offer path**: each offer was `Setvar`, await its answer,
then `Redirect`, await its answer, by 4 offer workers (`AMI_WORKERS` in callcenter/daemon.py). Under
Poisson bursts the offers queued behind those round trips: at 200 calls/s the p99 was 0.4-1.7 s, all of
it in the `decision->Redirect` part, with the daemon core only ~57 % busy. `_send_offer` now writes
Setvar and Redirect back to back and awaits both (Asterisk runs one session's actions in order): one
round trip per offer, and 200 calls/s holds a p99 of a few ms. Above ~250 calls/s the daemon core is
~80 % busy and the round-trip queueing comes back (the 250 and 300 rows): the single event loop is now
the limit. The machine is shared with other work (2 vCPUs, simulator on the second), so single runs of
the upper rows move by a factor of a few; the rate at which p99 crosses 20 ms moved between 200 and 250.

Next, in order: the journal's `asdict` per change (save only the changed call, or without deep copy),
then the IVR's AGI round trips (inherent to FastAGI), then the single event loop itself (one core)."""

STATIC_SCALE_OUT = """\
A province (e.g. 10-15 cities, each with its own 12345 centre, or one provincial platform):

- **One routing engine per centre.** The ACD state (agents, waiting calls) is per centre and small
  (49 MB for 1,000 agents and a 100,000-call day); a decision is microseconds. A centre never needs
  two routing engines; it needs a standby (same config, resync from Asterisk's CoreShowChannels on
  takeover, records from the spool) rather than sharding.
- **Several Asterisk servers per centre** (media is the heavy part: ~200-400 concurrent calls per
  Asterisk box with recording). What the simulator shows for two endpoints feeding one daemon: the
  AMI side ingests two streams at `d_client_x2` events/s in one process (ingest table) -- the reader is
  not the limit. But **the daemon today has ONE AmiClient**; a second PBX is not supported yet. What is
  missing, precisely:
  1. `config.ami` is one section: it needs a list of PBXs (name, host, port, user, secret, TLS).
  2. `Daemon.ami` / `Daemon.tracker` are single: one AmiClient + CallTracker per PBX, each feeding the
     same ledger with facts tagged by PBX; Uniqueids are unique only per Asterisk (set `systemname`
     in asterisk.conf, or key calls by (pbx, uniqueid)).
  3. `CallEntry` needs the PBX that owns the caller channel, and `_send_offer` / `RedirectCaller` must
     send Setvar/Redirect on **that** PBX's connection; an agent registered on another PBX is reached
     by a dial string over the inter-PBX trunk (e.g. `PJSIP/1001@pbx-b`), so `endpoints` need a PBX.
  4. Resync (`callcenter/resync.py`) per connection: a reconnect of PBX B must not close PBX A's calls.
  5. FastAGI already works from any number of PBXs (the daemon is the server); metrics need a `pbx` label.
  With those, two simulators can feed one daemon and `bench/e2e.py` can run them as two processes.
- **PostgreSQL** for the records and tickets: at ~15,000 batched records/s (store table) one
  PostgreSQL instance absorbs every centre of a province (a few records/s each) with room for the
  reports; one schema or database per centre, streaming replica for the province's reporting.
- **MQTT cluster** (e.g. EMQX or a Mosquitto bridge per centre) for screen-pops and live stats: a topic
  prefix per centre (`topic_prefix`), the province dashboards subscribe to `+/stats/#`.
- Capacity per node (one core busy at the sustained rate above) is therefore far above a city's peak;
  the province scales by adding centres (nodes), not by making one node bigger."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--out", default="docs/performance.md")
    ap.add_argument("--img", default="docs/img", help="where the plot goes (copied from the results if needed)")
    args = ap.parse_args(argv)
    results = Path(args.results)
    ingest, e2e, scaling = load(results, "ami_ingest"), load(results, "e2e"), load(results, "scaling")
    engine, store = load(results, "engine"), load(results, "store")
    m = (ingest or e2e or scaling).get("machine") or machine()
    plot = Path(args.img) / "perf-scaling.png"
    src = Path(scaling.get("plot", "")) if scaling else None
    if src and src.exists() and src.resolve() != plot.resolve():
        plot.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, plot)
    out_dir = Path(args.out).parent
    img_rel = os.path.relpath(plot, out_dir)
    lines = [
        "# Performance",
        "",
        f"Measured on **{m['cpu']}, {m['cores']} cores** (from /proc/cpuinfo), Python {m['python']}, "
        f"{m['date']}; every figure is one core unless said. Produced by `bench/run_all` (all the commands "
        "below, then `bench/report.py`), in under ten minutes. The machine is shared with other work, so "
        "repeat spreads are shown; run it on a quiet machine for the release figures.",
        "",
        "## Figures against their targets",
        "",
        "| figure | measured | target / anchor |",
        "|---|---|---|",
    ]
    runs = ingest.get("runs", {}) if ingest else {}
    c = runs.get("synthetic/c_reader", {}).get("median")
    p = runs.get("synthetic/b_panoramisk", {}).get("median")
    a = runs.get("synthetic/a_parse", {}).get("median")
    lines.append(f"| AMI ingest, parse + call tracking (c_reader) | {n0(c)} events/s | >= 150,000; "
                 f"panoramisk 1.4 here {n0(p)}; bare parse-only here {n0(a)} |")
    if e2e:
        lines.append(f"| end to end, highest sustained new calls/s with p99 < 20 ms | {e2e['max_sustained_rate']:g} | "
                     f">= 200 |")
        cpu = e2e.get("cpu_per_1000_calls_at_max")
        lines.append(f"| daemon CPU seconds per 1,000 calls, at that rate | {f'{cpu:.2f}' if cpu else '-'} | "
                     "no target (lower is better) |")
    dec = engine.get("decisions_500_waiting", {}) if engine else {}
    if dec:
        lines.append(f"| routing decision p99, 500 waiting / {dec.get('agents')} agents | "
                     f"{dec.get('call_arrival_p99_us')} us | < 100 us |")
    days = engine.get("days", []) if engine else []
    if days:
        lines.append(f"| simulated day, call lifecycles/s ({days[0]['strategy']}) | {n0(days[0]['lifecycles_per_s'])} "
                     "| >= 10,000 |")
    lines += ["", "## 1. AMI ingest (bench/ami_ingest.py)", "",
              "Recorded and synthetic Asterisk event streams (shared/ami-transcripts, ~190 events per call) pushed "
              "over loopback TCP by a separate process. What changed to get here: the reader decodes every complete "
              "frame of a read at once, validates a frame with one regex scan and splits it into headers only when "
              "someone looks (most events -- CEL, VarSet, AGIExec -- are only classified by their first line); the "
              "client hands one list of events per socket read to its consumer and no longer looks into every "
              "event for an ActionID unless a list action is in flight.", "", *ingest_section(ingest),
              "", "## 2. End to end (bench/e2e.py)", "",
              "Simulator (its own process) and daemon on this machine over TCP: IVR over FastAGI, queue, offer "
              "(Setvar + Redirect), ring, talk, hang-up, record in SQLite. Latency = from the receive time of the "
              "input that made \"agent ready and call waiting\" true to the Redirect being written.", "",
              *e2e_section(e2e),
              "", "## 3. How routing cost grows (bench/scaling.py)", "", *scaling_section(scaling, img_rel),
              "", "## 4. The simulated day (bench/engine.py)", "", *engine_section(engine),
              "", "## 5. The store (bench/store.py)", "", *store_section(store),
              "", "## What one node handles", "", *one_node(e2e, ingest),
              "", "## Where the next bottleneck is", "", STATIC_BOTTLENECK,
              "", "## Scaling out to a province", "", STATIC_SCALE_OUT, ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
