"""The menu as TwiML on a Twilio webhook, signed requests checked with twilio's own RequestValidator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from callcenter.ivr_service import IvrService
from callcenter.web.twilio import TwilioIvr, twilio_routes
from config.loader import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
TOKEN = "tw-test-token-0123456789abcdef"
BASE = "https://hotline.example.gov.cn"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def rig(tmp_path, caplog):
    cfg = load_config(EXAMPLE, environ={})
    service = IvrService(cfg, tmp_path, lambda: NOW)
    ivr = TwilioIvr(service, SecretStr(TOKEN), clock=lambda: NOW, language="zh", public_url=BASE)
    app = Starlette(routes=twilio_routes(ivr))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield ivr, client
    assert TOKEN not in caplog.text and TOKEN not in repr(ivr)


async def post(client: httpx.AsyncClient, params: dict[str, str], query: str = "", *, token: str = TOKEN,
         signature: str | None = None):
    url = f"{BASE}/twilio/voice{query}"
    sig = RequestValidator(token).compute_signature(url, params) if signature is None else signature
    return await client.post(f"/twilio/voice{query}", data=params, headers={"X-Twilio-Signature": sig})


CALL = {"CallSid": "CA0001", "From": "+8613900001111", "To": "+8612345"}


async def test_call_walks_the_menu_as_twiml(rig):
    ivr, client = rig
    first = await post(client, CALL)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/xml")
    body = first.text
    # The greeting is said, then the language question is gathered, a timeout redirects back.
    assert '<Say language="cmn-CN">您好，欢迎致电12345政务服务便民热线' in body
    assert '<Gather action="/twilio/voice" finishOnKey="#" input="dtmf" method="POST" numDigits="1" timeout="4">' \
        in body
    assert '<Redirect method="POST">/twilio/voice?event=timeout</Redirect>' in body

    english = (await post(client, {**CALL, "Digits": "2"})).text
    assert '<Say language="en-US">Enquiries 1, complaints 2' in english

    queued = (await post(client, {**CALL, "Digits": "2"})).text
    assert queued.endswith("<Enqueue>complaints</Enqueue></Response>")
    assert "CA0001" not in ivr.runs and ivr.results[-1].path_text() == "welcome>language:2>hours=main>main:2"


async def test_timeouts_and_emergency_transfer(rig):
    _, client = rig
    call = {**CALL, "CallSid": "CA0002"}
    await post(client, call)
    after_timeout = (await post(client, call, "?event=timeout")).text  # no key: stays zh, main menu
    assert "咨询请按1" in after_timeout
    emergency = (await post(client, {**call, "Digits": "5"})).text
    assert "报警请按1" in emergency
    dial = (await post(client, {**call, "Digits": "1"})).text
    assert "<Say language=\"cmn-CN\">正在为您转接110。</Say><Dial>110</Dial>" in dial


async def test_message_is_recorded(rig):
    _, client = rig
    call = {**CALL, "CallSid": "CA0003"}
    await post(client, call)
    await post(client, {**call, "Digits": "1"})
    record = (await post(client, {**call, "Digits": "9"})).text
    assert '<Record action="/twilio/voice?event=recorded" finishOnKey="#" maxLength="120"' in record
    bye = (await post(client, call, "?event=recorded")).text
    assert bye.endswith("<Hangup /></Response>") and "您的留言已收到" in bye


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", "forged"])
async def test_bad_signature_is_refused(rig, signature):
    ivr, client = rig
    response = await post(client, CALL, signature=signature)
    assert response.status_code == 403 and response.json()["error"] == "bad_signature"
    assert ivr.refused == 1 and not ivr.runs


async def test_signature_with_another_token_or_changed_params_is_refused(rig):
    ivr, client = rig
    assert (await post(client, CALL, token="someone-elses-token")).status_code == 403
    good = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/voice", CALL)
    tampered = await client.post("/twilio/voice", data={**CALL, "From": "+8613800000000"},
                           headers={"X-Twilio-Signature": good})
    assert tampered.status_code == 403
    assert ivr.refused == 2


async def test_status_callback_ends_the_run_as_abandoned(rig):
    ivr, client = rig
    await post(client, CALL)
    params = {"CallSid": "CA0001", "CallStatus": "completed"}
    sig = RequestValidator(TOKEN).compute_signature(f"{BASE}/twilio/status", params)
    response = await client.post("/twilio/status", data=params, headers={"X-Twilio-Signature": sig})
    assert response.status_code == 204
    assert not ivr.runs and ivr.results[-1].abandoned
