"""One incident, many callers (同源件): tickets about the incident are linked to it, dispatched once,
answered once, and every caller is followed up (回访) with that one answer.

- ``suggest``: open tickets that look like the incident (its topic, or a place the incident names found
  in the ticket's place fields or text) and are not linked yet: the desk shows them, one click links.
- ``link``: the first ticket linked leads (主件); the others follow it (同源件) and stay accepted.
- ``dispatch``: the lead alone goes to the department (one 派单 for the whole incident).
- ``answer_all``: once the department resolved the lead, each follower is answered with the lead's
  reply (``answer``: resolved, due for its own follow-up), so every caller hears the same answer.
- ``report``: the month's incidents, each counted once with all its callers; the month's tickets as
  distinct matters (an incident's tickets count as one).

The links live in one table beside the tickets (``incident_tickets``), written through the same store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, UniqueConstraint, select

from incidents.places import Gazetteer, extract_places
from records.table import UTCDateTime  # times stored in UTC, read back aware
from tickets.access import Role, Viewer

META = MetaData()
LINKS = Table(
    "incident_tickets", META,
    Column("id", Integer, primary_key=True),
    Column("incident", String(120), nullable=False, index=True),  # the incident's key (detector candidate id)
    Column("what", String(64), nullable=False, default=""),
    Column("where", String(128), nullable=False, default=""),
    Column("ticket", String(40), nullable=False),
    Column("lead", Boolean, nullable=False, default=False),
    Column("linked_by", String(64), nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    UniqueConstraint("ticket", name="uq_incident_tickets_ticket"),  # a ticket belongs to one incident
)


class SourceError(ValueError):
    """A link or a step the incident's tickets do not allow; ``slug`` names it for the web edge."""

    def __init__(self, slug: str, detail: str) -> None:
        self.slug = slug
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class IncidentRef:
    key: str
    what: str
    where: str


def looks_like(ref: IncidentRef, ticket: Any, gazetteer: Gazetteer | None = None) -> bool:
    """The ticket is about the incident: same topic, or it names the incident's place (pure)."""
    if ref.what and ref.what in (ticket.topic, ticket.category):
        return True
    if not ref.where:
        return False
    fields = " ".join(str(getattr(ticket, f, "") or "") for f in ("township", "address", "title", "content"))
    return ref.where in fields or ref.where in extract_places(fields, gazetteer, segmenter=False)


