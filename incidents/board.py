"""The incidents a centre is handling: the detector's candidates, the supervisor's confirm / dismiss /
close, and the IVR announcement each confirmed incident carries (saved as a new, audited IVR version and
taken out again, as a newer version, when the incident closes or expires).

The board does no I/O of its own: times arrive as arguments; the menu store is given (``MenuStore``,
the daemon's ``IvrService``); anyone interested (MQTT, the wallboard's stream) registers a listener
and gets each incident's JSON when it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from incidents.announce import AnnounceError, Announcement, add, announcements_in, remove
from incidents.detect import CandidateNews, Detector, Signal
from incidents.model import Incident, IncidentError, Move, State, next_state

log = logging.getLogger(__name__)

MAX_EXPIRY = timedelta(hours=24)


class MenuStore(Protocol):
    def current(self) -> Any: ...  # .number, .text

    def save(self, text: str, author: str, note: str = "") -> Any: ...  # raises ivr.versions.MenuRejected


class IncidentBoard:
    def __init__(self, detector: Detector, menus: MenuStore | None = None, language: str = "zh") -> None:
        self.detector = detector
        self.menus = menus
        self.language = language
        self.incidents: dict[int, Incident] = {}
        self.last_number = 0  # numbers are never reused: the menu's announcement nodes carry them
        self.by_candidate: dict[str, int] = {}
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.dropped = 0  # signals refused as malformed

    # -- the detector's side --------------------------------------------------------------------------

    def observe(self, signal: Signal) -> list[Incident]:
        """Feed one call's early facts; returns the incidents that opened or changed."""
        return self._apply(self.detector.handle(signal), signal.at)

    def tick(self, now: datetime) -> list[Incident]:
        """Quiet candidates are dismissed; confirmed incidents past their expiry close (menu restored)."""
        changed = self._apply(self.detector.tick(now), now)
        for incident in list(self.incidents.values()):
            if incident.state is State.CONFIRMED and incident.expires is not None and now >= incident.expires:
                self._end(incident, Move.EXPIRE, now, "system", "expired")
                changed.append(incident)
        return changed

    def _apply(self, news: list[CandidateNews], at: datetime) -> list[Incident]:
        changed: list[Incident] = []
        for item in news:
            number = self.by_candidate.get(item.candidate.id)
            if number is None:
                if item.kind != "opened":
                    continue
                self.last_number = number = max(self.last_number, *self.incidents, 0) + 1
                self.by_candidate[item.candidate.id] = number
                self.incidents[number] = Incident(number, item.candidate, opened=at)
                log.warning("incident candidate %d: %s at %s, %d calls since %s", number, item.candidate.what,
                            item.candidate.where, item.candidate.calls, item.candidate.since.isoformat())
            incident = self.incidents[number]
            incident.candidate = item.candidate
            if item.kind == "quiet" and incident.state is State.CANDIDATE:
                incident.move(Move.QUIET, at, "system", "the burst ended before anyone confirmed it")
            changed.append(incident)
            self._tell(incident)
        return changed

    def restore(self, incidents: list[Incident], last_number: int) -> None:
        """Put incidents kept across a restart back (incidents/journal.py); numbering goes on after theirs."""
        for incident in incidents:
            self.incidents[incident.number] = incident
            self.by_candidate[incident.candidate.id] = incident.number
        self.last_number = max(self.last_number, last_number, *self.incidents, 0)

    # -- the supervisor's side ------------------------------------------------------------------------

    def get(self, number: int) -> Incident:
        try:
            return self.incidents[number]
        except KeyError:
            raise IncidentError("no_such_incident", f"no incident {number}") from None

    def confirm(self, number: int, by: str, at: datetime, *, message: str = "", scope: str = "all",
                expires_in: timedelta = timedelta(hours=2)) -> Incident:
        """Confirm; with a message, the IVR announces it from the next call on (a new IVR version)."""
        incident = self.get(number)
        next_state(incident.state, Move.CONFIRM)  # refuse before the menu changes
        if not timedelta(minutes=5) <= expires_in <= MAX_EXPIRY:
            raise IncidentError("bad_expiry", "an announcement lasts from 5 minutes to 24 hours")
        version = None
        if message.strip():
            version = self._announce(incident, Announcement(number, message, scope), by, at)
        incident.move(Move.CONFIRM, at, by, message.strip())
        incident.confirmed_by, incident.confirmed_at = by, at
        incident.message, incident.scope = message.strip(), scope if message.strip() else ""
        incident.expires = at + expires_in
        incident.announced_version = version
        self._tell(incident)
        return incident

    def dismiss(self, number: int, by: str, at: datetime, note: str = "") -> Incident:
        incident = self.get(number)
        incident.move(Move.DISMISS, at, by, note)
        self._tell(incident)
        return incident

    def close(self, number: int, by: str, at: datetime, note: str = "") -> Incident:
        incident = self.get(number)
        self._end(incident, Move.CLOSE, at, by, note or "closed")
        return incident

    def _announce(self, incident: Incident, a: Announcement, by: str, at: datetime) -> int:
        if self.menus is None:
            raise IncidentError("no_ivr", "this centre's IVR is not run by the daemon")
        current = self.menus.current()
        try:
            text = add(current.text, a, self.language)
        except AnnounceError as exc:
            raise IncidentError("announcement_refused", str(exc)) from None
        saved = self.menus.save(text, by, f"incident {incident.number}: announcement")
        incident.menu_before, incident.menu_announced = current.text, saved.text
        return int(saved.number)

    def _end(self, incident: Incident, move: Move, at: datetime, by: str, note: str) -> None:
        incident.move(move, at, by, note)
        incident.closed_at, incident.close_reason = at, note
        if incident.announced_version is not None and self.menus is not None:
            current = self.menus.current()
            # unchanged since: the menu as it was (a flat menu stays flat); else take out our nodes only
            text = incident.menu_before if current.text == incident.menu_announced else current.text
            if text != current.text or incident.number in announcements_in(text):
                if text == current.text:
                    text = remove(text, incident.number)
                saved = self.menus.save(text, by, f"incident {incident.number} {move}: announcement removed")
                incident.restored_version = int(saved.number)
        self._tell(incident)

    # -- views ---------------------------------------------------------------------------------------

    def active(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.state in (State.CANDIDATE, State.CONFIRMED)]

    def snapshot(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in self.active()]

    def _tell(self, incident: Incident) -> None:
        data = incident.to_json()
        for listener in self.listeners:
            listener(data)
