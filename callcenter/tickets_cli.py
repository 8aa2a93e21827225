"""`callcenter tickets ...`: call records and tickets from the command line.

    callcenter tickets calls --database URL [--last 20]
    callcenter tickets list  --config FILE [--database URL] [--state S] [--last 50]
    callcenter tickets show  NUMBER --config FILE [--database URL]
    callcenter tickets due   --config FILE [--database URL] [--at ISO] [--days N]
    callcenter tickets migrate --database URL          (Alembic upgrade head)
    callcenter tickets departments --config FILE      (counts per group)

Times are shown in the centre's time zone (--config) or UTC.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="tickets_command", required=True)
    calls = sub.add_parser("calls", help="the last call records")
    calls.add_argument("--database", help="SQLAlchemy URL (default: the config's)")
    calls.add_argument("--config")
    calls.add_argument("--last", type=int, default=20)
    for name, help_text in (("list", "tickets, newest first"), ("due", "tickets due or overdue"),
                            ("show", "one ticket and its history"), ("departments", "the department directory")):
        q = sub.add_parser(name, help=help_text)
        q.add_argument("--config", default="config/example.yaml")
        q.add_argument("--database", help="SQLAlchemy URL (default: the config's)")
        if name == "list":
            q.add_argument("--state")
            q.add_argument("--last", type=int, default=50)
        if name == "due":
            q.add_argument("--at", help="ISO time (default: now)")
            q.add_argument("--days", type=int, default=0, help="also list tickets due within N working days")
        if name == "show":
            q.add_argument("number")
    mig = sub.add_parser("migrate", help="upgrade the database schema to the latest revision (Alembic)")
    mig.add_argument("--database", required=True)


def _config(path: str) -> Any:
    from config.loader import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc.format_errors(), file=sys.stderr)
        raise SystemExit(2) from None


def open_service(cfg: Any, config_path: str, database: str | None) -> Any:
    from records.store import Store
    from tickets.service import TicketService

    return TicketService.from_config(Store(database or cfg.database.url), cfg, Path(config_path).resolve().parent)


def _fmt(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def _zone_line(tz: ZoneInfo) -> str:
    """Names the zone the times are printed in (never UTC unless no centre zone is known)."""
    offset = datetime.now(tz).strftime("%z")
    return f"(times in {tz.key}, UTC{offset[:3]}:{offset[3:]})"


def main(args: argparse.Namespace) -> int:
    from tickets.access import Role, Viewer

    cmd = args.tickets_command
    if cmd == "migrate":
        from records import migrate
        from records.store import mask_url

        migrate.upgrade(args.database)
        print(f"upgraded {mask_url(args.database)} to head")
        return 0
    if cmd == "calls":
        from sqlalchemy import select

        from records.store import Store
        from records.table import CallRecordRow, from_row

        tz = ZoneInfo("UTC")
        url = args.database
        if args.config:
            cfg = _config(args.config)
            tz, url = ZoneInfo(cfg.centre.timezone), url or cfg.database.url
        if not url:
            print("give --database URL or --config FILE", file=sys.stderr)
            return 2
        table = CallRecordRow.__table__  # type: ignore[attr-defined]
        with Store(url) as store, store.engine.connect() as conn:
            rows = [from_row(r) for r in conn.execute(
                select(table).order_by(table.c.ended_at.desc()).limit(args.last))]
        print(_zone_line(tz))
        print(f"{'ended':19}  {'call id':24} {'caller':14} {'queue':10} {'agent':6} {'wait':>6} {'talk':>6} outcome")
        for r in rows:
            wait = f"{r.wait_seconds:.0f}" if r.wait_seconds is not None else "-"
            talk = f"{r.talk_seconds:.0f}" if r.talk_seconds is not None else "-"
            print(f"{_fmt(r.ended_at, tz)}  {r.call_id:24} {r.caller_number:14} {r.queue or '-':10} "
                  f"{r.agent_id or '-':6} {wait:>6} {talk:>6} {r.outcome.value}")
        return 0

    cfg = _config(args.config)
    tz = ZoneInfo(cfg.centre.timezone)
    if cmd == "departments":
        from tickets import departments

        directory = departments.load(cfg.tickets, Path(args.config).resolve().parent)
        print(f"{len(directory)} departments")
        for group, n in directory.count_by_group().items():
            print(f"  {departments.GROUP_NAMES[cfg.centre.language][group]:12} {n}")
        return 0
    service = open_service(cfg, args.config, args.database)
    supervisor = Viewer(Role.SUPERVISOR, user="cli")
    try:
        if cmd == "list":
            print(_zone_line(tz), file=sys.stderr)  # stdout stays one line per ticket
            for t in service.query(supervisor, state=args.state, limit=args.last):
                print(f"{t.number}  {_fmt(t.created_at, tz)}  {t.category:12} {t.state.value:20} "
                      f"{t.department or '-':20} {t.content[:40]}")
            return 0
        if cmd == "show":
            from tickets.errors import TicketNotFound

            try:
                t = service.get(args.number, supervisor)
            except TicketNotFound:
                print(f"no ticket {args.number}", file=sys.stderr)
                return 1
            print(_zone_line(tz))
            for key, value in t.to_dict().items():
                raw = getattr(t, key, None)  # times in the centre's zone, not the stored UTC
                print(f"{key:26} {_fmt(raw, tz) if isinstance(raw, datetime) else value}")
            print("history:")
            for h in service.history(args.number, supervisor):
                print(f"  {_fmt(h.at, tz)}  {h.actor:16} {h.action:20} {h.from_state or '-'} -> {h.to_state}  {h.note}")
            return 0
        if cmd == "due":
            at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
            at = at if at.tzinfo else at.replace(tzinfo=tz)
            items = service.due(supervisor, at, horizon_days=args.days)
            print(f"{len(items)} tickets due or overdue at {_fmt(at, tz)} ({cfg.centre.timezone})")
            for item in items:
                t = item.ticket
                last_day = (t.due_at.astimezone(tz) - timedelta(seconds=1)).date() if t.due_at else None
                print(f"{t.number}  {item.level:10} due {last_day}  {t.category:12} {t.state.value:20} "
                      f"{t.department or '-':20} reminders={t.reminders} supervised={int(t.supervised)}")
            return 0
    finally:
        service.store.close()
    return 2
