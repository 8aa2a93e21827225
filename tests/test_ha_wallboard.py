"""The wallboard in headless Chromium shows a takeover by the standby and every dependency that is down, in the
centre's language (the snapshot's ``ops``, from callcenter/ha/health.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from callcenter.web import create_app, serve
from callcenter.web.sample import FakeLiveStats
from callcenter.web.screenshot import WALL_SIZE, chromium, chromium_path, wait_rendered

pytestmark = pytest.mark.browser

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")


async def _text(page: Any, selector: str) -> str:
    return str(await page.locator(selector).first.text_content()).strip()


@pytest.mark.parametrize(("language", "takeover", "down"), [
    ("zh", "备用节点 node-b 已于 15:27:58 接管（第 2 任，接替 node-a）",
     "不可用：数据库、消息服务器（MQTT）、PBX 连接（AMI）pbx2"),
    ("en", "Standby node-b took over at 15:27:58 (term 2, after node-a)",
     "Not available: database, message broker (MQTT), PBX link (AMI) pbx2"),
])
async def test_takeover_and_failed_dependencies_on_the_wallboard(tmp_path: Path, language: str, takeover: str,
                                                                  down: str) -> None:
    fake = FakeLiveStats()
    fake.current["ops"] = {"down": [], "role": "leader", "takeover": None}
    app = create_app(snapshot=fake, metrics_text=lambda: (b"", "text/plain"), language=language,  # type: ignore[arg-type]
                     centre_name="12345", push_interval=0.05)
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="ha-wallboard-web")
    errors: list[str] = []
    try:
        async with asyncio.timeout(30):
            await started.wait()
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"http://127.0.0.1:{app.state.bound_port}/")
            await wait_rendered(page)
            assert await page.is_hidden("#banner-takeover") and await page.is_hidden("#banner-ops-down")
            fake.current["ops"] = {"down": ["database", "broker", "ami:default", "ami:pbx2"], "role": "leader",
                                   "takeover": {"at": "15:27:58", "epoch": 2, "node": "node-b", "previous": "node-a"}}
            await page.wait_for_selector("#banner-takeover", state="visible")
            await page.wait_for_selector("#banner-ops-down", state="visible")
            assert await _text(page, "#banner-takeover") == takeover
            assert await _text(page, "#banner-ops-down") == down
            await page.screenshot(path=str(tmp_path / f"wallboard-ops-{language}.png"))
            fake.current["ops"] = {"down": [], "role": "leader", "takeover": None}  # all back
            await page.wait_for_selector("#banner-ops-down", state="hidden")
            assert await page.is_hidden("#banner-takeover")
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    assert errors == []
