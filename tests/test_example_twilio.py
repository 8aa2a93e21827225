"""The example config documents the optional `twilio:` sections (voice webhooks; SMS follow-ups): commented
out, and valid as written once uncommented, with the secrets from the environment; docs/twilio.md names
every key."""

from __future__ import annotations

import re
from pathlib import Path

from config.loader import load_config
from config.models import TwilioConfig
from tickets.settings import TwilioConfig as SmsConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
ENV = {"CALLCENTER_TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
       "CALLCENTER_TWILIO_ACCOUNT_SID": "AC" + "0" * 32}


def uncommented(text: str, indent: str) -> str:
    """The text with the `twilio:` block at `indent` (and its commented keys) uncommented."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith(f"{indent}# twilio:"):
            inside = True
            out.append(line.replace("# ", "", 1))
            continue
        if inside and line.startswith(f"{indent}#   "):
            out.append(line.replace("#   ", "  ", 1))
            continue
        inside = False
        out.append(line)
    return "\n".join(out) + "\n"


def test_the_commented_twilio_sections_are_valid_config(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "\n# twilio:" in text and "\n  # twilio:" in text  # documented, off by default
    assert load_config(EXAMPLE, environ={}).twilio is None
    both = uncommented(uncommented(text, ""), "  ").replace("channel: call ", "channel: sms  ")
    path = tmp_path / "example.yaml"
    path.write_text(both, encoding="utf-8")
    (tmp_path / "departments.csv").write_text((ROOT / "config" / "departments.csv").read_text(encoding="utf-8"))
    cfg = load_config(path, environ=ENV)
    assert isinstance(cfg.twilio, TwilioConfig) and isinstance(cfg.tickets.twilio, SmsConfig)
    assert cfg.twilio.auth_token.get_secret_value() == ENV["CALLCENTER_TWILIO_AUTH_TOKEN"]
    assert cfg.twilio.sound_base_url == "https://hotline.example.gov.cn/sounds"
    assert cfg.tickets.followup.channel == "sms"


def test_docs_name_every_twilio_key() -> None:
    doc = (ROOT / "docs" / "twilio.md").read_text(encoding="utf-8")
    for key in (*TwilioConfig.model_fields, *SmsConfig.model_fields):
        assert re.search(rf"`{key}`", doc), key
    assert "/twilio/voice" in doc and "/twilio/sms" in doc
