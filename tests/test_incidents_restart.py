"""A confirmed incident survives a daemon restart: its announcement still comes out of the IVR at its expiry
(the menu as it was before), and numbering goes on after it. On SQLite and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from callcenter.ivr_service import IvrService
from incidents.announce import announcements_in
from incidents.board import IncidentBoard
from incidents.detect import Baseline, Detector, Signal
from incidents.journal import IncidentJournal
from incidents.model import State
from records.testing import database_url
from tests.test_agi_ivr_dialogues import MONDAY_10, Rig
from tests.test_incidents_announce import MESSAGE, TZ

ENGINES: list[Engine] = []


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as found:
        try:
            yield found
        finally:
            while ENGINES:
                ENGINES.pop().dispose()


def engine_of(url: str) -> Engine:
    ENGINES.append(create_engine(url))
    return ENGINES[-1]


def started(service: IvrService, url: str) -> IncidentBoard:
    """What the daemon's incident desk does at start: a fresh board, restored from the journal."""
    board = IncidentBoard(Detector(Baseline({("水电气", "", h): 2.0 for h in range(24)}), TZ), service, "zh")
    IncidentJournal(engine_of(url), lambda: MONDAY_10).attach(board)
    return board


def surge(board: IncidentBoard, start: timedelta, prefix: str) -> None:
    for i in range(20):
        board.observe(Signal(f"{prefix}{i}", MONDAY_10 + start + timedelta(seconds=10 * i), topic="水电气",
                             places=("阳光花园",)))


def test_a_confirmed_incident_and_its_announcement_outlive_a_restart(tmp_path: Path, url: str) -> None:
    rig = Rig(tmp_path)
    before = rig.service.current().text
    board = started(rig.service, url)
    surge(board, timedelta(minutes=-5), "a")
    board.confirm(1, "sup", MONDAY_10, message=MESSAGE, expires_in=timedelta(minutes=30))
    assert announcements_in(rig.service.current().text) == [1]

    # The daemon restarts: a new IVR service over the same versions folder, a new board from the journal.
    service = IvrService(rig.cfg, tmp_path, lambda: MONDAY_10)
    again = started(service, url)
    (incident,) = again.active()
    assert (incident.number, incident.state, incident.message) == (1, State.CONFIRMED, MESSAGE)
    assert incident.expires == MONDAY_10 + timedelta(minutes=30)

    surge(again, timedelta(minutes=1), "b")  # a new surge is number 2: the menu's nodes carry numbers
    assert sorted(again.incidents) == [1, 2]

    again.tick(MONDAY_10 + timedelta(minutes=31))
    assert again.incidents[1].state is State.CLOSED
    assert announcements_in(service.current().text) == []
    assert service.current().text == before  # put back as it was before the announcement
    assert [i.number for i in started(IvrService(rig.cfg, tmp_path, lambda: MONDAY_10), url).active()] == []


def test_a_damaged_row_is_left_out_not_fatal(tmp_path: Path, url: str, caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import insert

    from incidents.journal import TABLE

    rig = Rig(tmp_path)
    engine = engine_of(url)
    IncidentJournal(engine, lambda: MONDAY_10)  # creates the table
    with engine.begin() as conn:
        conn.execute(insert(TABLE).values(number=7, state="confirmed", data="{not json", updated_at=MONDAY_10))
    board = started(rig.service, url)
    assert board.active() == [] and "could not be read back" in caplog.text
    surge(board, timedelta(0), "c")
    assert sorted(board.incidents) == [8]
