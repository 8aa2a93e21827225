"""Issue 15, findings 2 and 4, on the real daemon over TCP (PBX simulator, SQLite store):

- one masking policy (callcenter/privacy.py) on every web path that returns a caller's number or name:
  /api/tickets, ticket detail, create and edit answers, CSV/XLSX exports, /api/callers/{n}/history,
  /tickets?call_id=..., the workspace list and detail, the desk's screen-pop (SSE) - for every role;
- the full number only through POST /api/tickets/{n}/reveal (supervisor, admin, a department for a
  non-confidential ticket it handles), with a reason, written to the audit log; agents cannot reveal;
- an agent edits only the tickets it created (PATCH 403 with a clear message); a supervisor edits any.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from tests.security_kit import CALLER, CALLER_NAME, client, daemon, record_of_call, ticket

MASKED = "139****1111"
PERIOD = {"since": "2026-01-01", "until": "2026-12-31"}


async def every_path(http: httpx.AsyncClient, number: str) -> dict[str, str]:
    """The text of every path that shows the caller of ticket `number` (from call call-1)."""
    out = {
        "list": (await http.get("/api/tickets")).text,
        "detail": (await http.get(f"/api/tickets/{number}")).text,
        "history": (await http.get(f"/api/callers/{CALLER}/history")).text,
        "csv": (await http.get("/api/tickets/export", params={**PERIOD, "format": "csv"})).content.decode("utf-8-sig"),
        "workspace": (await http.get("/tickets")).text,
        "workspace detail": (await http.get("/tickets", params={"ticket": number})).text,
        "create form": (await http.get("/tickets", params={"call_id": "call-1"})).text,
    }
    xlsx = await http.get("/api/tickets/export", params={**PERIOD, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    out["xlsx"] = json.dumps([[c.value for c in row] for row in sheet.iter_rows()], ensure_ascii=False)
    return out


def assert_masked(texts: dict[str, str], who: str) -> None:
    for path, text in texts.items():
        assert CALLER not in text, f"{who}: full number in {path}"
        assert CALLER_NAME not in text, f"{who}: full name in {path}"


async def test_one_policy_on_every_path_and_an_audited_reveal(tmp_path: Path) -> None:
    async with daemon(tmp_path) as pair:
        record_of_call(pair, "call-1")
        async with client(pair, "1001") as (agent, h):
            made = await ticket(agent, h, call_id="call-1")
            number = made["number"]
            assert (made["caller_number"], made["caller_name"]) == (MASKED, "王**")
            assert (await agent.get(f"/api/tickets/{number}")).json()["ticket"]["caller_number"] == MASKED
            r = await agent.post(f"/api/tickets/{number}/transition", headers=h,
                                 json={"action": "dispatch", "department": "xihu.gaj"})
            assert r.status_code == 200 and r.json()["caller_number"] == MASKED
            secret = await ticket(agent, h, call_id="call-1", confidential=True)
            r = await agent.post(f"/api/tickets/{secret['number']}/transition", headers=h,
                                 json={"action": "dispatch", "department": "xihu.gaj"})
            assert r.status_code == 200
            assert (await agent.post(f"/api/tickets/{number}/reveal", headers=h, json={"reason": "回电"})
                    ).status_code == 403
            assert_masked(await every_path(agent, number), "the agent who took the call")
        for username in ("1002", "lead", "root", "police"):
            async with client(pair, username) as (http, _):
                assert_masked(await every_path(http, number), username)

        audit = tmp_path / "callcenter-audit.jsonl"
        async with client(pair, "lead") as (lead, h):
            r = await lead.post(f"/api/tickets/{number}/reveal", headers=h, json={})
            assert (r.status_code, r.json()["error"]) == (422, "reason_required")
            assert not audit.exists() or number not in audit.read_text(encoding="utf-8")
            r = await lead.post(f"/api/tickets/{number}/reveal", headers=h, json={"reason": "市民要求回电"})
            assert r.status_code == 200, r.text
            assert (r.json()["caller_number"], r.json()["caller_name"]) == (CALLER, CALLER_NAME)
            assert r.headers["cache-control"] == "no-store"
        async with client(pair, "police") as (police, h):
            r = await police.post(f"/api/tickets/{number}/reveal", headers=h, json={"reason": "联系现场"})
            assert r.status_code == 200 and r.json()["caller_number"] == CALLER
            r = await police.post(f"/api/tickets/{secret['number']}/reveal", headers=h, json={"reason": "x"})
            assert (r.status_code, r.json()["error"]) == (403, "confidential")  # 保密件: never to a department
        entries = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
        reveals = [(e["user"], e["key"], e["reason"]) for e in entries if e.get("action") == "reveal"]
        assert reveals == [("lead", number, "市民要求回电"), ("police", number, "联系现场")]


async def test_the_desk_pop_is_masked_on_the_web(tmp_path: Path) -> None:
    """The agent's own offer over SSE: number masked, the caller-ID name shown (the agent addresses the
    caller). The full number goes only to the agent's own MQTT topic (tests/test_screenpop_mqtt.py)."""
    async with daemon(tmp_path) as pair, client(pair, "1001") as (agent, h):
        r = await agent.post("/api/desk/state", json={"state": "ready"}, headers=h)
        assert r.status_code == 200
        offer = None
        async with asyncio.timeout(30), agent.stream("GET", "/api/desk/stream") as stream:
            await pair.sim.place_call(CALLER, name="李先生", dtmf="1", talk=600)
            kind = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "offer":
                    offer = json.loads(line[5:])
                    break
        assert offer is not None
        assert offer["caller_number"] == MASKED and offer["caller_name"] == "李先生"


