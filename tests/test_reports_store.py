"""`report seed-month` writes calls, agent states and real tickets into one store (SQLite and PostgreSQL); the
daily report, the department ranking and the hot topics read that store and agree with direct SQL counts."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from callcenter.cli import main
from callcenter.reports.daily import day_span
from callcenter.reports.month import month_bounds
from callcenter.reports.seed import SURGE_COUNTY, SURGE_TOPIC
from callcenter.reports.store_tickets import Names
from config.loader import load_config
from records.store import Store
from records.testing import database_url
from tickets.access import Role, Viewer
from tickets.service import TicketDraft, TicketService

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
MONTH = "2026-03"
BASE = ["--config", str(EXAMPLE)]


@dataclass
class Seeded:
    url: str
    out: str
    err: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("seeded")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(database_url(request.param, str(tmp)))
        out, err = tmp / "out.txt", tmp / "err.txt"
        with out.open("w") as o, err.open("w") as e, contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            assert main(["report", "seed-month", "--month", MONTH, "--seed", "3", "--database", url, *BASE]) == 0
        yield Seeded(url, out.read_text(), err.read_text())


def sql(url: str, query: str, **params: object) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_seed_month_writes_calls_and_tickets_into_one_store(seeded: Seeded) -> None:
    [(calls,)] = sql(seeded.url, "SELECT count(*) FROM call_records")
    [(tickets,)] = sql(seeded.url, "SELECT count(*) FROM tickets")
    [(events,)] = sql(seeded.url, "SELECT count(*) FROM ticket_events")
    [(intervals,)] = sql(seeded.url, "SELECT count(*) FROM agent_state_intervals")
    assert f"{calls} call records ({calls} new), {intervals} agent state intervals" in seeded.out
    assert f"{tickets} new tickets ({events} history lines)" in seeded.out
    assert calls > 10_000 and tickets > 3_000 and events > 3 * tickets
    assert "100% tickets" in seeded.err  # the progress bar reached its end
    # Every ticket comes from an answered call of the store, and each such call has one ticket at most.
    [(orphans,)] = sql(seeded.url, "SELECT count(*) FROM tickets t JOIN ticket_calls c ON c.ticket_id = t.id "
                                   "LEFT JOIN call_records r ON r.call_id = c.call_id "
                                   "WHERE r.call_id IS NULL OR r.outcome <> 'answered'")
    [(linked, distinct)] = sql(seeded.url, "SELECT count(*), count(DISTINCT call_id) FROM ticket_calls")
    assert orphans == 0 and linked == distinct == tickets
    # A ticket's state and its history's last line agree (the service's invariant).
    [(disagree,)] = sql(seeded.url, "SELECT count(*) FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id "
                                    "WHERE e.id = (SELECT max(id) FROM ticket_events WHERE ticket_id = t.id) "
                                    "AND e.to_state <> t.state")
    assert disagree == 0


def test_seeding_again_adds_nothing_and_numbers_continue(seeded: Seeded, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    [(before,)] = sql(seeded.url, "SELECT count(*) FROM tickets")
    out = run(capsys, "report", "seed-month", "--month", MONTH, "--seed", "3", "--database", seeded.url, *BASE)
    assert " (0 new)" in out and "0 new tickets" in out
    assert sql(seeded.url, "SELECT count(*) FROM tickets") == [(before,)]
    # The service numbers a new ticket after the seeded ones of its day.
    [(last,)] = sql(seeded.url, "SELECT max(number) FROM tickets WHERE number LIKE '12345-20260305-%'")
    cfg = load_config(EXAMPLE, environ={})
    with Store(seeded.url, create=False) as store:
        svc = TicketService.from_config(store, cfg)
        t = svc.create(TicketDraft(category="help", content="路灯不亮"), Viewer(Role.AGENT, user="1001"),
                       datetime(2026, 3, 5, 4, tzinfo=UTC))
    assert t.number == f"12345-20260305-{int(str(last).rsplit('-', 1)[1]) + 1:06d}"
    engine = create_engine(seeded.url)  # leave the seeded month as it was for the other tests
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM ticket_events WHERE ticket_id = :i"), {"i": t.id})
            conn.execute(text("DELETE FROM tickets WHERE id = :i"), {"i": t.id})
    finally:
        engine.dispose()


def test_daily_report_counts_the_stores_calls(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    for day in (date(2026, 3, 5), date(2026, 3, 21)):
        rep = json.loads(run(capsys, "report", "daily", "--date", day.isoformat(), "--format", "json",
                             "--database", seeded.url, *BASE))
        start, end = day_span(day, "Asia/Shanghai")
        [(answered, offered)] = sql(
            seeded.url,
            "SELECT sum(CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END), count(*) FROM call_records "
            "WHERE queued_at >= :a AND queued_at < :b", a=_param(seeded.url, start), b=_param(seeded.url, end))
        assert (rep["answered"], rep["offered"]) == (answered, offered)
        assert sum(h["answered"] for h in rep["hours"]) == answered


def test_department_ranking_counts_equal_sql(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "report", "departments", "--month", MONTH, "--as-of", "2026-05-01T00:00:00+08:00",
              "--min-tickets", "1", "--database", seeded.url, *BASE)
    start, end = month_bounds(2026, 3, "Asia/Shanghai")
    names = Names.from_config(load_config(EXAMPLE, environ={}), "zh")
    # Three groups; a department's group is its directory group (city.* 市级部门, psu.* 公共服务单位).
    for column, section, prefix in (("department", "== 市级部门 ==", "city."),
                                    ("department", "== 公共服务单位 ==", "psu."), ("county", "== 区县 ==", "")):
        counts = sql(seeded.url, f"SELECT {column}, count(*) FROM tickets WHERE created_at >= :a AND "
                     f"created_at < :b AND merged_into IS NULL AND {column} IS NOT NULL AND {column} <> '' "
                     f"AND {column} LIKE :p GROUP BY {column}", a=_param(seeded.url, start),
                     b=_param(seeded.url, end), p=prefix + "%")
        assert len(counts) >= 5
        shown = [row[:2] for row in _section(out, section)]  # name, tickets
        assert len(shown) == len(counts)
        for code, n in counts:
            assert [names.units[str(code)], str(n)] in shown, (code, n)
    # Each group has a red list (top three) and a black list (bottom three), none on both.
    titles = [line for line in out.splitlines() if line.startswith("==")]
    assert titles == ["== 区县 ==", "== 市级部门 ==", "== 公共服务单位 =="]
    lists = [line.split(": ", 1)[1].split("、") for line in out.splitlines() if line.startswith(("红榜", "黑榜"))]
    assert len(lists) == 6 and all(len(names) == 3 for names in lists)
    assert all(not set(red) & set(black) for red, black in zip(lists[::2], lists[1::2], strict=True))


def test_hot_topics_surface_the_countys_ride_hailing_from_the_store(seeded: Seeded,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "report", "topics", "--from", "2026-03-16", "--to", "2026-04-01", "--database", seeded.url,
              *BASE)
    names = Names.from_config(load_config(EXAMPLE, environ={}), "zh")
    key = f"{names.units[SURGE_COUNTY]} · {names.topics[SURGE_TOPIC]}"
    top = _section(out, "== 区县 · 主题 ==")[0]
    since = datetime(2026, 3, 15, 16, tzinfo=UTC)
    until = datetime(2026, 3, 31, 16, tzinfo=UTC)
    [(n,)] = sql(seeded.url, "SELECT count(*) FROM tickets WHERE county = :c AND topic = :t AND created_at >= :a "
                             "AND created_at < :b", c=SURGE_COUNTY, t=SURGE_TOPIC,
                 a=_param(seeded.url, since), b=_param(seeded.url, until))
    assert " ".join(top[:3]) == key and top[3] == str(n)


def _section(out: str, title: str) -> list[list[str]]:
    """The data rows under `title` (rank, name, count, ... for rankings; key, now, ... for topics)."""
    rows, inside = [], False
    for line in out.splitlines():
        if line.startswith("=="):
            inside = line.strip() == title
            continue
        parts = line.split()
        if inside and parts and parts[0].isdigit():  # a ranking row: rank, name, tickets...
            rows.append(parts[1:])
        elif inside and len(parts) >= 5 and parts[-4].isdigit():  # a topics row: key..., now, before, ...
            rows.append(parts)
    return rows


def _param(url: str, at: datetime) -> object:
    """A bound instant as the column stores it: naive UTC text on SQLite (records/table.py UTCDateTime)."""
    if url.startswith("sqlite"):
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
    return at
