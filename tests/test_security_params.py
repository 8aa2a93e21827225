"""Issue 15, finding 6, on the real daemon over TCP: malformed numbers and dates in query strings and in a
body's numeric fields answer 400 ``bad_parameter`` naming the field (one layer: callcenter/web/params.py),
``limit=-1`` no longer returns everything, and the daemon's log holds neither a traceback nor the raw input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.security_kit import client, daemon, ticket

RAW = "zz7731q"  # a value no log line may repeat
QUERIES = [
    ("/api/tickets", {"limit": RAW}, "limit"),
    ("/api/tickets", {"limit": "-1"}, "limit"),
    ("/api/tickets", {"limit": "0"}, "limit"),
    ("/api/tickets", {"limit": "1e9"}, "limit"),
    ("/api/tickets", {"limit": "9" * 40}, "limit"),
    ("/api/tickets", {"limit": "2.5"}, "limit"),
    ("/api/tickets", {"since": RAW}, "since"),
    ("/api/tickets", {"until": "2026-13-45"}, "until"),
    ("/api/tickets/export", {"since": RAW}, "since"),
    ("/api/tickets/export", {"until": "99999-01-01"}, "until"),
    ("/api/tickets/export", {"format": RAW}, "format"),
]


async def test_malformed_parameters_answer_400_without_a_traceback(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with daemon(tmp_path) as pair:
        async with client(pair, "1001") as (agent, h):
            first = await ticket(agent, h, content="路灯不亮")
            await ticket(agent, h, content="井盖松动")
            r = await agent.get("/api/tickets", params={"limit": "1"})
            assert r.status_code == 200 and len(r.json()["tickets"]) == 1
            assert (await agent.get("/api/tickets", params={"limit": ""})).status_code == 200  # blank: default
            for path, params, name in QUERIES:
                r = await agent.get(path, params=params)
                assert r.status_code == 400, (path, params, r.status_code, r.text)
                assert r.json()["error"] == "bad_parameter" and f"{name}:" in r.json()["detail"], r.text
                assert RAW not in r.text
            number = first["number"]
            for body in ({"content": "x", "version": RAW}, {"content": "x", "version": -1},
                         {"content": "x", "version": 1.5}):
                r = await agent.patch(f"/api/tickets/{number}", headers=h, json=body)
                assert (r.status_code, r.json()["error"]) == (400, "bad_parameter"), r.text
                assert "version:" in r.json()["detail"]
            for body in ({"action": "dispatch", "department": "xihu.gaj", "days": RAW},
                         {"action": "dispatch", "department": "xihu.gaj", "version": RAW},
                         {"action": "dispatch", "department": "xihu.gaj", "days": 10**12}):
                r = await agent.post(f"/api/tickets/{number}/transition", headers=h, json=body)
                assert (r.status_code, r.json()["error"]) == (400, "bad_parameter"), r.text
            # the workspace's form posts url-encoded fields
            r = await agent.post(f"/api/tickets/{number}/transition",
                                 data={"action": "dispatch", "department": "xihu.gaj", "days": RAW,
                                       "csrf_token": h["X-CSRF-Token"]})
            assert (r.status_code, r.json()["error"]) == (400, "bad_parameter"), r.text
            assert (await agent.get(f"/api/tickets/{number}")).json()["ticket"]["state"] == "accepted"
    server_lines = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in server_lines:
        text = record.getMessage() + (str(record.exc_info) if record.exc_info else "")
        assert RAW not in text, (record.name, text)
        assert record.exc_info is None and "Traceback" not in text, (record.name, text)
