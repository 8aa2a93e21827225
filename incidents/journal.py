"""Incidents kept across a daemon restart.

A confirmed incident has put an announcement into the IVR, which must come out when it closes or expires:
forgetting it at a restart would leave the announcement playing until an admin rolls the menu back. So each
incident is written (as its JSON) when its state changes, and at start the confirmed ones come back onto the
board with their expiry, and numbering goes on after the highest number used (announcement nodes in the
menu carry the incident's number). Candidates are not restored: the detector's windows start empty after a
restart and a surge that goes on is detected again within its windows (5 to 15 minutes).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, func, insert, select

from incidents.board import IncidentBoard
from incidents.model import Incident, State
from records.table import UTCDateTime

log = logging.getLogger(__name__)

META = MetaData()
TABLE = Table(
    "incidents", META,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False, index=True),
    Column("data", Text, nullable=False),  # Incident.to_json()
    Column("updated_at", UTCDateTime(), nullable=False),
)


class IncidentJournal:
    def __init__(self, engine: Any, now: Any) -> None:
        self.engine = engine
        self.now = now
        self.saved: dict[int, str] = {}  # number -> state last written: a candidate's updates are not rewritten
        META.create_all(engine, tables=[TABLE])

    def attach(self, board: IncidentBoard) -> None:
        """Restore the board from the table, then keep the table up to date with the board."""
        board.restore(*self.load())
        board.listeners.append(lambda data: self.write(board.get(int(data["number"]))))

    def write(self, incident: Incident) -> None:
        """Write the incident when it is new or its state moved (a candidate's updates are not rewritten)."""
        number, state = incident.number, incident.state.value
        if self.saved.get(number) == state:
            return
        row = {"number": number, "state": state, "data": json.dumps(incident.to_record(), ensure_ascii=False),
               "updated_at": self.now()}
        with self.engine.begin() as conn:  # delete + insert: the same on SQLite and PostgreSQL
            conn.execute(delete(TABLE).where(TABLE.c.number == number))
            conn.execute(insert(TABLE).values(**row))
        self.saved[number] = state

    def load(self) -> tuple[list[Incident], int]:
        """The confirmed incidents to put back on the board, and the highest incident number used."""
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(TABLE.c.number))).scalar() or 0
            rows = list(conn.execute(select(TABLE.c.data).where(TABLE.c.state == State.CONFIRMED.value)))
        restored = []
        for (text,) in rows:
            try:
                restored.append(Incident.from_json(json.loads(text)))
            except (ValueError, KeyError, TypeError) as exc:  # a damaged row is logged, not fatal
                log.error("incidents: a stored incident could not be read back (%s); left out", exc)
        for incident in restored:
            self.saved[incident.number] = incident.state.value
        return restored, int(last)
