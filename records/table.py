"""The `call_records` table (SQLModel) and the mapping to and from `CallRecordData`.

The primary key is the call id, so a replayed or duplicated record can never make a second row:
the store inserts with ON CONFLICT (call_id) DO NOTHING.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from records.model import CallRecordData, Outcome


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant. TIMESTAMPTZ on PostgreSQL; on SQLite (no time zones) it is stored as naive
    UTC text in one fixed format, so text order is time order, and it comes back tz-aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CallRecordRow(SQLModel, table=True):
    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_caller_ended", "caller_number", "ended_at"),
        Index("ix_call_records_ended", "ended_at"),
        Index("ix_call_records_queue_ended", "queue", "ended_at"),
    )

    call_id: str = Field(primary_key=True, max_length=64)
    linkedid: str = Field(max_length=64)
    caller_number: str = Field(max_length=64)
    caller_name: str = Field(default="", max_length=128)
    channel: str = Field(max_length=128)
    ivr_path: str = Field(default="", max_length=255)
    language: str = Field(default="", max_length=16)
    queue: str | None = Field(default=None, max_length=64)
    agent_id: str | None = Field(default=None, max_length=64)
    entered_at: datetime = Field(sa_type=UTCDateTime)
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    offered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime = Field(sa_type=UTCDateTime)
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    offers: int = 0
    # Plain text, not a database enum: a new outcome then needs no ALTER TYPE migration.
    outcome: str = Field(sa_type=String(24))
    hangup_cause: int | None = None
    satisfaction: int | None = None
    ivr_steps: str = Field(default="", sa_type=Text)
    fallback_queue: bool = False
    pbx: str = Field(default="main", max_length=32)


def to_row(rec: CallRecordData) -> dict[str, Any]:
    """Column values for one insert (the dict form suits Core executemany)."""
    row = rec.to_dict()
    for name in ("entered_at", "queued_at", "offered_at", "answered_at", "ended_at"):
        row[name] = getattr(rec, name)
    return row


def from_row(row: Any) -> CallRecordData:
    """A `CallRecordData` from a result row or `CallRecordRow` (anything with the column attributes)."""
    return CallRecordData(
        call_id=row.call_id,
        linkedid=row.linkedid,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        channel=row.channel,
        ivr_path=row.ivr_path,
        language=row.language,
        queue=row.queue,
        agent_id=row.agent_id,
        entered_at=row.entered_at,
        queued_at=row.queued_at,
        offered_at=row.offered_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        wait_seconds=row.wait_seconds,
        talk_seconds=row.talk_seconds,
        offers=row.offers,
        outcome=Outcome(row.outcome),
        hangup_cause=row.hangup_cause,
        satisfaction=row.satisfaction,
        ivr_steps=row.ivr_steps or "",
        fallback_queue=bool(row.fallback_queue),
        pbx=row.pbx or "main",
    )
