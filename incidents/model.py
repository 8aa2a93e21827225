"""An incident's life as data: states, the legal moves, and the record a supervisor acts on (pure).

candidate ──confirm──▶ confirmed ──close / expire──▶ closed
    └──dismiss / quiet──▶ dismissed

A confirmed incident may carry an announcement (an IVR version); leaving ``confirmed`` takes it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from incidents.detect import CandidateView


class State(StrEnum):
    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"
    CLOSED = "closed"
    DISMISSED = "dismissed"


class Move(StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    QUIET = "quiet"  # the detector saw the burst end before anyone confirmed it
    CLOSE = "close"
    EXPIRE = "expire"


#: every legal (state, move) -> next state; anything else is refused and changes nothing
TRANSITIONS: dict[tuple[State, Move], State] = {
    (State.CANDIDATE, Move.CONFIRM): State.CONFIRMED,
    (State.CANDIDATE, Move.DISMISS): State.DISMISSED,
    (State.CANDIDATE, Move.QUIET): State.DISMISSED,
    (State.CONFIRMED, Move.CLOSE): State.CLOSED,
    (State.CONFIRMED, Move.EXPIRE): State.CLOSED,
}


class IncidentError(ValueError):
    """A move the incident's state does not allow, or bad input; ``slug`` names it for the web edge."""

    def __init__(self, slug: str, detail: str) -> None:
        self.slug = slug
        super().__init__(detail)


def next_state(state: State, move: Move) -> State:
    try:
        return TRANSITIONS[(state, move)]
    except KeyError:
        raise IncidentError("illegal_move", f"an incident that is {state} cannot {move}") from None


@dataclass
class Incident:
    number: int
    candidate: CandidateView
    state: State = State.CANDIDATE
    opened: datetime | None = None
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    message: str = ""
    scope: str = ""
    expires: datetime | None = None
    announced_version: int | None = None  # the IVR version that carries the announcement
    restored_version: int | None = None  # the IVR version that took it out
    menu_before: str = ""  # the menu text the announcement went into (restored as it was, flat mode too)
    menu_announced: str = ""
    closed_at: datetime | None = None
    close_reason: str = ""
    history: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, who, what)

    def move(self, move: Move, at: datetime, by: str, note: str = "") -> None:
        self.state = next_state(self.state, move)
        self.history.append((at, by, f"{move}: {note}" if note else str(move)))

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"number": self.number, "state": str(self.state), "candidate": self.candidate.to_json(),
                "opened": iso(self.opened), "confirmed_by": self.confirmed_by,
                "confirmed_at": iso(self.confirmed_at), "message": self.message, "scope": self.scope,
                "expires": iso(self.expires), "announced_version": self.announced_version,
                "restored_version": self.restored_version, "closed_at": iso(self.closed_at),
                "close_reason": self.close_reason,
                "history": [{"at": t.isoformat(), "by": by, "what": what} for t, by, what in self.history]}

    def to_record(self) -> dict[str, Any]:
        """What incidents/journal.py keeps: the JSON and the menu texts (so closing after a restart still
        puts a flat menu back as it was)."""
        return self.to_json() | {"menu_before": self.menu_before, "menu_announced": self.menu_announced}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Incident:
        """Back from ``to_record`` (or ``to_json``: then closing takes the announcement nodes out of the
        menu as it is)."""
        def when(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(int(d["number"]), CandidateView.from_json(d["candidate"]), State(d["state"]),
                   opened=when(d["opened"]), confirmed_by=str(d["confirmed_by"]),
                   confirmed_at=when(d["confirmed_at"]), message=str(d["message"]), scope=str(d["scope"]),
                   expires=when(d["expires"]), announced_version=d["announced_version"],
                   restored_version=d["restored_version"], closed_at=when(d["closed_at"]),
                   close_reason=str(d["close_reason"]), menu_before=str(d.get("menu_before", "")),
                   menu_announced=str(d.get("menu_announced", "")),
                   history=[(datetime.fromisoformat(h["at"]), str(h["by"]), str(h["what"])) for h in d["history"]])
