"""SMS follow-up replies: X-Twilio-Signature checked offline with twilio's own RequestValidator."""

from __future__ import annotations

import base64
import hashlib
import hmac

from twilio.request_validator import RequestValidator

from tickets.followup import parse_reply, sms_text, verify_twilio_reply

TOKEN = "12345678901234567890123456789012"
URL = "https://hotline.example.cn/api/tickets/sms/reply"
PARAMS = {"From": "+8613900001111", "Body": "3", "MessageSid": "SM" + "0" * 32}


def sign(url: str, params: dict[str, str], token: str) -> str:
    """The signature as Twilio documents it, computed here independently of the library."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_signature_accepted_and_forged_ones_refused() -> None:
    good = sign(URL, PARAMS, TOKEN)
    assert good == RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert verify_twilio_reply(TOKEN, URL, PARAMS, good)
    assert not verify_twilio_reply(TOKEN, URL, PARAMS | {"Body": "1"}, good)  # body changed
    assert not verify_twilio_reply("0" * 32, URL, PARAMS, good)  # other account's token
    assert not verify_twilio_reply(TOKEN, URL, PARAMS, "")


def test_reply_digits() -> None:
    assert [parse_reply(b) for b in ("1", " 2 ", "３", "3 不满意", "12", "", "x")] == [
        "satisfied", "basically_satisfied", "unsatisfied", "unsatisfied", None, None, None]  # full-width ３ too
    assert "12345-20261001-000001" in sms_text("12345-20261001-000001", "zh")
