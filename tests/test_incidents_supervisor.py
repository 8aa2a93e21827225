"""The supervisor in the loop: the incidents API and page (roles, one-click confirm, errors with slugs),
Prometheus metrics and the promtool-tested alert rules, retained MQTT messages on the real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from callcenter.ivr_service import IvrService
from callcenter.web.app import create_app
from config.models import MqttConfig
from incidents.mqtt import incident_publisher
from incidents.prom import register
from incidents.web import incident_routes
from tests.test_agi_ivr_dialogues import MONDAY_10, Rig
from tests.test_incidents_announce import MESSAGE, board_with_candidate
from tests.test_ivr_api import USERS, _test_login, login
from tests.test_monitoring_files import PROMTOOL

MON = Path(__file__).resolve().parents[1] / "monitoring"


@pytest.fixture
async def api(tmp_path: Path) -> Any:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    app = create_app(snapshot=lambda: {}, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="12345", users=USERS, session_secret="s" * 40,
                     extra_routes=lambda streams: [Route("/test-login/{name}", _test_login, methods=["POST"]),
                                                   *incident_routes(board, lambda: MONDAY_10, language="zh")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sup.test") as client:
        yield rig.service, board, client


async def test_confirm_in_one_call_then_close_over_http(api: Any) -> None:
    service, _board, client = api
    assert (await client.get("/api/incidents")).status_code == 401
    agent = await login(client, "1001")
    assert (await client.post("/api/incidents/1/confirm", json={}, headers=agent)).status_code == 403
    headers = await login(client, "admin")
    listed = (await client.get("/api/incidents")).json()["incidents"]
    assert [(i["number"], i["state"], i["candidate"]["what"]) for i in listed] == [(1, "candidate", "水电气")]
    page = await client.get("/incidents")
    assert page.status_code == 200 and "确认并播报" in page.text
    bad = await client.post("/api/incidents/1/confirm", json={"message": MESSAGE, "expires_minutes": 1e308},
                            headers=headers)
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
    ok = await client.post("/api/incidents/1/confirm", json={"message": MESSAGE, "scope": "topic:水电气-none"},
                           headers=headers)
    assert ok.status_code == 422 and ok.json()["error"] == "announcement_refused"
    ok = await client.post("/api/incidents/1/confirm", json={"message": MESSAGE}, headers=headers)
    assert ok.status_code == 200 and ok.json()["announced_version"] == service.current().number == 2
    again = await client.post("/api/incidents/1/confirm", json={"message": MESSAGE}, headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "illegal_move"
    assert (await client.post("/api/incidents/9/close", headers=headers)).json()["error"] == "no_such_incident"
    closed = await client.post("/api/incidents/1/close", json={"note": "修好了"}, headers=headers)
    assert closed.json()["state"] == "closed" and service.current().number == 3
    assert (await client.get("/api/incidents")).json()["incidents"] == []


def scrape(board: Any) -> dict[str, float]:
    registry = CollectorRegistry()
    register(registry, board)
    text = generate_latest(registry).decode()
    return {f"{s.name}{sorted(s.labels.items())}": s.value for f in text_string_to_metric_families(text)
            for s in f.samples}


def test_metrics_carry_the_candidate_and_the_rules_name_only_exported_metrics(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    board = board_with_candidate(rig.service)
    got = scrape(board)
    calls = [v for k, v in got.items() if k.startswith("callcenter_incident_calls[")]
    assert calls == [board.incidents[1].candidate.calls] and calls[0] >= 10
    assert got["callcenter_incidents[('state', 'candidate')]"] == 1
    board.confirm(1, "sup", MONDAY_10, message=MESSAGE)
    got = scrape(board)
    assert got["callcenter_incident_announcement[('incident', '1')]"] == 1
    exported = {k.split("[")[0] for k in got} | {"callcenter_incident_detector_alarms"}
    named = set(re.findall(r"\b(callcenter_[a-z0-9_]+)", (MON / "incidents.yml").read_text()))
    assert named and named <= exported
    check = subprocess.run([PROMTOOL, "check", "rules", str(MON / "incidents.yml")], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0 and "SUCCESS: 2 rules found" in check.stdout, check.stdout + check.stderr
    unit = subprocess.run([PROMTOOL, "test", "rules", "incidents_test.yml"], capture_output=True, text=True,
                          timeout=60, cwd=MON)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    rules = yaml.safe_load((MON / "incidents.yml").read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {"IncidentCandidate", "IncidentConfirmedWithoutAnnouncement"}


@pytest.mark.mqtt
async def test_incidents_are_retained_on_mqtt_and_follow_their_state(tmp_path: Path) -> None:
    (tmp_path / "ivr").mkdir()
    rig = Rig(tmp_path)
    rig.service = IvrService(rig.cfg, tmp_path / "ivr", lambda: MONDAY_10)
    board = board_with_candidate(rig.service)
    prefix = f"test/{uuid.uuid4().hex}"
    pub = incident_publisher(MqttConfig(host="127.0.0.1", port=1883, topic_prefix=prefix), board, throttle=0.05)
    task = asyncio.create_task(pub.run())
    try:
        async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"sub-{uuid.uuid4().hex[:8]}") as client:
            await client.subscribe(f"{prefix}/incidents/#", qos=1)
            seen: dict[str, Any] = {}
            async with asyncio.timeout(20):
                async for msg in client.messages:
                    raw = bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else b""
                    seen[str(msg.topic)] = raw.decode() if raw in (b"online", b"offline") else json.loads(raw)
                    one = seen.get(f"{prefix}/incidents/1")
                    if one and one["state"] == "candidate" and one is seen[str(msg.topic)]:
                        board.confirm(1, "sup", MONDAY_10, message=MESSAGE, expires_in=timedelta(minutes=30))
                    if one and one["state"] == "confirmed":
                        break
            assert seen[f"{prefix}/incidents/status"] == "online"
            assert seen[f"{prefix}/incidents/1"]["message"] == MESSAGE
            assert seen[f"{prefix}/incidents/1"]["candidate"]["what"] == "水电气"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
