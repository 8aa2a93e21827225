"""`callcenter demo`: the daemon and the built-in PBX simulator in one command, over real TCP.

The simulator plays Asterisk (AMI server + FastAGI client) and places synthetic calls; the daemon
answers them exactly as it would answer a real Asterisk. At the end the summary is computed from
the store, not from counters, so what it prints is what was recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from callcenter.clock import Clock
from config.models import Config
from metrics.kpi import kpi, rate_text
from records.model import RECORD_OUTCOMES, CallRecordData, Outcome
from records.private import write_private
from records.store import mask_url

# The demo password of config/example.yaml's users (documented there; demo only).
DEMO_PASSWORDS = {"1001": "password agent1001"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/example.yaml", help="config file (default config/example.yaml)")
    p.add_argument("--calls", type=int, default=300, help="synthetic calls to place (default 300)")
    p.add_argument("--speed", type=float, default=100.0, help="simulated seconds per real second (default 100)")
    p.add_argument("--database", default=None, help="SQLAlchemy URL (default: the config's, e.g. sqlite:///demo.db)")
    p.add_argument("--summary-json", metavar="PATH", default=None, help="also write the summary as JSON")
    p.add_argument("--seed", type=int, default=12345, help="seed of the synthetic load (default 12345)")
    p.add_argument("--web-port", type=int, default=None, help="wallboard port (default: the config's; 0 = any)")
    p.add_argument("--linger", type=float, default=0.0,
                   help="keep the daemon and wallboard up this many real seconds after the calls (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no live progress line")
    p.add_argument("--roster", action="store_true",
                   help="follow the config's shift roster (default: every configured agent is on duty for the demo)")
    p.add_argument("--interactive-agent", metavar="ID", action="append", default=[],
                   help="keep this agent under manual control (log in at the agent desktop, go ready, take calls)")


@dataclass
class Progress:
    total: int
    enabled: bool
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def show(self, done: int, answered: int, abandoned: int, waiting: int) -> None:
        if not self.enabled:
            return
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - 60))
        filled = int(width * done / self.total) if self.total else width
        rate = f"{rate_text(answered / (answered + abandoned)):>7}" if answered + abandoned else "     - "
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} calls  "
                f"answered {answered}  abandoned {abandoned}  waiting {waiting}  rate {rate}  "
                f"{time.monotonic() - self.started:5.1f}s")
        sys.stderr.write(line)
        sys.stderr.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def build_summary(records: list[CallRecordData], *, database: str, wall_seconds: float,
                  speed: float, target: float) -> dict[str, Any]:
    k = kpi(records)
    outcomes = Counter(r.outcome.value for r in records)
    return {
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "abandoned_ivr": k.abandoned_by_stage.get("ivr", 0),
        "abandoned_queue": k.abandoned_by_stage.get("queue", 0),
        "abandoned_ringing": k.abandoned_by_stage.get("ringing", 0),
        "outcomes": {o.value: outcomes.get(o.value, 0) for o in RECORD_OUTCOMES},
        "connection_rate": k.connection_rate,
        "target": target,
        "asa_seconds": k.asa,
        "longest_wait_seconds": k.longest_wait,
        "answered_within_15s_rate": k.answered_15s_rate,
        "records": len(records),
        "database": database,
        "wall_seconds": round(wall_seconds, 2),
        "speed": speed,
    }


def print_summary(summary: dict[str, Any], zh: bool) -> None:
    def pct(v: float | None) -> str:
        return rate_text(v)  # the one display rule of every page and report (metrics/kpi.py)

    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} s"

    rows = [
        ("offered to agents", "进入人工队列", str(summary["offered"])),
        ("answered", "人工接通", str(summary["answered"])),
        # Abandoned counts callers offered to agents (queue, ringing); IVR hang-ups were never offered.
        ("abandoned", "放弃", f"{summary['abandoned']} (queue {summary['abandoned_queue']}, ringing "
                                f"{summary['abandoned_ringing']}); hung up in the IVR 语音导航中挂机 "
                                f"{summary['abandoned_ivr']}"),
        ("connection rate", "接通率", f"{pct(summary['connection_rate'])} (target {pct(summary['target'])})"),
        ("answered within 15 s", "15秒内应答率", pct(summary["answered_within_15s_rate"])),
        ("average speed of answer", "平均应答时长", sec(summary["asa_seconds"])),
        ("longest wait", "最长等待", sec(summary["longest_wait_seconds"])),
        ("call records", "通话记录", f"{summary['records']} in {summary['database']}"),
    ]
    tickets = summary.get("tickets")
    if tickets is not None:
        states = ", ".join(f"{k} {v}" for k, v in tickets["by_state"].items())
        rows += [
            ("tickets", "工单", f"{tickets['tickets']} for {tickets['answered_calls_with_ticket']} of "
                                f"{tickets['answered_calls']} answered calls ({states})"),
            ("tickets due (today / 3 working days)", "到期工单（今日/3个工作日内）",
             f"{tickets['due_or_overdue']} / {tickets['due_within_3_working_days']}"),
        ]
    print("\nSummary / 汇总" if zh else "\nSummary")
    for en, cn, value in rows:
        label = f"{cn} {en}" if zh else en
        print(f"  {label:<36} {value}")


def override(cfg: Config, *, database_url: str | None = None, web_port: int | None = None,
             agi_port: int | None = None, ami_host: str | None = None, ami_port: int | None = None) -> Config:
    """A copy of the (frozen) config with the demo's own ports and database."""

    def sub(section: Any, **changes: Any) -> Any:
        changes = {k: v for k, v in changes.items() if v is not None}
        return section.model_copy(update=changes) if changes else section

    return cfg.model_copy(update={
        "database": sub(cfg.database, url=database_url),
        "web": sub(cfg.web, port=web_port),
        "agi": sub(cfg.agi, port=agi_port),
        "ami": sub(cfg.ami, host=ami_host, port=ami_port),
    })


