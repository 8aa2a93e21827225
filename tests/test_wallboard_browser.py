"""The wallboard in headless Chromium against the daemon and the PBX simulator over TCP: after calls end, the
figures the page shows (read from its DOM) are the figures computed from the store with metrics.kpi, the
connection rate's colour follows the target, and the label names the short-abandon exclusion when it is on."""

from __future__ import annotations

import math
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.reports.daily import day_span, records_attributed
from callcenter.web.screenshot import WALL_SIZE, chromium, chromium_path, wait_rendered
from config.loader import load_config
from metrics.kpi import by_queue, kpi
from tests.pair import EXAMPLE, running_pair

pytestmark = pytest.mark.browser

if not os.path.exists(chromium_path()):
    raise RuntimeError(f"no Chromium at {chromium_path()}: run scripts/services (apt-get install chromium)")

GUARD = 30_000  # ms, against a hang only
SHORT = 10.0  # short abandons excluded: hung up within 10 s


# The page's formats (wallboard.js): rates cut (not rounded) to 0.1 %, counts as integers, "—" for none.
def fmt_rate(r: float | None) -> str:
    return "—" if r is None else f"{math.floor(r * 1000 + 1e-6) / 10:.1f} %"


def fmt_count(n: int | None) -> str:
    return "—" if n is None else str(n)


def rate_class(r: float | None, target: float) -> str:
    if r is None:
        return "rate-na"
    return "rate-good" if r >= target - 1e-9 else "rate-warn" if r >= target - 0.02 - 1e-9 else "rate-bad"


async def text(page: Any, selector: str) -> str:
    return str(await page.locator(selector).first.text_content()).strip()


async def test_wallboard_shows_what_the_store_says(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"centre": cfg.centre.model_copy(update={"short_abandon_seconds": SHORT,
                                                                          "language": "zh"})})
    errors: list[str] = []
    async with running_pair(tmp_path, cfg=cfg, speed=100) as pair:
        agents = len(pair.cfg.agents)
        # More long calls than agents keep every agent busy; the callers behind them give up in the queue.
        # (The simulator's callers give up only after about a minute on hold, so no short abandon happens
        # here: the exclusion's arithmetic is tested in test_metrics_kpi; here its label.)
        for i in range(agents + 2):
            await pair.sim.place_call(f"1380000{i:04d}", dtmf="1", talk=300, patience=900)
        for i in range(5):
            await pair.sim.place_call(f"1390000{i:04d}", dtmf="1", patience=150)
        await pair.settle(within=60)
        settled = pair.clock.now()
        base = f"http://127.0.0.1:{pair.daemon.web_port}/"
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            page.set_default_timeout(GUARD)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base)
            await wait_rendered(page)
            # Settled: the page shows a snapshot taken after the last call was stored.
            local = settled.astimezone(pair.daemon.live.tz).isoformat()
            await page.wait_for_function(f"() => (document.body.dataset.now || '') > {local!r}")
            shot = tmp_path / "wallboard-store.png"
            await page.screenshot(path=str(shot))
            request.node.user_properties.append(("screenshot", str(shot)))
            shown = {sel: await text(page, sel) for sel in
                     ("#offered", "#answered", "#rate-today", "#answered-15s", "#waiting", "#label-today",
                      "#label-1h", "#label-24h")}
            tile = str(await page.get_attribute("#tile-today", "class"))
            rows = {}
            for tr in await page.locator("#queue-rows tr[data-queue]").all():
                name = str(await tr.get_attribute("data-queue"))
                rows[name] = [await text(tr, f"td.{c}") for c in ("waiting", "offered", "answered", "rate")]
            agent_counts = {s: await text(page, f"#agent-{s} .count") for s in
                            ("ready", "reserved", "on_call", "wrap_up", "not_ready", "logged_out")}
            now = datetime.fromisoformat(str(await page.evaluate("document.body.dataset.now")))
        engine_states = Counter(pair.daemon.engine.agent_state(str(a.id))[0].value for a in pair.cfg.agents)

    # The store's figures for the day the page shows.
    start, end = day_span(now.date(), pair.cfg.centre.timezone)
    records = records_attributed(pair.daemon.store, start, end)
    sl = pair.cfg.centre.service_level_seconds
    k = kpi(records, sl, SHORT)
    target = pair.cfg.centre.connection_rate_target
    assert k.offered > agents and k.abandoned >= 1  # the scenario happened as planned
    assert k.connection_rate is not None and k.connection_rate < target - 0.02  # red, as planned
    assert shown["#offered"] == fmt_count(k.offered)
    assert shown["#answered"] == fmt_count(k.answered)
    assert shown["#rate-today"] == fmt_rate(k.connection_rate)
    assert shown["#answered-15s"] == fmt_rate(k.service_level)
    assert shown["#waiting"] == "0"  # every call has ended, so the store has all of them
    assert rate_class(k.connection_rate, target) == "rate-bad" and "rate-bad" in tile.split()
    # The exclusion is named on every rate label, as docs/metrics.md says.
    assert shown["#label-today"] == "今日接通率（不含10秒内放弃）"
    assert shown["#label-1h"].endswith("（不含10秒内放弃）") and shown["#label-24h"].endswith("（不含10秒内放弃）")
    queues = by_queue(records, sl, SHORT)
    assert queues and set(queues) <= set(rows)
    for name, q in queues.items():
        assert rows[name] == ["0", fmt_count(q.offered), fmt_count(q.answered), fmt_rate(q.connection_rate)], name
    assert {s: int(n) for s, n in agent_counts.items()} == {s: engine_states.get(s, 0) for s in agent_counts}
    assert sum(int(n) for n in agent_counts.values()) == agents
    assert errors == []


async def test_the_label_is_plain_when_the_exclusion_is_off(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"centre": cfg.centre.model_copy(update={"language": "en"})})
    async with running_pair(tmp_path, cfg=cfg, speed=100) as pair:
        await pair.sim.place_call("13800000001", dtmf="1", talk=5)
        await pair.settle(within=60)
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            page.set_default_timeout(GUARD)
            await page.goto(f"http://127.0.0.1:{pair.daemon.web_port}/")
            await wait_rendered(page)
            await page.wait_for_function("() => document.getElementById('offered').textContent !== '0'")
            assert await text(page, "#label-today") == "Connection rate today"
            assert await text(page, "#label-1h") == "Last 1 h"
            assert "rate-good" in str(await page.get_attribute("#tile-today", "class"))  # 1 of 1 answered