async def test_an_agent_edits_only_its_own_tickets(tmp_path: Path) -> None:
    async with daemon(tmp_path) as pair:
        async with client(pair, "1001") as (first, h1):
            mine = await ticket(first, h1, content="井盖松动")
        async with client(pair, "1002") as (other, h2):
            r = await other.patch(f"/api/tickets/{mine['number']}", headers=h2, json={"content": "改掉"})
            assert (r.status_code, r.json()["error"]) == (403, "forbidden")
            assert "another user" in r.json()["detail"] and "own" in r.json()["detail"]
            own = await ticket(other, h2, content="噪音扰民")
            r = await other.patch(f"/api/tickets/{own['number']}", headers=h2, json={"content": "夜间噪音扰民"})
            assert r.status_code == 200 and r.json()["content"] == "夜间噪音扰民"
        async with client(pair, "1001") as (first, h1):
            detail = (await first.get(f"/api/tickets/{mine['number']}")).json()["ticket"]
            assert detail["content"] == "井盖松动"  # unchanged by the refused edit
        async with client(pair, "lead") as (lead, h):
            r = await lead.patch(f"/api/tickets/{mine['number']}", headers=h, json={"title": "井盖"})
            assert r.status_code == 200


@pytest.mark.browser
async def test_a_supervisor_reveals_a_number_on_the_workspace(tmp_path: Path) -> None:
    """The workspace's detail shows the caller masked; the reveal form (a reason) shows the full number."""
    from callcenter.web.screenshot import chromium
    from tests.security_kit import PASSWORD, base_url

    async with daemon(tmp_path) as pair, chromium() as browser:
        record_of_call(pair, "call-1")
        async with client(pair, "1001") as (agent, h):
            number = (await ticket(agent, h, call_id="call-1"))["number"]
        page = await browser.new_page()
        page.set_default_timeout(20_000)
        base = base_url(pair)
        await page.goto(f"{base}/login")
        await page.fill("#username", "lead")
        await page.fill("#password", PASSWORD)
        await page.click("#login-button")
        await page.wait_for_url(f"{base}/supervisor")  # a supervisor signs in to the console
        await page.goto(f"{base}/tickets?ticket={number}")
        facts = str(await page.text_content("#detail .facts"))
        assert MASKED in facts and CALLER not in facts
        await page.fill("#reveal input[name=reason]", "市民要求回电")
        await page.click("#reveal button")
        await page.wait_for_function("() => document.getElementById('revealed').textContent.length > 0")
        assert str(await page.text_content("#revealed")) == f"{CALLER} · {CALLER_NAME}"
    entries = (tmp_path / "callcenter-audit.jsonl").read_text(encoding="utf-8")
    assert '"action": "reveal"' in entries and "市民要求回电" in entries
