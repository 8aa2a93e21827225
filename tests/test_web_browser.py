"""The wallboard in headless Chromium: figures of the snapshot, live updates over SSE, banners."""

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

# No skip: CI installs Chromium (scripts/services); a missing browser must fail loudly, not pass quietly.
if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

HANG_GUARD = 30.0  # guards against a hang only


async def text_of(page: Any, selector: str) -> str:
    return str(await page.locator(selector).first.text_content()).strip()


async def test_wallboard_shows_the_snapshot_and_follows_it_live(tmp_path: Path) -> None:
    fake = FakeLiveStats()
    app = create_app(
        snapshot=fake,
        metrics_text=lambda: (b"", "text/plain"),
        language="zh",
        centre_name="12345 测试中心",
        push_interval=0.05,
    )
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="browser-test-web")
    errors: list[str] = []
    try:
        async with asyncio.timeout(HANG_GUARD):
            await started.wait()
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"http://127.0.0.1:{app.state.bound_port}/")
            await wait_rendered(page)

            # The figures of the sample snapshot, formatted.
            assert await text_of(page, "#clock") == "15:27:42"
            assert await text_of(page, "#rate-today") == "96.6 %"  # 1750 / 1811, amber: < 97 %, >= 95 %
            assert "rate-warn" in str(await page.get_attribute("#tile-today", "class"))
            # One colour rule for every window (metrics/kpi.py rate_level): 96.5 % is under the 97 % target.
            assert "rate-warn" in str(await page.get_attribute("#tile-24h", "class"))
            assert await text_of(page, "#offered") == "1811"
            assert await text_of(page, "#asa") == "13 秒"
            assert await text_of(page, "#longest-wait-now") == "1:35"
            assert await text_of(page, "#answered-15s") == "87.4 %"
            assert await page.locator("#queue-rows tr").count() == 4
            general = await text_of(page, "#queue-rows tr[data-queue=general]")
            assert "综合咨询" in general and "1082" in general and "96.9 %" in general
            assert await text_of(page, "#agent-on_call .count") == "23"
            assert await text_of(page, "#agent-logged_out .count") == "12"
            assert await page.locator("#hour-chart rect.bar-offered").count() == 16
            assert await page.is_hidden("#banner-ami")
            assert await page.is_hidden("#banner-sse")
            await page.screenshot(path=str(tmp_path / "wallboard-before.png"))

            # The provider changes: the page follows over SSE without a reload.
            fake.current["now"] = fake.current["now"].replace("15:27:42", "15:28:05")
            fake.current["centre"].update(offered=1900, answered=1872, connection_rate=1872 / 1900)
            fake.current["agents"]["on_call"] = 30
            fake.current["queues"].append(
                {"name": "tourism", "label": "文旅咨询", "waiting": 3, "longest_wait_now": 65.0,
                 "offered": 10, "answered": 8, "abandoned": 2, "connection_rate": 0.8}
            )  # fmt: skip
            fake.current["ami_connected"] = False
            await page.wait_for_function("() => document.getElementById('rate-today').textContent === '98.5 %'")
            assert "rate-good" in str(await page.get_attribute("#tile-today", "class"))
            assert await text_of(page, "#clock") == "15:28:05"
            assert await text_of(page, "#offered") == "1900"
            assert await text_of(page, "#agent-on_call .count") == "30"
            tourism = await text_of(page, "#queue-rows tr[data-queue=tourism]")
            assert "文旅咨询" in tourism and "1:05" in tourism and "80.0 %" in tourism
            tourism_rate = await page.get_attribute("#queue-rows tr[data-queue=tourism] td.rate", "class")
            assert "rate-bad" in str(tourism_rate)
            assert await page.is_visible("#banner-ami")
            assert "与PBX连接中断" in await text_of(page, "#banner-ami")
            await page.screenshot(path=str(tmp_path / "wallboard-after.png"))

            # The server goes away: the page says it is reconnecting.
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server
            await page.wait_for_selector("#banner-sse", state="visible")
            assert "正在重连" in await text_of(page, "#banner-sse")
            await page.screenshot(path=str(tmp_path / "wallboard-reconnecting.png"))
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    assert errors == []
    assert (tmp_path / "wallboard-after.png").stat().st_size > 10_000