class IncidentTickets:
    def __init__(self, service: Any) -> None:
        self.service = service  # tickets.service.TicketService
        self.engine = service.store.engine
        META.create_all(self.engine, tables=[LINKS])
        self.desk = Viewer(Role.SUPERVISOR, user="incident-desk")

    def links(self, key: str) -> list[tuple[str, bool]]:
        """(ticket number, lead) of the incident, lead first, then in linking order."""
        query = select(LINKS.c.ticket, LINKS.c.lead).where(LINKS.c.incident == key).order_by(
            LINKS.c.lead.desc(), LINKS.c.id)
        with self.engine.connect() as conn:
            return [(str(t), bool(lead)) for t, lead in conn.execute(query)]

    def lead(self, key: str) -> str:
        found = [t for t, lead in self.links(key) if lead]
        if not found:
            raise SourceError("no_tickets", f"incident {key} has no ticket yet")
        return found[0]

    def suggest(self, ref: IncidentRef, since: datetime, until: datetime, gazetteer: Gazetteer | None = None,
                ) -> list[str]:
        """Open, unlinked tickets created in [since, until) that look like the incident."""
        with self.engine.connect() as conn:
            linked = {str(t) for (t,) in conn.execute(select(LINKS.c.ticket))}
        found = self.service.query(self.desk, since=since, until=until, limit=5000)
        return [t.number for t in found if t.is_open and t.number not in linked and looks_like(ref, t, gazetteer)]

    def incidents_for(self, number: str, refs: Iterable[IncidentRef], gazetteer: Gazetteer | None = None,
                      ) -> list[IncidentRef]:
        """The incidents an open, unlinked ticket looks like (the desk's 同源件 suggestion for it)."""
        ticket = self.service.get(number, self.desk)
        with self.engine.connect() as conn:
            taken = conn.execute(select(LINKS.c.id).where(LINKS.c.ticket == number)).first() is not None
        if taken or not ticket.is_open:
            return []
        return [ref for ref in refs if looks_like(ref, ticket, gazetteer)]

    def link(self, ref: IncidentRef, number: str, by: str, at: datetime) -> bool:
        """Link one ticket (the desk's one click); True if it became the lead."""
        ticket = self.service.get(number, self.desk)
        if not ticket.is_open:
            raise SourceError("ticket_closed", f"ticket {number} is {ticket.state}")
        with self.engine.begin() as conn:
            taken = conn.execute(select(LINKS.c.incident).where(LINKS.c.ticket == number)).scalar_one_or_none()
            if taken is not None:
                raise SourceError("already_linked", f"ticket {number} belongs to incident {taken}")
            first = conn.execute(select(LINKS.c.id).where(LINKS.c.incident == ref.key).limit(1)).first() is None
            conn.execute(LINKS.insert().values(incident=ref.key, what=ref.what, where=ref.where, ticket=number,
                                               lead=first, linked_by=by, linked_at=at))
        return first

    def dispatch(self, key: str, department: str, by: str, at: datetime) -> str:
        """The lead alone is dispatched; its followers wait for its answer. Returns the lead's number."""
        lead = self.lead(key)
        self.service.transition(lead, "dispatch", Viewer(Role.SUPERVISOR, user=by), at, department=department,
                                note=f"同源件主件 / lead of incident {key}: {len(self.links(key))} callers")
        return lead

    def answer_all(self, key: str, at: datetime) -> list[str]:
        """Answer every follower with the lead's reply once the lead is resolved; returns those answered."""
        lead = self.service.get(self.lead(key), self.desk)
        if not lead.reply:
            raise SourceError("lead_not_answered", f"the lead ticket {lead.number} has no reply yet")
        done = []
        for number, is_lead in self.links(key):
            if is_lead or self.service.get(number, self.desk).state != "accepted":
                continue
            self.service.transition(number, "answer", self.desk, at,
                                    note=f"同源件，答复同主件 {lead.number}：{lead.reply}")
            done.append(number)
        return done

    def report(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Incidents with tickets created in [since, until): each once, with its callers; tickets as matters."""
        tickets = self.service.query(self.desk, since=since, until=until, limit=100_000)
        numbers = {t.number: t for t in tickets}
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(LINKS.c.incident, LINKS.c.what, LINKS.c.where, LINKS.c.ticket)
                                     .order_by(LINKS.c.id)))
        incidents: dict[str, dict[str, Any]] = {}
        for key, what, where, number in rows:
            if number not in numbers:
                continue
            t = numbers[number]
            entry = incidents.setdefault(key, {"incident": key, "what": what, "where": where, "tickets": 0,
                                               "callers": set(), "followed_up": 0, "dispatched": 0})
            entry["tickets"] += 1
            entry["callers"].add(t.caller_number or number)
            entry["followed_up"] += t.state in ("followed_up", "closed")
            entry["dispatched"] += t.dispatched_at is not None
        out = [{**e, "callers": len(e["callers"])} for e in incidents.values()]
        linked = sum(e["tickets"] for e in out)
        return {"incidents": out, "tickets": len(tickets),
                "matters": len(tickets) - linked + len(out)}


def follow_up_all(service: Any, numbers: Iterable[str], satisfaction: dict[str, str], at: datetime) -> int:
    """Record each caller's follow-up answer (回访); returns how many were recorded."""
    count = 0
    for number in numbers:
        if number in satisfaction:
            service.record_follow_up(number, satisfaction[number], at, note="同源件回访")
            count += 1
    return count
