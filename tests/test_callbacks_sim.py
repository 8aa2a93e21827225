"""Callbacks (预约回电) end to end over real TCP: a caller chooses a callback in the IVR of the PBX simulator,
the daemon keeps it, and when an agent is free it originates the agent's phone into [cc-callback-dial], which
dials the citizen (asterisk/sim/callback.py plays the events as recorded from Asterisk 22)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from asterisk.ami.client import AmiClient
from asterisk.ami.codec import Message
from asterisk.sim import PbxSimulator, SimConfig
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


# ---- the simulator's Originate against the recording from Asterisk 22 ----------------------------------

RECORDING = Path(__file__).parent / "data" / "ami-callback-originate.txt"
ORIGINATES = (("1001", "9001"), ("1002", "8001"), ("1050", "9002"))  # as recorded


def _signature(get: Callable[[str], str | None]) -> tuple[str, ...] | None:
    """What must be alike: the callback's dial legs, the Originate's outcome, the dialplan's user events."""
    name = get("Event") or ""
    if name in ("DialBegin", "DialState", "DialEnd"):
        return (name, "with caller" if get("Channel") else "dest only", get("DialStatus") or "")
    if name == "OriginateResponse":
        return (name, get("Response") or "", get("Reason") or "")
    if name == "UserEvent" and (get("UserEvent") or "").startswith("CcCallback"):
        return (name, get("UserEvent") or "", get("DialStatus") or "")
    if name == "BridgeEnter":
        return (name,)
    return None


def _either_order(sigs: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """OriginateResponse Success and the dialplan's CcCallbackAgent come from two threads of Asterisk: recorded in
    both orders (the daemon needs neither). Compared in one order."""
    out = list(sigs)
    for i in range(len(out) - 1):
        if out[i][:2] == ("UserEvent", "CcCallbackAgent") and out[i + 1][0] == "OriginateResponse":
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _recorded() -> list[list[tuple[str, ...]]]:
    runs: list[list[tuple[str, ...]]] = []
    for part in RECORDING.read_text(encoding="utf-8").split(">>> Originate")[1:]:
        sigs = []
        for block in part.split("<<< ")[1:]:
            headers = dict(line.split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
            sig = _signature(lambda k, h=headers: h.get(k))  # type: ignore[misc]
            if sig is not None:
                sigs.append(sig)
        runs.append(_either_order(sigs))
    return runs


async def test_the_simulator_originates_a_callback_as_asterisk_22_did(tmp_path: Path) -> None:
    endpoints = {"Local/1001@lab-agents": {"answer_delay": 1.0}, "Local/1002@lab-agents": {"answer_delay": 1.0},
                 "Local/1050@lab-agents": {"no_answer_rate": 1.0}, "Local/9001@lab-citizen": {"answer_delay": 0.0},
                 "Local/8001@lab-citizen": {"no_answer_rate": 1.0}}
    cfg = SimConfig.model_validate({"ami_port": 0, "speed": 10.0, "endpoints": endpoints, "callback_talk": 1.0})
    seen: list[tuple[str, ...]] = []

    def on_event(msg: Message, _received: float) -> None:
        sig = _signature(msg.get)
        if sig is not None:
            seen.append(sig)

    runs = []
    async with PbxSimulator(cfg) as sim, AmiClient("127.0.0.1", sim.ami_port, "cc", "ccsecret",
                                                   on_event=on_event) as ami:
        await ami.wait_connected()
        for agent, number in ORIGINATES:
            seen.clear()
            await ami.action("Originate", [
                ("Channel", f"Local/{agent}@lab-agents"), ("Context", "cc-callback-dial"), ("Exten", "s"),
                ("Priority", "1"), ("Timeout", "4000"), ("Async", "true"), ("Variable", "CC_CALLBACK_ID=cb-1"),
                ("Variable", f"CC_CALLBACK_AGENT={agent}"),
                ("Variable", f"CC_CALLBACK_DIAL=Local/{number}@lab-citizen"),
                ("Variable", "CC_CALLBACK_RING=3")])
            await asyncio.sleep(0.9)  # 9 simulated seconds, as between the recorded Originates
            runs.append(_either_order(seen))
    assert runs == _recorded()
