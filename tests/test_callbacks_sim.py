"""Callbacks (预约回电) end to end over real TCP: a caller chooses a callback in the IVR of the PBX simulator,
the daemon keeps it, and when an agent is free it originates the agent's phone into [cc-callback-dial], which
dials the citizen (asterisk/sim/callback.py plays the events as recorded from Asterisk 22)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from callcenter.demo import override
from callcenter.web.screenshot import WALL_SIZE, chromium
from config.loader import load_config
from records.callbacks import Callback, CallbackStore
from tests.pair import EXAMPLE, Pair, running_pair


async def _rows(pair: Pair, state: str, within: float = 30) -> list[Callback]:
    store = CallbackStore(create_engine(pair.cfg.database.url))
    async with asyncio.timeout(within):
        while True:
            done = [r for r in store.all() if r.state == state]
            if done:
                return done
            await asyncio.sleep(0.1)


async def test_an_ivr_callback_is_dialled_and_answered(tmp_path: Path) -> None:
    async with running_pair(tmp_path) as pair:
        call = await pair.sim.place_call("13800138000", dtmf=["1", "8", "13912345678#"],
                                          patience=900, talk=5)  # long prompts at 200x: no early hang-up
        await pair.sim.wait_call(call)
        (row,) = await _rows(pair, "answered")
        assert (row.number, row.queue, row.attempts, row.call_id) == ("13912345678", "general", 1, call)
        assert row.agent_id is not None and row.answered_at is not None
        snap = pair.daemon.snapshot()
        assert snap["callbacks"] == {"pending": 0, "answered": 1, "failed": 0}
        await pair.settle()
        # the callback's own channels (agent leg, citizen leg) are no citizen's call: one record, the IVR call
        assert pair.daemon.store.count() == 1
        metrics = pair.daemon.metrics_text()[0].decode()
        assert 'callcenter_callbacks_total{result="answered"} 1.0' in metrics
        assert "callcenter_callbacks_pending 0.0" in metrics


@pytest.mark.browser
async def test_the_wallboard_shows_callbacks_pending_and_done(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"callbacks": cfg.callbacks.model_copy(update={"attempts": 1})})
    no_answer = {"endpoints": {"PJSIP/13912345678@trunk": {"no_answer_rate": 1.0}}}
    async with running_pair(tmp_path, cfg=override(cfg), sim_changes=no_answer) as pair:
        for number in ("13912345678", "13912345679"):
            call = await pair.sim.place_call("13800138000", dtmf=["1", "8", f"{number}#"], patience=900, talk=5)
            await pair.sim.wait_call(call)
        await _rows(pair, "failed")
        await _rows(pair, "answered")
        async with chromium() as browser:
            page = await browser.new_page(viewport=WALL_SIZE)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"http://127.0.0.1:{pair.daemon.web_port}/")
            # (not screenshot.wait_rendered: no call reached an agent, so the rate stays "—")
            await page.wait_for_function("() => document.getElementById('callbacks-failed').textContent === '1'")
            shown = [str(await page.locator(sel).first.text_content()).strip() for sel in
                     ("#callbacks-pending", "#callbacks-answered", "#callbacks-failed")]
            labels = await page.locator(".kpi .label").all_text_contents()
    assert shown == ["0", "1", "1"] and errors == []
    assert "待回电" in labels and "今日已回电" in labels  # the example's language is zh


async def test_a_callback_nobody_answers_is_retried_then_given_up(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE, environ={})
    cfg = cfg.model_copy(update={"callbacks": cfg.callbacks.model_copy(update={"interval_seconds": 300.0})})
    no_answer = {"endpoints": {"PJSIP/13912345678@trunk": {"no_answer_rate": 1.0}}}
    async with running_pair(tmp_path, cfg=override(cfg), sim_changes=no_answer) as pair:
        call = await pair.sim.place_call("13800138000", dtmf=["1", "8", "13912345678#"],
                                          patience=900, talk=5)  # long prompts at 200x: no early hang-up
        await pair.sim.wait_call(call)
        (row,) = await _rows(pair, "failed", within=60)
        assert (row.attempts, row.last_result, row.answered_at) == (3, "NOANSWER", None)
        assert row.last_attempt_at is not None and row.requested_at is not None
        assert row.last_attempt_at - row.requested_at >= timedelta(seconds=600)  # two intervals
