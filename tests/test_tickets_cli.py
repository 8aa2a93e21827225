"""`callcenter tickets ...` against a store with records and tickets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.cli import main
from config.loader import load_config
from records.store import Store
from records.testing import make_record
from tickets.access import Role, Viewer
from tickets.service import TicketDraft, TicketService

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"


def test_calls_and_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    at = datetime(2026, 9, 28, 2, tzinfo=UTC)
    with Store(url) as store:
        store.write_batch([make_record(f"c{i}", entered_at=at, caller=f"1390000000{i}") for i in range(3)])
        svc = TicketService.from_config(store, load_config(EXAMPLE, environ={}))
        agent = Viewer(Role.AGENT, user="1001")
        number = svc.create(TicketDraft(category="consultation", content="社保查询", call_id="c1"), agent, at).number
        svc.transition(number, "dispatch", agent, at, department="city.rsj")
    assert main(["tickets", "calls", "--database", url, "--last", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("answered") == 2
    assert main(["tickets", "due", "--config", str(EXAMPLE), "--database", url, "--at", "2026-09-30T08:00"]) == 0
    out = capsys.readouterr().out
    assert number in out and "reminder" in out and "due 2026-09-29" in out
    assert main(["tickets", "show", number, "--config", str(EXAMPLE), "--database", url]) == 0
    shown = capsys.readouterr().out
    assert "dispatch" in shown
    # Times in the centre's zone, named (created 02:00 UTC = 10:00 in Shanghai), never the stored UTC.
    assert "(times in Asia/Shanghai, UTC+08:00)" in shown
    created = next(line for line in shown.splitlines() if line.startswith("created_at"))
    assert created.split(None, 1)[1] == "2026-09-28 10:00:00"
    assert "+00:00" not in shown and "02:00:00" not in shown
    assert main(["tickets", "departments", "--config", str(EXAMPLE)]) == 0
    assert "1553 departments" in capsys.readouterr().out
