"""No secret anywhere people or logs can see it: the daemon runs calls over real TCP with every secret set
(AMI secret, database password in a PostgreSQL URL, MQTT password, web session secret, Twilio tokens),
then every log line, page, API answer, /metrics, repr and error message it produced is searched for them.
The errors a wrong secret or a bad value causes are searched too: that is where secrets usually leak."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from asterisk.ami.client import AmiClient
from asterisk.sim import PbxSimulator, SimConfig
from config.loader import ConfigError, load_config
from config.models import Config, MqttConfig, TwilioConfig, UserConfig
from records.store import Store
from records.testing import throwaway_pg_database
from tests.pair import EXAMPLE, running_pair
from tests.test_auth_routes import HASHES, PASSWORDS
from tickets.settings import TwilioConfig as SmsTwilioConfig

AMI_SECRET = "ami-Secret-7f3a91"
DB_PASSWORD = "db-Passw0rd-c41e"
MQTT_PASSWORD = "mqtt-Passw0rd-9d02"
SESSION_SECRET = "session-Secret-0123456789abcdef-XYZ"
VOICE_TOKEN = "voice-Token-55aa01"
SMS_TOKEN = "sms-Token-66bb02"
SECRETS = (AMI_SECRET, DB_PASSWORD, MQTT_PASSWORD, SESSION_SECRET, VOICE_TOKEN, SMS_TOKEN, *PASSWORDS.values())
USERS = {"agent": "1001", "supervisor": "super1", "admin": "admin1"}


def assert_no_secret(text: str, where: str) -> None:
    assert text, f"nothing collected from {where}: the search would prove nothing"
    found = [s for s in SECRETS if s in text]
    assert not found, f"{where} shows {found}"
    assert "$argon2" not in text, f"{where} shows a password hash"


def secret_config(database_url: str) -> Config:
    cfg = load_config(EXAMPLE, environ={})
    users = [UserConfig(username=USERS[role], role=role, password_hash=SecretStr(HASHES[role]),  # type: ignore[arg-type]
                        agent_id="1001" if role == "agent" else None) for role in USERS]
    sms = SmsTwilioConfig(account_sid="AC" + "0" * 32, auth_token=SecretStr(SMS_TOKEN), from_number="+8612345",
                          webhook_url="https://hotline.example/twilio/sms")
    return cfg.model_copy(update={
        "ami": cfg.ami.model_copy(update={"secret": SecretStr(AMI_SECRET)}),
        "mqtt": MqttConfig.model_validate({"username": "callcenter", "password": MQTT_PASSWORD}),
        "web": cfg.web.model_copy(update={"session_secret": SecretStr(SESSION_SECRET)}),
        "twilio": TwilioConfig.model_validate({"auth_token": VOICE_TOKEN}),
        "tickets": cfg.tickets.model_copy(update={"twilio": sms}),
        "users": users,
        "database": cfg.database.model_copy(update={"url": database_url}),
    })


async def sign_in(http: httpx.AsyncClient, role: str) -> str:
    page = await http.get("/login")
    match = re.search(r'id="csrf" value="([^"]+)"', page.text)
    assert match is not None
    r = await http.post("/login", json={"username": USERS[role], "password": PASSWORDS[role],
                                        "csrf_token": match.group(1)})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


async def web_texts(base: str) -> list[str]:
    """Every page and API answer a visitor, an agent, a supervisor and an admin can fetch, and the answers
    to requests that go wrong (bad login, bad signatures, bad edits)."""
    texts = []
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        for path in ("/", "/api/stats", "/metrics", "/healthz", "/openapi.json", "/login", "/desk", "/admin",
                     "/api/admin/ami", "/api/me"):
            texts.append((await http.get(path)).text)
        page = await http.get("/login")
        token = re.search(r'id="csrf" value="([^"]+)"', page.text)
        assert token is not None
        texts.append((await http.post("/login", json={"username": "admin1", "password": AMI_SECRET,
                                                      "csrf_token": token.group(1)})).text)
        for path in ("/twilio/voice", "/twilio/sms"):
            texts.append((await http.post(path, data={"From": "+8613800000000", "Body": "1"},
                                          headers={"X-Twilio-Signature": "forged"})).text)
    for role in USERS:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            csrf = await sign_in(http, role)
            for path in ("/desk", "/admin", "/admin/ivr", "/tickets", "/api/me", "/api/desk/options",
                         "/api/agents", "/api/tickets", "/api/admin/agents", "/api/admin/queues",
                         "/api/admin/audit", "/api/admin/ivr", "/api/ivr", "/api/admin/ami", "/api/admin/web",
                         "/api/admin/database", "/api/admin/mqtt", "/api/tickets/export?format=csv"):
                texts.append((await http.get(path)).text)
            bad = await http.put("/api/admin/agents/1001", json={"skills": "not-a-list"},
                                 headers={"X-CSRF-Token": csrf})
            texts.append(bad.text)
    return texts


@pytest.mark.postgres
async def test_no_secret_in_logs_pages_reprs_or_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: dict[str, str] = {}
    with throwaway_pg_database() as url:
        db = url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{DB_PASSWORD}@")
        assert DB_PASSWORD in db
        cfg = secret_config(db)
        async with running_pair(tmp_path, database=db, speed=100, seed=3, cfg=cfg) as pair:
            await pair.sim.run_load(calls=10)
            await pair.settle(within=60)
            assert len(pair.daemon.store.records(pair.clock.origin - timedelta(days=1))) == 10
            texts["web"] = "\n".join(await web_texts(f"http://127.0.0.1:{pair.daemon.web_port}"))
            d = pair.daemon
            texts["reprs"] = "\n".join(repr(x) + str(x) for x in (
                d.cfg, d.cfg.ami, d.cfg.database, d.cfg.mqtt, d.cfg.web, d.cfg.twilio, d.cfg.tickets, d.ami,
                d.store, d.writer))  # (model_dump is the program's own form: the URL is there, for SQLAlchemy)
    texts["errors"] = "\n".join(await error_texts(db))
    texts["logs"] = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for where, text in texts.items():
        assert_no_secret(text, where)


async def error_texts(db_url: str) -> list[str]:
    """What goes wrong when a secret is wrong or a value is bad: the messages must not echo the secret."""
    out: list[str] = []
    # AMI login refused (the simulator knows another secret)
    sim_cfg = SimConfig(ami_port=0)
    async with PbxSimulator(sim_cfg) as sim:
        client = AmiClient("127.0.0.1", sim.ami_port, "cc", AMI_SECRET, on_event=lambda _m, _t: None,
                           reconnect_min=0.05, reconnect_max=0.1)
        async with client, asyncio.timeout(10):
            while client.stats.auth_failures < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        out += [repr(client), str(client.last_error), repr(client.last_error)]
    # the database unreachable (port 1)
    try:
        Store(db_url.replace("127.0.0.1:5432", "127.0.0.1:1"), connect_timeout=2).records(datetime.now(UTC))
    except Exception as exc:
        out += [str(exc), repr(exc)]
    # config values refused: a short session secret, a bad AMI port beside the secret, a bad database URL
    for doc in _bad_configs(db_url):
        try:
            load_config_text(doc)
        except ConfigError as exc:
            out.append(str(exc))
        else:  # pragma: no cover - the documents are invalid by construction
            raise AssertionError(f"config accepted: {doc[:80]}")
    return out


def _bad_configs(db_url: str) -> list[str]:
    base = EXAMPLE.read_text(encoding="utf-8")
    return [
        base.replace("  secret: ${CALLCENTER_AMI_SECRET:-change-me}",
                     f"  secret: {AMI_SECRET}\n  port: not-a-port"),
        base.replace("# session_secret: ${CALLCENTER_SESSION_SECRET}", f"session_secret: {SESSION_SECRET[:20]}"),
        base.replace("${CALLCENTER_DATABASE_URL:-sqlite:///callcenter.db}",
                     db_url.replace("postgresql+psycopg", "mysql")),
        base.replace("password: ${CALLCENTER_MQTT_PASSWORD:-}", f"password: [{MQTT_PASSWORD}]"),
    ]


def load_config_text(doc: str) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bad.yaml"
        p.write_text(doc, encoding="utf-8")
        return load_config(p, environ={})
