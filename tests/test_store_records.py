"""CallRecordData: validation and the JSON round trip the spool relies on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from records.model import RECORD_OUTCOMES, CallRecordData, Outcome, RecordError
from records.testing import make_record

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("outcome", list(RECORD_OUTCOMES))
def test_every_outcome_builds_and_round_trips(outcome: Outcome) -> None:
    rec = make_record("c1", outcome, entered_at=T0)
    again = CallRecordData.from_dict(rec.to_dict())
    assert again == rec
    assert again.outcome is outcome
    assert again.ended_at.tzinfo is not None


def test_answered_needs_agent_and_answer_time() -> None:
    rec = make_record("c1", entered_at=T0)
    with pytest.raises(RecordError, match="agent_id"):
        dataclasses.replace(rec, agent_id=None)
    with pytest.raises(RecordError):
        dataclasses.replace(rec, answered_at=None)


def test_times_must_be_ordered() -> None:
    rec = make_record("c1", entered_at=T0)
    with pytest.raises(RecordError, match="before"):
        assert rec.answered_at is not None
        dataclasses.replace(rec, ended_at=rec.answered_at - timedelta(seconds=1))
    with pytest.raises(RecordError, match="before"):
        dataclasses.replace(rec, queued_at=T0 - timedelta(seconds=1))


def test_times_must_be_utc_aware() -> None:
    rec = make_record("c1", "abandoned_ivr", entered_at=T0)
    with pytest.raises(RecordError, match="UTC"):
        dataclasses.replace(rec, entered_at=T0.replace(tzinfo=None))
    with pytest.raises(RecordError, match="UTC"):
        dataclasses.replace(rec, entered_at=T0.astimezone(timezone(timedelta(hours=8))))


def test_wait_must_match_the_times() -> None:
    rec = make_record("c1", "abandoned_queue", entered_at=T0, wait=30)
    with pytest.raises(RecordError, match="wait_seconds"):
        dataclasses.replace(rec, wait_seconds=12.0)


def test_not_answered_outcomes_carry_no_answer_time() -> None:
    rec = make_record("c1", entered_at=T0)
    with pytest.raises(RecordError, match="answered_at"):
        dataclasses.replace(rec, outcome=Outcome.ABANDONED_QUEUE)


def test_outcome_from_string_and_unknown() -> None:
    rec = make_record("c1", entered_at=T0)
    assert dataclasses.replace(rec, outcome="answered").outcome is Outcome.ANSWERED  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="unknown outcome"):
        dataclasses.replace(rec, outcome="lost")  # type: ignore[arg-type]


def test_from_dict_rejects_unknown_fields() -> None:
    data = make_record("c1", entered_at=T0).to_dict()
    data["surprise"] = 1
    with pytest.raises(RecordError, match="surprise"):
        CallRecordData.from_dict(data)
