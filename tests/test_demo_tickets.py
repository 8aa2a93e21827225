"""`callcenter demo` leaves tickets behind: each answered call becomes a ticket through TicketService, a
seeded share moves on through the workflow; on SQLite and on a fresh PostgreSQL database, read back
through the `callcenter tickets` command functions."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.demo import add_arguments, demo_main
from callcenter.simwire import DemoChoices, DemoDesk
from config.loader import load_config
from records.model import Outcome
from records.store import Store
from records.testing import database_url, make_record
from tickets.access import Role, Viewer
from tickets.service import TicketService
from tickets.survey import survey_scores

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
SUP = Viewer(Role.SUPERVISOR, user="test")
AT = datetime(2026, 9, 28, 2, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


async def test_demo_leaves_a_ticket_per_answered_call(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the demo keeps its spool and IVR versions in the working directory
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    summary_path = tmp_path / "summary.json"
    args = parser.parse_args(["--config", str(EXAMPLE), "--calls", "12", "--speed", "50", "--database", db_url,
                              "--summary-json", str(summary_path), "--web-port", "0", "--no-progress", "--seed", "5"])
    assert await demo_main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert {"offered", "answered", "records", "connection_rate"} <= set(summary)  # the old keys stay
    tickets = summary["tickets"]
    assert summary["answered"] > 0
    assert tickets["answered_calls"] == summary["answered"]
    assert tickets["tickets"] == tickets["answered_calls_with_ticket"] == summary["answered"]
    assert sum(tickets["by_state"].values()) == tickets["tickets"]
    assert f"{tickets['tickets']} for {summary['answered']} of {summary['answered']} answered calls" in printed

    cfg = load_config(EXAMPLE, environ={})
    with Store(db_url) as store:
        svc = TicketService.from_config(store, cfg)
        answered = [r for r in store.records(datetime(2000, 1, 1, tzinfo=UTC)) if r.outcome is Outcome.ANSWERED]
        assert len(answered) == summary["answered"]
        numbers = []
        for record in answered:
            linked = svc.tickets_of_call(record.call_id)
            assert len(linked) == 1, record.call_id
            t = svc.get(linked[0], SUP)
            assert (t.channel, t.caller_number, t.calls) == ("phone", record.caller_number, (record.call_id,))
            assert t.category in {c.code for c in cfg.tickets.categories} and t.county in svc.directory
            history = svc.history(t.number, SUP)
            assert history[0].action == "create" and history[-1].to_state == t.state.value
            numbers.append(t.number)
        states = Counter(t.state.value for t in svc.query(SUP, limit=1000))
        assert dict(states) == tickets["by_state"]
        at = datetime.now(UTC) + timedelta(days=1)
        due_soon = svc.due(SUP, at, horizon_days=3)

    assert main(["tickets", "list", "--config", str(EXAMPLE), "--database", db_url, "--last", "500"]) == 0
    listed = capsys.readouterr().out
    assert all(n in listed for n in numbers) and len(listed.splitlines()) == len(numbers)
    assert main(["tickets", "show", numbers[0], "--config", str(EXAMPLE), "--database", db_url]) == 0
    shown = capsys.readouterr().out
    assert "create" in shown and any(f"'{r.call_id}'" in shown for r in answered)  # calls (...) line
    assert main(["tickets", "due", "--config", str(EXAMPLE), "--database", db_url, "--days", "3",
                 "--at", at.isoformat()]) == 0
    due_out = capsys.readouterr().out
    assert due_out.startswith(f"{len(due_soon)} tickets due or overdue")
    assert all(d.ticket.number in due_out for d in due_soon)


def test_plans_are_seeded_and_cover_the_workflow(tmp_path: Path) -> None:
    """The demo's plans are the same for the same seed and call, and over many calls every part of the
    workflow shows up; every planned step is legal when carried out through the service."""
    cfg = load_config(EXAMPLE, environ={})
    with Store(f"sqlite:///{tmp_path / 'plans.db'}") as store:
        svc = TicketService.from_config(store, cfg)
        pick = DemoChoices(cfg, svc.directory, survey_scores(cfg.ivr.survey.to_menu() if cfg.ivr and
                                                             cfg.ivr.survey else None))
        records = [make_record(f"call-{i}", entered_at=AT + timedelta(minutes=i), caller=f"139{i:08d}")
                   for i in range(300)]
        records = [dataclasses.replace(r, ivr_path="welcome>language:1>hours=main>main:2" if i % 3 == 0 else
                                       "welcome>language:1>hours=main>main:1", satisfaction=1 + i % 5)
                   for i, r in enumerate(records)]
        plans = [pick.plan(r, seed=9) for r in records]
        assert plans == [pick.plan(r, seed=9) for r in records]
        assert plans != [pick.plan(r, seed=10) for r in records]
        actions = Counter(s.action for p in plans for s in p.steps)
        for action in ("answer", "survey", "dispatch", "sign", "return", "reassign", "request_extension",
                       "approve_extension", "remind", "resolve", "follow_up", "close"):
            assert actions[action] > 0, action
        # The text names the place once: a township's name already holds its county's (no 拱墅区拱墅区).
        names = {d.code: d.name_zh for d in svc.directory}
        placed = [p for p in plans if p.county and p.township]
        assert placed
        for p in placed:
            assert p.content.count(names[p.county]) == 1, p.content
        # The complaints key makes complaints far likelier than its 15 % base share.
        complaints = Counter(p.category for p, r in zip(plans, records, strict=True) if r.ivr_path.endswith(":2"))
        assert complaints["complaint"] > sum(complaints.values()) / 2

        store.write_batch(records)
        desk = DemoDesk(svc, pick, 9, since=AT, clock=lambda: AT)
        for plan in plans:
            desk.file(plan, AT + timedelta(hours=1))
        assert desk.created == 300 and desk.steps == sum(len(p.steps) for p in plans)
        states = Counter(t.state.value for t in svc.query(SUP, limit=1000))
        assert {"accepted", "dispatched", "in_progress", "resolved", "followed_up", "closed", "returned",
                "extension_requested"} <= set(states)
