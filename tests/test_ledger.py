"""The call ledger: facts in any order in, exactly one consistent record out."""

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.ledger import CallLedger
from records.model import Outcome

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def started(ledger: CallLedger, cid: str = "1.1", s: float = 0) -> None:
    ledger.started(cid, at(s), linkedid=cid, channel=f"PJSIP/trunk-{cid}", number="13800000000", name="张三")


def test_answered_call_gives_one_record_with_ordered_times() -> None:
    led = CallLedger()
    started(led)
    led.ivr_finished("1.1", at(5), path="welcome>main:1", queue="general", language="zh")
    assert led.held("1.1", at(6)) is True
    assert led.held("1.1", at(7)) is False  # a second CcHold is not a second queue entry
    led.offered("1.1", "1001", at(8))
    led.dialed("1.1", at(8))
    entry = led.answered("1.1", at(11))
    assert entry is not None and entry.agent_id == "1001"
    assert led.talk_ended("1.1", at(71)) is True
    rec = led.hung_up("1.1", at(90), 16)
    assert rec is not None
    assert rec.outcome is Outcome.ANSWERED
    assert rec.wait_seconds == pytest.approx(5.0)
    assert rec.talk_seconds == pytest.approx(60.0)
    assert rec.offers == 1 and rec.agent_id == "1001" and rec.queue == "general"
    assert led.hung_up("1.1", at(91), 16) is None  # a replayed Hangup writes nothing
    assert len(led) == 0


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [
        ([], Outcome.ABANDONED_IVR),
        (["ivr"], Outcome.ABANDONED_IVR),
        (["ivr", "hold"], Outcome.ABANDONED_QUEUE),
        (["ivr", "hold", "offer"], Outcome.ABANDONED_RINGING),
        (["ivr", "hold", "offer", "fail"], Outcome.ABANDONED_QUEUE),
        (["ivr", "hold", "chosen"], Outcome.ABANDONED_QUEUE),
        (["ivrfail"], Outcome.FAILED),
        (["fallback"], Outcome.FALLBACK),
    ],
)
def test_outcome_by_stage(steps: list[str], outcome: Outcome) -> None:
    led = CallLedger()
    started(led)
    for i, step in enumerate(steps, start=1):
        if step == "ivr":
            led.ivr_finished("1.1", at(i), path="welcome", queue="general", language="zh")
        elif step == "ivrfail":
            led.ivr_finished("1.1", at(i), path="", queue=None, language="zh", failed=True)
        elif step == "hold":
            led.held("1.1", at(i))
        elif step == "offer":
            led.offered("1.1", "1001", at(i))
            led.dialed("1.1", at(i))
        elif step == "chosen":  # the ACD chose an agent but the phone never rang
            led.offered("1.1", "1001", at(i))
        elif step == "fail":
            led.offer_failed("1.1")
        elif step == "fallback":
            led.fell_back("1.1", at(i))
    rec = led.hung_up("1.1", at(30), 16)
    assert rec is not None and rec.outcome is outcome


def test_agi_result_before_channel_event_is_kept() -> None:
    led = CallLedger()
    led.ivr_finished("1.1", at(3), path="welcome>main:2", queue="complaints", language="zh")
    started(led, s=0)
    led.held("1.1", at(4))
    rec = led.hung_up("1.1", at(10), 16)
    assert rec is not None
    assert rec.entered_at == at(0) and rec.queue == "complaints" and rec.ivr_path == "welcome>main:2"
    assert rec.outcome is Outcome.ABANDONED_QUEUE and rec.wait_seconds == pytest.approx(6.0)


def test_failed_record_keeps_what_is_certain() -> None:
    led = CallLedger()
    started(led)
    led.ivr_finished("1.1", at(2), path="welcome", queue="general", language="zh")
    led.held("1.1", at(3))
    rec = led.failed_record("1.1", at(9), 16)
    assert rec is not None and rec.outcome is Outcome.FAILED and rec.queued_at is None
    assert rec.entered_at == at(0) and rec.ended_at == at(9)
    assert led.failed_record("1.1", at(10), 16) is None and len(led) == 0
