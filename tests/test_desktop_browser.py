"""The agent desktop in headless Chromium against the daemon and the PBX simulator over TCP:
sign in as agent 1001, go ready, a simulated call rings, the pop shows the caller (masked) and their
history, the ticket is created through the tickets API, dispatched, and found in the store; then the
admin page refuses a bad edit with the error by the field."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from callcenter.web.screenshot import chromium, chromium_path
from config.loader import load_config
from config.models import Config
from tests.pair import EXAMPLE, running_pair
from tests.test_screenpop_mqtt import record

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

GUARD = 20_000  # ms, against a hang only
CALLER = "13800138000"


def desk_config() -> Config:
    """The example config with agent 1001 at the desk: nobody stands in for agents, no roster in the way."""
    cfg = load_config(EXAMPLE, environ={})
    return cfg.model_copy(update={
        "shifts": [], "teams": [],
        "centre": cfg.centre.model_copy(update={"auto_ready_agents": False}),
    })


async def sign_in(page: Any, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")


async def test_agent_takes_a_call_with_its_screen_pop_and_ticket(tmp_path: Path) -> None:
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=desk_config(), speed=5) as pair:
        # The caller phoned twice before: the pop lists those calls.
        now = pair.clock.now()
        pair.daemon.store.write_batch([record("old-1", CALLER, now - timedelta(days=2)),
                                       record("old-2", CALLER, now - timedelta(days=9))])
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with chromium() as browser:
            page = await browser.new_page()
            page.set_default_timeout(GUARD)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, base, "1001", "agent1001")
            await page.wait_for_url(f"{base}/desk")
            await page.wait_for_selector("#who:has-text('王丽')")

            await page.click("#go-ready")
            await page.wait_for_selector("#state[data-state=ready]")
            assert await page.text_content("#state") == "空闲"

            call_id = await pair.sim.place_call(CALLER, name="李先生", dtmf="1", talk=40)
            await page.wait_for_selector("#pop:not([hidden])")
            assert await page.text_content("#pop-number") == "138****8000"  # masked for the agent role
            assert await page.text_content("#pop-name") == "李先生"
            history = await page.locator("#pop-history tr").all_text_contents()
            assert len(history) == 2 and "已接通" in history[0]
            await page.wait_for_selector("#state[data-state=on_call]")
            await page.screenshot(path=str(tmp_path / "desk-pop.png"))

            # The pre-filled ticket form, completed during the call and dispatched: the page saves it
            # through the tickets API as soon as the call has ended (its record holds the caller's number).
            assert await page.input_value("#t-call") == call_id
            assert await page.input_value("#t-category") == "consultation"  # the general queue's pre-fill
            await page.select_option("#t-topic", "utilities.water")
            await page.select_option("#t-district", "xihu")
            await page.fill("#t-content", "来电人反映小区停水两天，身份证110101199003071234")
            await page.select_option("#t-department", "psu.water")
            await page.click("#t-dispatch")
            await page.wait_for_selector("#ticket-result.pending")
            await page.wait_for_selector("#state[data-state=wrap_up]")
            await page.wait_for_selector("#ticket-result.saved")
            shown = str(await page.text_content("#ticket-result"))
            assert "已派单" in shown
    tickets = stored_tickets(pair.daemon.store.engine)
    assert len(tickets) == 1
    ticket, calls = tickets[0]
    assert shown.startswith(ticket.number)
    assert ticket.state == "dispatched" and ticket.department == "psu.water" and ticket.dispatched_at is not None
    assert (ticket.category, ticket.topic, ticket.county) == ("consultation", "utilities.water", "xihu")
    assert ticket.content == "来电人反映小区停水两天，身份证110101199003071234"
    assert ticket.caller_number == CALLER and ticket.channel == "phone" and ticket.created_by == "1001"
    assert calls == [call_id]
    assert errors == []


def stored_tickets(engine: Any) -> list[tuple[Any, list[str]]]:
    """Every ticket in the store with the calls linked to it, read with plain SQL (not through the service)."""
    from sqlalchemy import select

    from tickets.tables import Ticket, TicketCall

    t, c = Ticket.__table__, TicketCall.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(t)).all()
        return [(row, [x for (x,) in conn.execute(select(c.c.call_id).where(c.c.ticket_id == row.id))])
                for row in rows]


async def test_admin_page_refuses_a_bad_edit_and_shows_the_error_by_the_field(tmp_path: Path) -> None:
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=desk_config(), speed=5) as pair:
        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with chromium() as browser:
            page = await browser.new_page()
            page.set_default_timeout(GUARD)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, base, "admin", "admin12345")
            await page.wait_for_url(f"{base}/admin")
            row = page.locator("#items-agents tr[data-key='1001']")
            await row.locator("input[name=skills]").fill("law=99")
            await row.locator("input[name=queues]").fill("general, nowhere")
            await row.locator("button.save").click()
            skills_error = row.locator(".field-error[data-field=skills]")
            await skills_error.wait_for()
            await page.wait_for_function(
                "() => document.querySelector(\"#items-agents tr[data-key='1001'] .field-error[data-field=skills]\")"
                ".textContent.length > 0")
            assert "10" in str(await skills_error.text_content())  # "less than or equal to 10"
            await page.screenshot(path=str(tmp_path / "admin-refused.png"))

            # A good edit is saved and audited.
            await row.locator("input[name=skills]").fill("law=7, housing=8")
            await row.locator("input[name=queues]").fill("general, complaints")
            await row.locator("button.save").click()
            await row.locator(".row-status.saved").wait_for()
    audit = [json.loads(line) for line in (tmp_path / "callcenter-audit.jsonl").read_text().splitlines()]
    assert len(audit) == 1
    assert audit[0]["user"] == "admin" and audit[0]["key"] == "1001" and audit[0]["action"] == "update"
    assert audit[0]["before"]["skills"]["law"] == 6 and audit[0]["after"]["skills"] == {"law": 7, "housing": 8}
    assert errors == []
