"""SMS follow-up replies (回访) over real HTTP into the running daemon: POST /twilio/sms signed with twilio's own
RequestValidator; a bad signature is refused (403) and counted; a digit lands on the sender's ticket
awaiting a reply, an unsatisfied one reopens it to its department; TwiML answers. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from callcenter.web.twilio import caller_forms
from config.loader import load_config
from records.testing import database_url
from tests.pair import EXAMPLE, running_pair
from tickets.access import Role, Viewer
from tickets.service import TicketDraft, TicketService
from tickets.settings import TwilioConfig

TOKEN = "5f3c1e0d9b8a7f6e5d4c3b2a19081726"
WEBHOOK = "https://hotline.example.gov.cn/twilio/sms"
AGENT = Viewer(Role.AGENT, user="1001")
SUP = Viewer(Role.SUPERVISOR, user="s1")
UNIT = Viewer.for_department("city.cgj")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def awaiting_reply(svc: TicketService, caller: str, at: Any) -> str:
    """A resolved ticket whose follow-up SMS went out (one attempt counted)."""
    number = svc.create(TicketDraft(category="help", content="小区路灯不亮", caller_number=caller, county="xihu"),
                        AGENT, at).number
    svc.transition(number, "dispatch", AGENT, at, department="city.cgj")
    svc.transition(number, "sign", UNIT, at)
    svc.transition(number, "resolve", UNIT, at, note="已修复")
    svc.follow_up_attempted(number, at)
    return number


def signed(params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(WEBHOOK, params)}


def test_sender_number_forms() -> None:
    assert caller_forms("+8613900001111") == ["+8613900001111", "8613900001111", "13900001111"]
    assert caller_forms("13900001111") == ["13900001111"]


async def test_sms_replies_reach_the_ticket(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    cfg = load_config(EXAMPLE, environ={})
    twilio = TwilioConfig(account_sid="AC" + "0" * 32, auth_token=SecretStr(TOKEN), from_number="+8612345",
                          webhook_url=WEBHOOK)
    cfg = cfg.model_copy(update={"tickets": cfg.tickets.model_copy(update={"twilio": twilio})})
    async with running_pair(tmp_path, database=db_url, cfg=cfg) as pair:
        daemon = pair.daemon
        svc = daemon.tickets
        at = pair.clock.now() - timedelta(days=1)
        unhappy = await asyncio.to_thread(awaiting_reply, svc, "13900001111", at)
        happy = await asyncio.to_thread(awaiting_reply, svc, "13900002222", at)
        url = f"http://127.0.0.1:{daemon.web_port}/twilio/sms"
        reply = {"From": "+8613900001111", "To": "+8612345", "Body": "3", "MessageSid": "SM" + "1" * 32}
        async with httpx.AsyncClient(timeout=10) as http:
            forged = await http.post(url, data=reply, headers=signed(reply, token="f" * 32))
            other_body = await http.post(url, data={**reply, "Body": "1"}, headers=signed(reply))
            assert (forged.status_code, other_body.status_code) == (403, 403)
            assert forged.json()["error"] == "bad_signature" and daemon.sms_replies.refused == 2
            assert (await asyncio.to_thread(svc.get, unhappy, SUP)).state.value == "resolved"  # untouched

            answered = await http.post(url, data=reply, headers=signed(reply))
            assert answered.status_code == 200 and answered.headers["content-type"].startswith("application/xml")
            assert f"<Message>感谢您的评价，您的工单{unhappy}已退回承办单位重新办理。</Message>" in answered.text
            again = await http.post(url, data=reply, headers=signed(reply))  # a repeated reply: nothing waits
            assert "未找到等待您评价的工单" in again.text

            garbled = {**reply, "From": "+8613900002222", "Body": "好"}
            assert "请回复数字评价" in (await http.post(url, data=garbled, headers=signed(garbled))).text
            fine = {**garbled, "Body": "１"}  # a full-width digit from a Chinese keyboard
            assert "<Message>感谢您的评价。</Message>" in (await http.post(url, data=fine, headers=signed(fine))).text

        replies = daemon.sms_replies
        assert (replies.refused, replies.invalid, replies.unmatched, replies.recorded) == (2, 1, 1, 2)
        reopened = await asyncio.to_thread(svc.get, unhappy, SUP)
        assert (reopened.state.value, reopened.satisfaction, reopened.department) == (
            "in_progress", "unsatisfied", "city.cgj")
        last = (await asyncio.to_thread(svc.history, unhappy, SUP))[-1]
        assert (last.action, last.note) == ("follow_up_unsatisfied", "SMS reply")
        kept = await asyncio.to_thread(svc.get, happy, SUP)
        assert (kept.state.value, kept.satisfaction) == ("followed_up", "satisfied")
    assert TOKEN not in caplog.text and TOKEN not in repr(replies)
    assert "Twilio SMS reply from 127.0.0.1 refused: bad signature" in caplog.text