def without_roster(cfg: Config) -> Config:
    """Every configured agent on duty: a short demo shows the whole team; `--roster` shows the rota."""
    return cfg.model_copy(update={"shifts": [], "teams": [], "staffing": []})


async def demo_main(args: argparse.Namespace) -> int:
    from asterisk.sim import PbxSimulator
    from callcenter.daemon import Daemon
    from callcenter.simwire import DemoChoices, DemoDesk, sim_config_for_daemon, ticket_summary
    from config.loader import ConfigError, load_config
    from tickets.survey import survey_scores

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.calls < 1:
        print("error: --calls must be at least 1", file=sys.stderr)
        return 2
    cfg = override(cfg, database_url=args.database, web_port=args.web_port, agi_port=0)
    if not args.roster:
        cfg = without_roster(cfg)
    clock = Clock(args.speed)
    sim_cfg = sim_config_for_daemon(cfg, speed=args.speed, seed=args.seed, calls=args.calls)
    zh = cfg.centre.language == "zh"
    started = time.monotonic()
    async with PbxSimulator(sim_cfg) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
        daemon = Daemon(cfg, clock=clock, spool_dir=os.getcwd(), manual_agents=args.interactive_agent)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(daemon.run(), name="daemon")
            await daemon.ready.wait()
            await daemon.ami.wait_connected()
            sim.set_agi_url(f"agi://127.0.0.1:{daemon.agi_port}/ivr")
            url = f"http://{cfg.web.host}:{daemon.web_port}/"
            print(f"PBX simulator: AMI on 127.0.0.1:{sim.ami_port}; daemon FastAGI on 127.0.0.1:{daemon.agi_port}")
            print(f"Wallboard {'/ 监控大屏 ' if zh else ''}{url}   metrics {url}metrics")
            for agent_id in args.interactive_agent:
                print(f"Agent desktop {'/ 坐席工作台 ' if zh else ''}{url}desk  (sign in as {agent_id}: "
                      f"{DEMO_PASSWORDS.get(agent_id, 'the password in your config')}); go ready to take calls "
                      "(--speed 1 --linger 600 leaves time to read the pop)")
            print(f"Placing {args.calls} calls at {args.speed:g}x speed (seed {args.seed}) ...")
            progress = Progress(args.calls, enabled=not args.no_progress)

            async def show_progress() -> None:
                while True:
                    ended = sum(1 for t in sim.ledger.values() if t.outcome is not None)
                    snap = daemon.live.snapshot(clock.now())["centre"]
                    progress.show(ended, snap["answered"], snap["abandoned"], snap["waiting"])
                    await asyncio.sleep(0.25)

            ticker = tg.create_task(show_progress(), name="demo-progress")
            # The demo's agents file a ticket for each answered call, in batches off the routing path.
            choices = DemoChoices(cfg, daemon.tickets.directory, survey_scores(daemon.ivr.current().survey))
            desk = DemoDesk(daemon.tickets, choices, args.seed, since=clock.origin - timedelta(seconds=1),
                            clock=clock.now, people=frozenset(args.interactive_agent))
            filing = tg.create_task(desk.run(), name="demo-tickets")
            try:
                await sim.run_load(calls=args.calls)
                # Every call the simulator ended must reach the store before the summary.
                deadline = time.monotonic() + 30
                while daemon.ledger.calls and time.monotonic() < deadline:  # noqa: ASYNC110 (a bounded poll)
                    await asyncio.sleep(0.05)
                await daemon.writer.flush()
            finally:
                ticker.cancel()
                desk.stop()
                progress.end()
            await filing
            await desk.catch_up()  # the calls stored since the last batch
            wall = time.monotonic() - started
            records = await asyncio.to_thread(daemon.store.records, clock.origin - timedelta(seconds=1))
            summary = build_summary(records, database=mask_url(cfg.database.url), wall_seconds=wall,
                                    speed=args.speed, target=cfg.centre.connection_rate_target)
            answered = [r.call_id for r in records if r.outcome is Outcome.ANSWERED]
            summary["tickets"] = await asyncio.to_thread(ticket_summary, daemon.tickets, answered, clock.now())
            print_summary(summary, zh)
            if args.summary_json:
                text = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
                await asyncio.to_thread(write_private, args.summary_json, text)
                print(f"  summary written to {args.summary_json}")
            if args.linger > 0:
                print(f"Wallboard stays up for {args.linger:g} s at {url} (Ctrl-C to stop)")
                await asyncio.sleep(args.linger)
            daemon.stop()
    return 0
