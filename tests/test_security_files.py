"""Issue 15, finding 7: every file that holds callers' numbers and names is created 0600, whatever the umask,
and an older file with a wider mode is narrowed when it is next written.

The real daemon (PBX simulator over TCP, SQLite) takes calls, an admin edits an agent, an IVR version is
saved; then every file in its state directory is checked. The CLI's report and ticket CSV likewise.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.reports.tickets import write_csv
from records.model import CallRecordData
from records.private import open_private, private_sqlite, write_private
from records.spool import Spool
from records.store import Store
from records.testing import make_record
from tests.pair import EXAMPLE, running_pair
from tests.test_security_sessions import call, config, sign_in


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default umask (022): without the helpers every file below would be 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in folder.iterdir() if p.is_file()}


async def test_the_daemons_files_are_0600(tmp_path: Path) -> None:
    audit = tmp_path / "callcenter-audit.jsonl"
    audit.write_text("", encoding="utf-8")
    audit.chmod(0o644)  # left by an older version: narrowed at the next write
    async with running_pair(tmp_path, cfg=config()) as pair:
        await pair.sim.run_load(calls=4)
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        admin = (await sign_in(base, "admin"))[1]
        agent = {"name": "王五", "endpoint": "PJSIP/1099", "queues": "general", "skills": "", "team": ""}
        assert await call(base, admin, "PUT", "/api/admin/agents/1099", agent) == 200
        menu = pair.daemon.ivr.current().text
        await asyncio.to_thread(pair.daemon.ivr.save, menu, "admin", "same menu, new version")
        await pair.settle(within=60)
        assert pair.daemon.store.count() >= 4  # calls went through: records, journal lines
    files = modes(tmp_path)
    expected = {"calls.db", "callcenter-audit.jsonl", "config-edits.yaml", "ivr-versions.json"}
    assert expected <= set(files), files
    assert any(n.startswith("callcenter-open-") for n in files), files
    wide = {name: oct(m) for name, m in files.items() if m & 0o077}
    assert wide == {}, f"readable by others: {wide}"


def test_the_spool_the_journal_and_the_database_file_are_0600(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"")
    spool.chmod(0o644)
    Spool(spool).append([record("1.1")])
    assert mode(spool) == 0o600
    db = tmp_path / "fresh.db"
    with Store(f"sqlite:///{db}") as store:
        store.write(record("1.2"))
    assert mode(db) == 0o600
    old_db = tmp_path / "old.db"
    old_db.write_bytes(b"")
    old_db.chmod(0o644)
    private_sqlite(str(old_db))
    assert mode(old_db) == 0o600


def record(call_id: str) -> CallRecordData:
    return make_record(call_id, entered_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))


def test_the_cli_writes_reports_and_ticket_csvs_0600(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    out = tmp_path / "daily.json"
    assert main(["report", "daily", "--date", "2026-03-02", "--config", str(EXAMPLE), "--database", url,
                 "--format", "json", "-o", str(out)]) == 0
    assert mode(out) == 0o600
    csv_path = tmp_path / "tickets.csv"
    write_csv([], csv_path)
    assert mode(csv_path) == 0o600


def test_the_helpers(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    write_private(path, "13800138000 李先生", atomic=True)
    assert mode(path) == 0o600 and path.read_text(encoding="utf-8") == "13800138000 李先生"
    assert not (tmp_path / "x.txt.tmp").exists()
    path.chmod(0o664)
    with open_private(path, "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert mode(path) == 0o600
    with pytest.raises(ValueError):
        open_private(path, "r")
