"""Ticket tables (SQLModel): tickets, their append-only history, linked calls, the daily number counter.

Migration: alembic/versions/v0002_tickets.py (written out by hand, like 0001).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from records.table import UTCDateTime


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("number", name="uq_tickets_number"),
        # The screen-pop: a number's open tickets, newest first (tickets/history.py).
        Index("ix_tickets_caller_open_created", "caller_number", "is_open", "created_at"),
        Index("ix_tickets_department_state", "department", "state"),
        Index("ix_tickets_open_due", "is_open", "due_at"),
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_state_followup", "state", "follow_up_next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40)  # 12345-20261128-000123
    channel: str = Field(max_length=32)
    state: str = Field(sa_type=String(32))
    category: str = Field(max_length=64)
    topic: str = Field(default="", max_length=64)
    caller_number: str = Field(default="", max_length=64)
    caller_name: str = Field(default="", max_length=128)
    contact: str = Field(default="", max_length=255)  # call-back number or address
    county: str = Field(default="", max_length=64)
    township: str = Field(default="", max_length=128)
    address: str = Field(default="", max_length=255)
    title: str = Field(default="", max_length=200)
    content: str = Field(sa_type=Text)
    reply: str = Field(default="", sa_type=Text)  # the department's answer when it resolves
    department: str | None = Field(default=None, max_length=64)  # current handling unit
    confidential: bool = False  # 保密件
    merged_into: str | None = Field(default=None, max_length=40)  # 重复件: the number kept
    is_open: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extension_days: int = 0
    extension_requested_days: int = 0
    reminders: int = 0
    supervised: bool = False
    follow_up_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    follow_up_attempts: int = 0
    satisfaction: str | None = Field(default=None, max_length=32)
    version: int = 1  # optimistic concurrency: every change bumps it


class TicketEvent(SQLModel, table=True):
    """One line of a ticket's history (who, when, what). Only ever inserted."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id")
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    role: str = Field(max_length=32)
    action: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    department: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", sa_type=Text)


class TicketCall(SQLModel, table=True):
    """A call linked to a ticket (the call it was created in, later calls about the same matter)."""

    __tablename__ = "ticket_calls"
    __table_args__ = (Index("ix_ticket_calls_call", "call_id"),)

    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True)
    call_id: str = Field(max_length=64, primary_key=True)


class TicketCounter(SQLModel, table=True):
    """The last sequence number given out on a local day (ticket numbers restart each day)."""

    __tablename__ = "ticket_counters"

    day: str = Field(primary_key=True, max_length=8)  # YYYYMMDD, local
    last: int = 0


TICKET_TABLES: list[Table] = [
    Ticket.__table__, TicketEvent.__table__, TicketCall.__table__, TicketCounter.__table__,  # type: ignore[attr-defined]
]
