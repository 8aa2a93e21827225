"""The record of one ended call, as the daemon builds it when the caller hangs up.

Pure data: no database, no clock. The store maps it to a table row; the writer spools it as
one JSON line when the database is away; the KPI arithmetic in metrics/ reads it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any


class RecordError(ValueError):
    """A call record that contradicts itself (times out of order, outcome without its facts)."""


class Outcome(enum.StrEnum):
    """How a call ended: its one outcome, for the ACD (queueing/callstate.py ``ACD_OUTCOMES``) and the records
    (``RECORD_OUTCOMES``). The values are what the database and the reports store."""

    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"  # hung up before the IVR chose a queue
    ABANDONED_QUEUE = "abandoned_queue"  # hung up while waiting in a queue
    ABANDONED_RINGING = "abandoned_ringing"  # hung up while an agent's phone rang
    FAILED = "failed"  # the call could not be handled (e.g. channel error)
    FALLBACK = "fallback"  # handed to Asterisk's own Queue() (AGI failed, hold too long, ACD fallback)
    # The ACD's ways of giving a waiting call up; the call's record says FALLBACK.
    OVERFLOWED = "overflowed"  # fallback kind "overflow"
    FALLBACK_VOICEMAIL = "fallback_voicemail"
    FALLBACK_CALLBACK = "fallback_callback"  # the caller is offered a call back and leaves the queue


#: the outcomes a call record holds, in the order reports list them
RECORD_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.ANSWERED, Outcome.ABANDONED_IVR, Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING, Outcome.FAILED,
    Outcome.FALLBACK,
)
ABANDONED_STAGES: dict[Outcome, str] = {
    Outcome.ABANDONED_IVR: "ivr",
    Outcome.ABANDONED_QUEUE: "queue",
    Outcome.ABANDONED_RINGING: "ringing",
}

TIME_FIELDS = ("entered_at", "queued_at", "offered_at", "answered_at", "ended_at")

# Durations are floats in seconds; a little slack absorbs rounding when the daemon computes them.
_SLACK = 1e-3


@dataclass(frozen=True, slots=True)
class CallRecordData:
    call_id: str  # Uniqueid of the caller channel
    linkedid: str
    caller_number: str
    caller_name: str
    channel: str
    ivr_path: str  # e.g. 'welcome>main:2'
    language: str
    queue: str | None
    agent_id: str | None
    entered_at: datetime
    queued_at: datetime | None
    offered_at: datetime | None  # first offer to an agent
    answered_at: datetime | None
    ended_at: datetime
    wait_seconds: float | None  # queued -> answered, or queued -> end when not answered
    talk_seconds: float | None
    offers: int  # how many agents were rung
    outcome: Outcome
    hangup_cause: int | None = None
    satisfaction: int | None = None  # the after-call survey's score (回访评价), None: not asked or no answer
    ivr_steps: str = ""  # JSON [[node, digits or branch, seconds from IVR start], ...] (ivr/interpreter.py)
    #: handled by Asterisk's own queue ([cc-fallback], app_queue): answered or abandoned there (由备用队列接听)
    fallback_queue: bool = False
    pbx: str = "main"  # the Asterisk server the call came in on (config ``pbxs``; docs/scale.md)

    def __post_init__(self) -> None:
        if not self.call_id:
            raise RecordError("call_id is empty")
        if self.satisfaction is not None and not 0 <= self.satisfaction <= 100:
            raise RecordError(f"satisfaction {self.satisfaction} is outside 0..100")
        if not isinstance(self.outcome, Outcome):
            try:
                object.__setattr__(self, "outcome", Outcome(self.outcome))
            except ValueError:
                raise RecordError(f"unknown outcome {self.outcome!r}") from None
        if self.outcome not in RECORD_OUTCOMES:
            raise RecordError(f"{self.outcome.value!r} is the ACD's outcome, not a record's (it records 'fallback')")
        self._check_times()
        self._check_outcome()

    def _check_times(self) -> None:
        for name in TIME_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
                raise RecordError(f"{name} must be a timezone-aware UTC datetime, got {value!r}")
        # Each stage happens no earlier than the one before it; skipped stages are None.
        last_name, last = "entered_at", self.entered_at
        for name in ("queued_at", "offered_at", "answered_at", "ended_at"):
            value = getattr(self, name)
            if value is None:
                continue
            if value < last:
                raise RecordError(f"{name} ({value.isoformat()}) is before {last_name} ({last.isoformat()})")
            last_name, last = name, value
        if self.offered_at is not None and self.queued_at is None:
            raise RecordError("offered_at is set but the call was never queued")
        if self.answered_at is not None and self.offered_at is None:
            raise RecordError("answered_at is set but the call was never offered")
        for name in ("wait_seconds", "talk_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RecordError(f"{name} is negative")
        if self.offers < 0:
            raise RecordError("offers is negative")
        if (self.queued_at is None) != (self.wait_seconds is None):
            raise RecordError("wait_seconds is set exactly when the call was queued")
        if self.queued_at is not None and self.wait_seconds is not None:
            wait_end = self.answered_at or self.ended_at
            expected = (wait_end - self.queued_at).total_seconds()
            if abs(expected - self.wait_seconds) > max(_SLACK, 1e-6 * expected):
                raise RecordError(f"wait_seconds {self.wait_seconds} disagrees with the times ({expected})")

    def _check_outcome(self) -> None:
        o = self.outcome
        if o is Outcome.ANSWERED:
            if self.answered_at is None or not self.agent_id:
                raise RecordError("an answered call needs answered_at and agent_id")
            if self.queue is None:
                raise RecordError("an answered call needs its queue")
        elif self.answered_at is not None:
            raise RecordError(f"outcome {o.value} but answered_at is set")
        if o is Outcome.ABANDONED_IVR and self.queued_at is not None:
            raise RecordError("abandoned in the IVR but queued_at is set")
        if o in (Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING) and self.queued_at is None:
            raise RecordError(f"{o.value} needs queued_at")
        if o is Outcome.ABANDONED_RINGING and self.offered_at is None:
            raise RecordError("abandoned while ringing needs offered_at")
        if self.queued_at is not None and self.queue is None:
            raise RecordError("queued_at is set but queue is None")

    @property
    def reached_queue(self) -> bool:
        """Offered to the centre: the call reached a queue (the connection-rate denominator)."""
        return self.queued_at is not None

    @property
    def attributed_at(self) -> datetime:
        """The instant a call counts at in a day or interval: when it joined a queue, else when it came in.

        A call queued at 23:59 and answered at 00:01 belongs to the day it was queued on.
        """
        return self.queued_at if self.queued_at is not None else self.entered_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 with offset); `from_dict` reverses it exactly."""
        out = asdict(self)
        for name in TIME_FIELDS:
            value = out[name]
            out[name] = value.isoformat() if value is not None else None
        out["outcome"] = self.outcome.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecordData:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise RecordError(f"unknown fields {sorted(unknown)}")
        values = dict(data)
        for name in TIME_FIELDS:
            raw = values.get(name)
            values[name] = datetime.fromisoformat(raw) if raw is not None else None
        return cls(**values)
