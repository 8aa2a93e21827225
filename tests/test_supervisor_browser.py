"""The supervisor's journey in headless Chromium against the daemon and the PBX simulator over TCP, on the
example's roster (Monday 09:00: team 甲班 on the early shift): the supervisor signs in, sees the board, forces
an agent not ready and sees the row change (and the agent fall out of adherence), raises a waiting caller's
priority and sees the caller move to the head of the queue. The screenshot goes to docs/img/supervisor.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from callcenter.web.auth import hash_password
from callcenter.web.screenshot import chromium, chromium_path
from config.loader import load_config
from config.models import Config
from config.models.services import UserConfig
from tests.pair import EXAMPLE, running_pair
from tests.test_desktop_browser import sign_in
from tests.test_supervisor_api import PASSWORDS, audit, until

pytestmark = pytest.mark.browser

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

ROOT = Path(__file__).resolve().parents[1]
GUARD = 20_000  # ms, against a hang only
EARLY = ("1001", "1002", "1003", "1004")  # 甲班, on the early shift in the week of 2026-03-02


def roster_config() -> Config:
    """The example config with its roster, nobody standing in for agents, and the supervisor with a phone."""
    cfg = load_config(EXAMPLE, environ={})
    lead = UserConfig(username="lead", role="supervisor", endpoint="PJSIP/9001",
                      password_hash=SecretStr(hash_password(PASSWORDS["lead"])))
    return cfg.model_copy(update={"users": [lead],
                                  "centre": cfg.centre.model_copy(update={"auto_ready_agents": False})})


async def test_supervisor_forces_an_agent_not_ready_and_raises_a_caller(tmp_path: Path) -> None:
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=roster_config(), speed=5, roster=True) as pair:
        d = pair.daemon
        # The early shift at work: a few calls answered and closed this morning (calls and talk today) ...
        for agent in EARLY:
            d.desk.set_state(agent, "ready", "", agent)
        for i, talk in enumerate((30, 45, 60, 40)):
            await pair.sim.place_call(f"1370000{i:04d}", dtmf=("1", "1"), talk=talk)
        await pair.settle()
        await until(lambda: all(d.engine.agent_state(a)[0].value == "ready" for a in EARLY))
        # ... then three agents on long calls, 1001 ready.
        d.desk.set_state("1001", "not_ready", "other", "1001")
        for number, keys in (("13811112222", ("1", "1")), ("13922223333", ("1", "1")), ("13533334444", ("1", "0"))):
            await pair.sim.place_call(number, dtmf=keys, talk=900)
        await until(lambda: all(d.engine.agent_state(a)[0].value == "on_call" for a in EARLY[1:]))
        d.desk.set_state("1001", "ready", "", "1001")

        base = f"http://127.0.0.1:{pair.daemon.web_port}"
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1600, "height": 900})
            page.set_default_timeout(GUARD)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, base, "lead", PASSWORDS["lead"])
            await page.wait_for_url(f"{base}/supervisor")
            row = page.locator("tr[data-agent='1001']")
            await page.wait_for_selector("tr[data-agent='1001'][data-state=ready]")
            assert await row.locator(".badge").text_content() == "空闲"
            assert "在班" in (await row.text_content() or "") and "符合" in (await row.text_content() or "")
            assert await page.locator("tr[data-agent][data-state=on_call]").count() == 3
            assert await page.locator("tr[data-agent]").count() == 12  # every configured agent
            on_call = page.locator("tr[data-agent][data-state=on_call] td.call").first
            assert "****" in (await on_call.text_content() or "")  # the caller's number masked

            # Force 1001 not ready (meeting): the row changes when the board is pushed again.
            await row.locator("button.manage").click()
            await page.select_option("#d-reason", "meeting")
            await page.click("#d-not-ready")
            await page.wait_for_selector("#d-result.ok")
            await page.click("#agent-dialog .x")
            await page.wait_for_selector("tr[data-agent='1001'][data-state=not_ready]")
            assert await row.locator(".badge").text_content() == "示忙"
            assert await row.locator(".reason").text_content() == "会议"
            assert "偏离" in (await row.text_content() or "")  # on shift, not taking calls
            assert d.engine.agent_state("1001")[0].value == "not_ready"

            # Three callers wait (nobody is free); the third one's priority is raised.
            calls = [await pair.sim.place_call(n, dtmf=("1", "1"), talk=600)
                     for n in ("13600001111", "13700002222", "15800003333")]
            await pair.sim.place_call("18900004444", dtmf=("1", "2"), talk=600)  # a complaint (priority 1 by the IVR)
            rows = "[data-queue=general] tr[data-call]"
            await page.wait_for_function(f"() => document.querySelectorAll('{rows}').length === 3")
            await page.wait_for_selector("[data-queue=complaints] tr[data-call]")
            third = page.locator(f"tr[data-call='{calls[2]}']")
            assert "158****3333" in (await third.text_content() or "")
            assert "普通话 › 咨询" in (await third.text_content() or "")
            await third.locator("button.raise").click()
            await page.wait_for_function(
                f"() => document.querySelector('[data-queue=general] tr[data-call]').dataset.call === '{calls[2]}'")
            assert await page.locator(f"tr[data-call='{calls[2]}'] .prio").text_content() == "优先级 1"
            await page.wait_for_selector("#recent li:has-text('强制示忙')")
            await page.wait_for_selector("#recent li:has-text('调整优先级')")
            await page.wait_for_selector("#recent li:has-text('158****3333')")  # the caller named by the number
            await page.wait_for_selector("#toast", state="hidden")  # the "done" notice is gone from the picture
            await page.screenshot(path=str(ROOT / "docs" / "img" / "supervisor.png"))

            # The agent desk opened by a supervisor leads back to the console (it answered raw JSON before).
            await page.goto(f"{base}/desk")
            await page.wait_for_url(f"{base}/supervisor")
    assert errors == []
    actions = [e["action"] for e in audit(pair, tmp_path)]
    assert actions == ["force_not_ready", "set_priority"]
