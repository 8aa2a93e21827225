"""`callcenter report ...`: daily, departments, topics, seed-month. Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from records.private import write_private

DEFAULT_CONFIG = "config/example.yaml"


def add_report_commands(sub: Any) -> None:
    rep = sub.add_parser("report", help="reports: daily, departments, topics (and seed-month for a demo month)")
    rsub = rep.add_subparsers(dest="report_command", required=True, metavar="REPORT")

    def common(p: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
        p.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")
        p.add_argument("--database", default=None, help="SQLAlchemy URL (default: the config's)")
        p.add_argument("--format", choices=formats, default="text")
        p.add_argument("-o", "--output", default=None, help="file to write (default: stdout; png needs -o)")
        p.add_argument("--language", choices=["zh", "en"], default=None, help="default: centre.language")

    def tickets(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--tickets", metavar="CSV", help="tickets exported as CSV (columns: see docs/metrics.md) "
                                                        "instead of the ticket store")
        g.add_argument("--seed", type=int, help="tickets simulated from the store's call records with this seed, "
                                                "instead of the ticket store (no tickets stored)")

    d = rsub.add_parser("daily", help="a day's connection rate by hour against the target, and why hours fell short")
    d.add_argument("--date", default=None, help="YYYY-MM-DD (default: yesterday in the centre's time zone)")
    d.add_argument("--weeks", type=int, default=4, help="weeks of the same weekday for 'usual' (default 4)")
    common(d, ("text", "html", "png", "json"))
    d.set_defaults(func=daily_main)

    m = rsub.add_parser("departments", help="monthly department ranking (红黑榜)")
    m.add_argument("--month", required=True, help="YYYY-MM")
    m.add_argument("--as-of", default=None, help="judge due dates as of this instant (ISO; default: now)")
    m.add_argument("--min-tickets", type=int, default=20)
    common(m, ("text", "html"))
    tickets(m)
    m.set_defaults(func=departments_main)

    t = rsub.add_parser("topics", help="categories, topics, districts and words that rose most vs the previous period")
    t.add_argument("--from", dest="since", required=True, help="YYYY-MM-DD (inclusive, local)")
    t.add_argument("--to", dest="until", required=True, help="YYYY-MM-DD (exclusive, local)")
    t.add_argument("--min-count", type=int, default=5)
    common(t, ("text", "html"))
    tickets(t)
    t.set_defaults(func=topics_main)

    s = rsub.add_parser("seed-month", help="write a seeded simulated month of calls, agent states and tickets "
                                           "to a database")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--config", default=DEFAULT_CONFIG)
    s.add_argument("--database", default=None, help="SQLAlchemy URL (default: the config's)")
    s.add_argument("--tickets-csv", default=None, help="also write the seeded tickets to this CSV")
    s.set_defaults(func=seed_month_main)


def _config(args: argparse.Namespace) -> Any:
    from callcenter.demo import override
    from config.loader import load_config

    cfg = load_config(args.config)
    if getattr(args, "database", None):
        cfg = override(cfg, database_url=args.database)
    if getattr(args, "language", None):
        cfg = cfg.model_copy(update={"centre": cfg.centre.model_copy(update={"language": args.language})})
    return cfg


def _write(args: argparse.Namespace, data: str | bytes) -> None:
    if args.output:
        path = Path(args.output)
        write_private(path, data)  # reports name callers and agents: 0600
        print(args.output)
    elif isinstance(data, bytes):
        raise SystemExit("error: --format png needs -o FILE")
    else:
        sys.stdout.write(data)


def _parse_month(text: str) -> tuple[int, int]:
    try:
        y, m = text.split("-")
        if not 1 <= int(m) <= 12:
            raise ValueError
        return int(y), int(m)
    except ValueError:
        raise SystemExit(f"error: month {text!r}: expected YYYY-MM") from None


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: date {text!r}: expected YYYY-MM-DD") from None


def daily_main(args: argparse.Namespace) -> int:
    from callcenter.reports.chart import daily_chart_png
    from callcenter.reports.daily import load_daily
    from callcenter.reports.render import daily_html, daily_text
    from records.agentlog import AgentLog
    from records.store import Store

    cfg = _config(args)
    tz = ZoneInfo(cfg.centre.timezone)
    day = _parse_day(args.date) if args.date else datetime.now(tz).date() - timedelta(days=1)
    with Store(cfg.database.url) as store:
        rep = load_daily(cfg, day, store, AgentLog(store.engine), history_weeks=args.weeks)
    if args.format == "png":
        _write(args, daily_chart_png(rep))
    elif args.format == "html":
        _write(args, daily_html(rep))
    elif args.format == "json":
        import json

        _write(args, json.dumps(rep.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _write(args, daily_text(rep))
    return 0


def _ticket_rows(args: argparse.Namespace, cfg: Any, since: datetime, until: datetime) -> list[Any]:
    from callcenter.reports.tickets import CsvTicketSource, ListTicketSource, seeded_tickets
    from records.store import Store

    if args.tickets:
        return CsvTicketSource(args.tickets).tickets(since, until)
    if args.seed is None:  # the ticket store: the same database as the calls
        return _store_tickets(args, cfg, since, until)
    # Seeded: tickets from the calls of the calendar months that hold the period.
    tz = ZoneInfo(cfg.centre.timezone)
    first = since.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with Store(cfg.database.url) as store:
        records = store.records(first.astimezone(UTC), until + timedelta(days=1))
    return ListTicketSource(seeded_tickets(records, args.seed)).tickets(since, until)


def _store_tickets(args: argparse.Namespace, cfg: Any, since: datetime, until: datetime) -> list[Any]:
    from callcenter.reports.store_tickets import Names, StoreTicketSource
    from records.store import Store

    names = Names.from_config(cfg, cfg.centre.language, Path(args.config).resolve().parent)
    with Store(cfg.database.url, create=False) as store:
        from sqlalchemy import inspect

        if not inspect(store.engine).has_table("tickets"):
            raise SystemExit(f"error: no ticket table in {store!r}: run `callcenter tickets migrate` or "
                             "`callcenter report seed-month`, or pass --tickets CSV / --seed N")
        return list(StoreTicketSource(store.engine, names).tickets(since, until))


def departments_main(args: argparse.Namespace) -> int:
    from callcenter.reports.departments import UnitGroups, department_report
    from callcenter.reports.incidents import incidents_html, incidents_text, load_incidents
    from callcenter.reports.month import month_bounds
    from callcenter.reports.render import departments_html, departments_text
    from tickets import departments

    cfg = _config(args)
    year, month = _parse_month(args.month)
    since, until = month_bounds(year, month, cfg.centre.timezone)
    as_of = datetime.fromisoformat(args.as_of).astimezone(UTC) if args.as_of else datetime.now(UTC)
    # Which group a department ranks in comes from the config's department directory.
    groups = UnitGroups(departments.load(cfg.tickets, Path(args.config).resolve().parent))
    rep = department_report(_ticket_rows(args, cfg, since, until), args.month, as_of, min_tickets=args.min_tickets,
                            groups=groups)
    lang = cfg.centre.language
    # 同源件: each incident once with all its callers, from the ticket store (not from a CSV or a seeded month).
    found = None if args.tickets or args.seed is not None else load_incidents(cfg, args.config, since, until)
    if args.format == "html":
        _write(args, departments_html(rep, lang, incidents_html(found, lang) if found else ""))
    else:
        _write(args, departments_text(rep, lang) + ("\n" + incidents_text(found, lang) if found else ""))
    return 0


def topics_main(args: argparse.Namespace) -> int:
    from callcenter.reports.render import topics_html, topics_text
    from callcenter.reports.topics import NoBaseline, topics_report

    cfg = _config(args)
    tz = ZoneInfo(cfg.centre.timezone)
    since = datetime.combine(_parse_day(args.since), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    until = datetime.combine(_parse_day(args.until), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    if until <= since:
        raise SystemExit("error: --to must be after --from")
    prev = since - (until - since)
    rows = _ticket_rows(args, cfg, prev, until)
    now = [t for t in rows if t.created_at >= since]
    before = [t for t in rows if t.created_at < since]
    try:
        rep = topics_report(now, before, since, until, min_count=args.min_count)
    except NoBaseline:
        last = (since - timedelta(days=1)).astimezone(tz).date()
        raise SystemExit(f"error: no tickets between {prev.astimezone(tz).date()} and {last} (the period before "
                         f"--from of the same length): nothing to compare with; choose a period whose previous "
                         f"period holds tickets, e.g. the second half of a month") from None
    lang = cfg.centre.language
    _write(args, topics_html(rep, lang, tz) if args.format == "html" else topics_text(rep, lang, tz))
    return 0


def seed_month_main(args: argparse.Namespace) -> int:
    from callcenter.reports.month import month_bounds, simulate_month
    from callcenter.reports.seed import write_month
    from callcenter.reports.store_tickets import Names, StoreTicketSource
    from callcenter.reports.tickets import write_csv
    from records.store import Store
    from tickets.deadlines import WorkCalendar

    cfg = _config(args)
    year, month = _parse_month(args.month)
    sim = simulate_month(cfg, year, month, args.seed)
    overrides = dict.fromkeys(cfg.holidays.days_off, False) | dict.fromkeys(cfg.holidays.working_days, True)
    calendar = WorkCalendar.china(cfg.centre.timezone, overrides)
    working_days = {c.code: c.working_days for c in cfg.tickets.categories}
    with Store(cfg.database.url) as store:
        res = write_month(store, sim, calendar, args.seed,
                          prefix=cfg.tickets.number_prefix, working_days=working_days)
        if args.tickets_csv:
            names = Names.from_config(cfg, cfg.centre.language, Path(args.config).resolve().parent)
            rows = StoreTicketSource(store.engine, names).tickets(*month_bounds(year, month, cfg.centre.timezone))
    print(f"{res.records} call records ({res.new_records} new), {res.intervals} agent state intervals")
    print(f"{res.tickets} new tickets ({res.events} history lines)")
    for inc in sim.incidents:
        print(f"  incident: {inc.kind} on {inc.day} {inc.start_hour:02d}-{inc.end_hour:02d}h "
              f"{' '.join(inc.agents)}".rstrip())
    if args.tickets_csv:
        n = write_csv(rows, args.tickets_csv)
        print(f"{n} tickets -> {args.tickets_csv}")
    return 0
