"""The reports' `TicketSource` over the real ticket store (tickets/tables.py), read-only.

How a stored ticket reads as a `TicketRow` (the ranking's words against the workflow's):
- category, topic, district (county) and department are the configured names in the report's language
  (the store keeps codes; a code the config no longer knows is shown as it is);
- "closed" is the department's 办结 (`resolved_at`): on-time closure is resolved by the due time. An
  unsatisfied follow-up reopens a ticket, which is then no longer resolved;
- "replied" is a reply given to the citizen (`reply` not empty, at `resolved_at`, else the last change);
- satisfaction is the follow-up's answer; `unreached` counts as not surveyed;
- merged duplicates (重复件) are left out: the ticket they were merged into counts once.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from callcenter.reports.tickets import SATISFACTION, Ticket
from tickets.settings import walk_topics
from tickets.tables import Ticket as TicketModel
from tickets.tables import TicketCall

T = TicketModel.__table__  # type: ignore[attr-defined]
CALLS = TicketCall.__table__  # type: ignore[attr-defined]


class Names:
    """Codes -> names in one language, from the config's tickets section and department directory."""

    def __init__(self, categories: dict[str, str], topics: dict[str, str], units: dict[str, str]) -> None:
        self.categories, self.topics, self.units = categories, topics, units

    @classmethod
    def from_config(cls, cfg: Any, language: str, base_dir: str | Path | None = None) -> Names:
        from tickets import departments

        categories = {c.code: c.name.get(language) for c in cfg.tickets.categories}
        # The leaf's own name (出租车网约车), not the path (交通出行 / 出租车网约车): a topic reads on its own.
        topics = {code: label.rsplit(" / ", 1)[-1] for code, label in walk_topics(cfg.tickets.topics, language)}
        directory = departments.load(cfg.tickets, base_dir if base_dir is not None else departments.CONFIG_DIR)
        units = {d.code: d.name(language) for d in directory}
        return cls(categories, topics, units)


class StoreTicketSource:
    def __init__(self, engine: Engine, names: Names) -> None:
        self.engine = engine
        self.names = names

    def tickets(self, since: datetime, until: datetime) -> list[Ticket]:
        """Tickets created in [since, until), oldest first."""
        first_call = (select(func.min(CALLS.c.call_id)).where(CALLS.c.ticket_id == T.c.id)
                      .correlate(T).scalar_subquery())
        query = (select(T.c.number, T.c.created_at, T.c.category, T.c.topic, T.c.county, T.c.department,
                        T.c.content, T.c.due_at, T.c.resolved_at, T.c.reply, T.c.updated_at, T.c.satisfaction,
                        first_call.label("call_id"))
                 .where(T.c.created_at >= since, T.c.created_at < until, T.c.merged_into.is_(None))
                 .order_by(T.c.created_at, T.c.number))
        n = self.names
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [Ticket(
            ticket_id=r.number, call_id=r.call_id, created_at=r.created_at,
            category=n.categories.get(r.category, r.category), topic=n.topics.get(r.topic, r.topic),
            district=n.units.get(r.county, r.county), department=n.units.get(r.department, r.department or ""),
            content=r.content, due_at=r.due_at, closed_at=r.resolved_at,
            replied_at=(r.resolved_at or r.updated_at) if r.reply.strip() else None,
            satisfaction=r.satisfaction if r.satisfaction in SATISFACTION else None,
        ) for r in rows]
