"""`callcenter retention run`: mask callers' numbers and names older than ``security.retention_days`` now.

    callcenter retention run --config FILE [--database URL] [--state-dir DIR] [--dry-run] [--at ISO] [--json]
                             [--number N]      (one caller's data now, on their request: PIPL art. 47)

The daemon runs the same job daily (callcenter/retention.py); this is for a first run, a check before changing
the period (``--dry-run`` counts and changes nothing), or a centre whose daemon is stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="retention_command", required=True)
    run = sub.add_parser("run", help="mask callers' numbers and names older than security.retention_days")
    run.add_argument("--config", required=True, help="YAML config file (security.retention_days, database.url)")
    run.add_argument("--database", help="SQLAlchemy URL (default: the config's)")
    run.add_argument("--state-dir", default=".", help="the daemon's state directory: audit log, spools (default .)")
    run.add_argument("--dry-run", action="store_true", help="count what would be masked; change nothing")
    run.add_argument("--at", help="ISO time taken as now (default: now)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--number", help="erase this caller's number and name now, whatever the age (on request)")


def main(args: argparse.Namespace) -> int:
    from callcenter.retention import RetentionJob
    from config.loader import ConfigError, load_config
    from records.store import Store

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc.format_errors(), file=sys.stderr)
        return 2
    try:
        now = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    except ValueError:
        print(f"--at: not an ISO time: {args.at!r}", file=sys.stderr)
        return 2
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    days = cfg.security.retention_days
    scope = "one caller's data, on request" if args.number else f"keeping {days} days"
    print(f"retention: {scope}{' (dry run: nothing is changed)' if args.dry_run else ''}", flush=True)
    with Store(args.database or cfg.database.url) as store:
        job = RetentionJob(store, args.state_dir, days)
        summary = job.run(now, dry_run=args.dry_run, progress=lambda text: print(f"  {text}", flush=True),
                          number=args.number)
    print(json.dumps(summary.to_dict(), ensure_ascii=False) if args.json else summary.line())
    return 0
