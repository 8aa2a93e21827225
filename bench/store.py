"""Benchmark of the call-record store: insert rate and caller-history look-up latency.

    .venv/bin/python bench/store.py [--json out.json] [--records 20000] [--history-rows 1000000]
                                    [--history-tickets 1000000] [--no-pg] [--quick]

For SQLite (a temporary file, WAL) and PostgreSQL (a throwaway database on 127.0.0.1:5432):
- records/s with Store.write_batch (batches of --batch, ON CONFLICT DO NOTHING + RETURNING),
- records/s with Store.write one record per transaction (on --per-record records),
- records/s with a plain SQLAlchemy Core insert() executemany in the same batches: the baseline,
- caller_history(number, 10) p50/p99 over --lookups look-ups on a table of --history-rows rows,
- the screen-pop's tickets.history.caller_history (last calls AND open tickets, one query) p50/p99
  with --history-tickets tickets stored (a third of them open).
PostgreSQL batches go through psycopg's pipelined executemany of INSERT ... ON CONFLICT DO NOTHING
(rowcount = rows really inserted); --quick is a small run for smoke tests.
Figures are printed (and written as JSON); nothing here is a test or an assertion.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from records.model import CallRecordData, Outcome
from records.store import Store
from records.testing import make_record, throwaway_pg_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OUTCOMES = [Outcome.ANSWERED] * 8 + [Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING,
                                     Outcome.ABANDONED_IVR]


def synthetic(n: int, prefix: str, callers: int, seed: int = 1) -> list[CallRecordData]:
    rnd = random.Random(seed)
    return [
        make_record(f"{prefix}{i}", rnd.choice(OUTCOMES), entered_at=T0 + timedelta(seconds=3 * i),
                    queue=rnd.choice(("main", "tax", "water")), wait=float(rnd.randrange(1, 120)),
                    caller=f"139{rnd.randrange(callers):08d}")
        for i in range(n)
    ]


def chunks(seq: Sequence[CallRecordData], size: int) -> Iterator[Sequence[CallRecordData]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def empty(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM call_records"))
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            conn.execute(text("VACUUM"))


def run_backend(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    recs = synthetic(args.records, "b", callers=max(1, args.records // 5))

    empty(store)
    def batched() -> None:
        for c in chunks(recs, args.batch):
            store.write_batch(c)

    def baseline() -> None:
        for c in chunks(recs, args.batch):
            store.insert_plain(c)

    out["batched_records_per_s"] = rate(len(recs), batched)
    out["replay_records_per_s"] = rate(len(recs), batched)  # every row already there: all skipped
    assert store.count() == len(recs)

    empty(store)
    out["core_executemany_records_per_s"] = rate(len(recs), baseline)

    empty(store)
    few = recs[:args.per_record]
    out["per_record_records_per_s"] = rate(len(few), lambda: [store.write(r) for r in few])

    empty(store)
    callers = max(1, args.history_rows // 20)  # ~20 calls per caller
    t = time.perf_counter()
    for start in range(0, args.history_rows, 20_000):
        n = min(20_000, args.history_rows - start)
        rows = synthetic(n, f"h{start}_", callers=callers, seed=start)
        for c in chunks(rows, 5000):
            store.insert_plain(c)
    out["history_rows"] = args.history_rows
    out["history_load_s"] = time.perf_counter() - t
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE call_records"))
    rnd = random.Random(9)
    latencies = []
    for _ in range(args.lookups):
        number = f"139{rnd.randrange(callers):08d}"
        start_t = time.perf_counter()
        store.caller_history(number, 10)
        latencies.append((time.perf_counter() - start_t) * 1000)
    latencies.sort()
    out["history_lookups"] = args.lookups
    out["history_p50_ms"] = statistics.median(latencies)
    out["history_p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    out["batched_vs_baseline"] = out["batched_records_per_s"] / out["core_executemany_records_per_s"]
    out.update(ticket_history(store, args, callers))
    return out


def ticket_history(store: Store, args: argparse.Namespace, callers: int) -> dict[str, Any]:
    """Load --history-tickets tickets (plain Core inserts), then time the screen-pop query."""
    from tickets.history import caller_history
    from tickets.tables import TICKET_TABLES, Ticket

    table = Ticket.__table__  # type: ignore[attr-defined]
    Ticket.metadata.create_all(store.engine, tables=TICKET_TABLES)
    rnd = random.Random(5)
    states = ["closed", "closed", "dispatched", "in_progress", "resolved", "closed"]
    t = time.perf_counter()
    for start in range(0, args.history_tickets, 10_000):
        rows = []
        for i in range(start, min(start + 10_000, args.history_tickets)):
            at = T0 + timedelta(seconds=30 * i)
            state = rnd.choice(states)
            rows.append({"number": f"12345-{at:%Y%m%d}-{i:07d}", "channel": "phone", "state": state,
                         "category": "help", "topic": "", "caller_number": f"139{rnd.randrange(callers):08d}",
                         "caller_name": "", "contact": "", "county": "xihu", "township": "", "address": "",
                         "title": "路灯不亮", "content": "路灯不亮，请尽快修复。", "reply": "",
                         "department": "xihu.cgj", "confidential": False, "merged_into": None,
                         "is_open": state != "closed", "created_at": at, "created_by": "1001", "updated_at": at,
                         "extension_days": 0, "extension_requested_days": 0, "reminders": 0,
                         "supervised": False, "follow_up_attempts": 0, "version": 1})
        with store.engine.begin() as conn:
            conn.execute(table.insert(), rows)
    out: dict[str, Any] = {"tickets": args.history_tickets, "tickets_load_s": time.perf_counter() - t}
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE tickets"))
    latencies = []
    found = 0
    for _ in range(args.lookups):
        number = f"139{rnd.randrange(callers):08d}"
        start_t = time.perf_counter()
        pop = caller_history(store, number)
        latencies.append((time.perf_counter() - start_t) * 1000)
        found += len(pop.open_tickets)
    latencies.sort()
    out["screenpop_open_tickets_found"] = found
    out["screenpop_p50_ms"] = statistics.median(latencies)
    out["screenpop_p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return out


@contextmanager
def sqlite_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
        yield store


@contextmanager
def pg_store() -> Iterator[Store]:
    with throwaway_pg_database(prefix="callcenter_bench_") as url, Store(url) as store:
        yield store


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--per-record", type=int, default=2_000)
    p.add_argument("--history-rows", type=int, default=1_000_000)
    p.add_argument("--lookups", type=int, default=2_000)
    p.add_argument("--history-tickets", type=int, default=1_000_000)
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test): 2000 records, 20000 history rows")
    args = p.parse_args(argv)
    if args.quick:
        args.records, args.per_record, args.history_rows = 2_000, 200, 20_000
        args.history_tickets, args.lookups = 20_000, 200

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "params": {k: v for k, v in vars(args).items() if k != "json"},
        "backends": {},
    }
    backends = [("sqlite", sqlite_store)] + ([] if args.no_pg else [("postgresql", pg_store)])
    for name, factory in backends:
        print(f"[{name}] {args.records} records, batches of {args.batch}; {args.history_rows} history rows",
              file=sys.stderr)
        with factory() as store:
            report["backends"][name] = run_backend(store, args)
    for name, figures in report["backends"].items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:32} {value:12.1f}" if isinstance(value, float) else f"  {key:32} {value:12}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
