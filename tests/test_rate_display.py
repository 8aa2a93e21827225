"""One rounding and colour rule for every page, report and command (metrics/kpi.py rate_text, rate_level):
the wallboard's script (in headless Chromium) shows and colours each rate exactly as the Python rule does,
the 24-hour tile is judged by the same rule as today's, and the reports print the same figure."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import pytest

from callcenter.web import create_app, serve
from callcenter.web.sample import FakeLiveStats
from callcenter.web.screenshot import WALL_SIZE, chromium, chromium_path, wait_rendered
from metrics.kpi import rate_level, rate_text

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

# Around the 97 % target and the 95 % standard, and values whose binary form sits just under a step.
RATES: list[float | None] = [0.9548, 0.9696, 0.97, 0.96999, 0.95, 0.9499, 0.954, 1.0, 0.0, 0.5, 0.9551, None]


def test_rates_are_cut_not_rounded() -> None:
    assert rate_text(0.9548) == "95.4 %"  # the report once printed 95.48 %, the wallboard 95.4 %
    assert rate_text(0.9696) == "96.9 %"
    assert rate_text(0.97) == "97.0 %"  # binary noise does not cut 97 % to 96.9 %
    assert rate_text(0.57) == "57.0 %"
    assert rate_text(None) == "—"
    assert rate_text(0.96666, digits=0) == "96 %"


def test_one_colour_rule_for_every_window() -> None:
    assert rate_level(0.9696, 0.97) == "warn"  # shown 96.9 %: under target, not "good"
    assert rate_level(0.97, 0.97) == "good"
    assert rate_level(0.9548, 0.97) == "warn"  # meets the 95 % standard only
    assert rate_level(0.9499, 0.97) == "bad"
    assert rate_level(None, 0.97) == "na"
    assert rate_level(0.92, 0.90) == "good"  # a centre whose target is under the standard


def test_the_daily_report_prints_the_wallboard_figure() -> None:
    from callcenter.reports.chart import pct

    assert pct(0.9548, 2) == pct(0.9548) == "95.4 %"


async def _shown(snapshot: dict[str, Any]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    fake = FakeLiveStats(snapshot)
    app = create_app(snapshot=fake, metrics_text=lambda: (b"", "text/plain"), language="zh",
                     centre_name="12345", push_interval=0.05)
    started = asyncio.Event()
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, started=started), name="rate-display-web")
    try:
        async with asyncio.timeout(30):
            await started.wait()
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            page.set_default_timeout(30_000)
            await page.goto(f"http://127.0.0.1:{app.state.bound_port}/")
            await wait_rendered(page)
            rows = {}
            for tr in await page.locator("#queue-rows tr[data-queue]").all():
                name = str(await tr.get_attribute("data-queue"))
                rate = tr.locator("td.rate")
                cls = str(await rate.get_attribute("class"))
                level = next(c for c in cls.split() if c.startswith("rate-")).removeprefix("rate-")
                rows[name] = (str(await rate.text_content()).strip(), level)
            tiles = {}
            for tile in ("today", "1h", "24h"):
                cls = str(await page.get_attribute(f"#tile-{tile}", "class"))
                tiles[tile] = next(c for c in cls.split() if c.startswith("rate-")).removeprefix("rate-")
            return rows, tiles
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


@pytest.mark.browser
async def test_the_wallboard_applies_the_same_rule() -> None:
    fake = FakeLiveStats()
    snap = fake.current
    target = snap["target"]
    template = snap["queues"][0]
    snap["queues"] = [{**template, "name": f"q{i}", "label": f"q{i}", "connection_rate": r}
                      for i, r in enumerate(RATES)]
    # The same figure in every window: one colour.
    snap["centre"].update(connection_rate=0.9548, connection_rate_1h=0.9548, connection_rate_24h=0.9548)
    rows, tiles = await _shown(snap)
    expected = {f"q{i}": (rate_text(r), rate_level(r, target)) for i, r in enumerate(RATES)}
    assert rows == expected
    assert tiles == {"today": "warn", "1h": "warn", "24h": "warn"}
