"""In headless Chromium against the daemon and the PBX simulator over TCP: a burst of calls about one topic
raises a candidate; the wallboard shows the alert; the supervisor confirms it in one click on the incidents
page; the IVR version changes; a call over FastAGI hears the announcement (its AGI commands show it);
closing the incident restores the menu."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from asterisk.agi.testing import FakeAsterisk
from callcenter.web.auth import hash_password
from callcenter.web.screenshot import WALL_SIZE, chromium, chromium_path
from config.loader import load_config
from config.models import UserConfig
from tests.pair import EXAMPLE, running_pair
from tests.test_agi_ivr_dialogues import Asterisk, env, variables

pytestmark = pytest.mark.browser

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

GUARD = 30_000  # ms, against a hang only
PASSWORD = "night-shift-lead-1"


def config() -> Any:
    cfg = load_config(EXAMPLE, environ={})
    sup = UserConfig(username="lead", role="supervisor", password_hash=SecretStr(hash_password(PASSWORD)))
    return cfg.model_copy(update={"users": [*cfg.users, sup]})


async def agi_call(port: int, keys: list[str], uid: str) -> list[str]:
    fake = FakeAsterisk(env(uid), Asterisk(keys))
    return await fake.run("127.0.0.1", port)


async def test_supervisor_confirms_a_surge_and_the_ivr_announces_it(tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=config(), speed=20) as pair:
        daemon = pair.daemon
        before = daemon.ivr.current()
        # 14 callers choose 咨询 within a minute: against an empty history that is a burst
        for i in range(14):
            await pair.sim.place_call(f"1380000{i:04d}", dtmf=("1", "1"), talk=30, patience=600)
        async with asyncio.timeout(60):
            while not daemon.incidents.board.active():  # noqa: ASYNC110 (a bounded poll)
                await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{daemon.web_port}"
        async with chromium() as browser:
            wall = await browser.new_page(viewport=WALL_SIZE)
            wall.on("pageerror", lambda exc: errors.append(str(exc)))
            wall.set_default_timeout(GUARD)
            await wall.goto(base + "/")
            banner = wall.locator("#banner-incident")
            await banner.wait_for(state="visible")
            assert "疑似突发" in str(await banner.text_content()) and "咨询" in str(await banner.text_content())
            shot = tmp_path / "wallboard-incident.png"
            await wall.screenshot(path=str(shot))
            request.node.user_properties.append(("screenshot", str(shot)))

            page = await browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(GUARD)
            await page.goto(base + "/login")
            await page.fill("#username", "lead")
            await page.fill("#password", PASSWORD)
            await page.click("#login-button")
            await page.wait_for_url(lambda url: "/login" not in url)
            await page.goto(base + "/incidents")
            card = page.locator(".incident.candidate").first
            await card.wait_for(state="visible")
            await page.screenshot(path=str(tmp_path / "incidents-candidate.png"))
            await card.locator("textarea.message").fill("今天上午系统维护，咨询业务请稍后来电。")
            await card.locator("button.confirm").click()
            await page.locator(".incident.confirmed").first.wait_for(state="visible")
            announced = daemon.ivr.current()
            assert announced.number == before.number + 1 and announced.author == "lead"
            assert announced.note == "incident 1: announcement"

            commands = await agi_call(daemon.agi_port, [""], "1800000000.1")
            files = [c.split()[2] for c in commands if c.startswith(("GET DATA", "STREAM FILE"))]
            assert files[:2] == ["incident/1-zh", "callcenter/zh/goodbye"] and "CC_QUEUE" not in variables(commands)
            commands = await agi_call(daemon.agi_port, ["2", "1", "1"], "1800000000.2")
            assert variables(commands)["CC_QUEUE"] == "general"
            assert variables(commands)["CC_IVR_PATH"].startswith("incident-1:2>welcome")

            await page.locator("button.close").first.click()
            await page.locator("#list").filter(has_text="当前没有疑似突发事件").wait_for()
            restored = daemon.ivr.current()
            assert restored.number == announced.number + 1 and "announcement removed" in restored.note
            assert yaml.safe_load(restored.text) == yaml.safe_load(before.text)
            commands = await agi_call(daemon.agi_port, ["1", "1"], "1800000000.3")
            assert "incident/1-zh" not in " ".join(commands) and variables(commands)["CC_QUEUE"] == "general"
            await wall.locator("#banner-incident").wait_for(state="hidden")
        # (no settle: the FastAGI-only calls above have no channel in the simulator, so they never end)
    assert errors == []
