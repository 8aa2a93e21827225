"""The daemon under shift rules, end to end over TCP against the PBX simulator: an agent off shift is
never offered a call; at the shift's end the agent on a call is logged out only after the call; a
queue's voicemail fallback redirects the waiting caller to [cc-voicemail]."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from config.loader import load_config_text
from config.models import Config
from queueing import AgentState
from tests.pair import running_pair as _running_pair

TZ = ZoneInfo("Asia/Shanghai")
PHONE = {"answer_delay": 1.0, "answer_delay_sigma": 0.0, "no_answer_rate": 0.0, "busy_rate": 0.0}


def hhmm(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%H:%M")


def running_pair(tmp_path: Path, **kw: Any) -> Any:
    """The shifts below are written from the wall clock: simulated time starts at it too."""
    return _running_pair(tmp_path, origin=None, **kw)


def config(*, end_in: timedelta = timedelta(hours=1), queue: dict[str, Any] | None = None,
           on_shift: bool = True) -> Config:
    """Agent 2001 (team 'on') on a shift that ends ``end_in`` from now; 2002 (team 'off') on a shift
    six hours away."""
    now = datetime.now(TZ)
    start = now - timedelta(hours=2) if on_shift else now + timedelta(hours=3)
    end = now + end_in if on_shift else now + timedelta(hours=4)
    data = {
        "centre": {"name": "test", "language": "en"},
        "ami": {"username": "callcenter", "secret": "s3cret"},
        "queues": [{"name": "general", "label_zh": "综合", "label_en": "General", "wrapup_seconds": 5,
                    **(queue or {})}],
        "agents": [
            {"id": "2001", "name": "A", "endpoint": "PJSIP/2001", "team": "on", "queues": ["general"]},
            {"id": "2002", "name": "B", "endpoint": "PJSIP/2002", "team": "off", "queues": ["general"]},
        ],
        "shifts": [
            {"name": "now", "team": "on", "start": hhmm(start), "end": hhmm(end)},
            {"name": "later", "team": "off", "start": hhmm(now + timedelta(hours=6)),
             "end": hhmm(now + timedelta(hours=8))},
        ],
        "shift_rules": {"ready_grace_minutes": 0, "no_offer_last_minutes": 1, "logout_grace_minutes": 1},
        "ivr": {"mode": "flat", "queue": "general"},
    }
    return load_config_text(yaml.safe_dump(data, allow_unicode=True), "shifts.yaml", environ={})


def calls(n: int, *, talk: float, every: float = 5.0, patience: float = 900.0) -> list[dict[str, Any]]:
    return [{"caller": f"1390000{i:04d}", "arrival": 1.0 + i * every, "talk": talk, "patience": patience}
            for i in range(n)]


def sim(scripts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"calls": scripts, "endpoints": {}, "default_endpoint": PHONE}


async def test_off_shift_agent_is_never_offered_a_call(tmp_path: Path) -> None:
    async with running_pair(tmp_path, speed=300, roster=True, cfg=config(), sim_changes=sim(calls(8, talk=20))) as pair:
        engine = pair.daemon.engine
        assert engine.agent_state("2002")[0] is AgentState.LOGGED_OUT  # off shift: not logged in
        assert engine.agent_state("2001")[0] is AgentState.READY
        await pair.sim.run_load(calls=8)
        await pair.settle()
        truth = pair.sim.ledger.values()
        assert len(truth) == 8 and all(t.outcome == "answered" for t in truth)
        assert {a for t in truth for a in t.offered_to} == {"2001"}
        assert engine.agent_state("2002")[0] is AgentState.LOGGED_OUT
        assert pair.daemon.stats.engine_errors == 0


async def test_shift_end_logout_waits_for_the_call(tmp_path: Path) -> None:
    cfg = config(end_in=timedelta(minutes=3))
    async with running_pair(tmp_path, speed=300, roster=True, cfg=cfg, sim_changes=sim(calls(1, talk=600))) as pair:
        rules = pair.daemon.shift_rules
        assert rules is not None
        shift = rules.current("2001", pair.clock.now())
        assert shift is not None
        logout_due = shift.end + rules.logout_grace
        load = asyncio.create_task(pair.sim.run_load(calls=1))
        try:
            async with asyncio.timeout(20):
                while pair.clock.now() < logout_due + timedelta(seconds=30):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            # The shift and its grace are over, the call is not: the agent stays on it.
            assert pair.daemon.engine.agent_state("2001")[0] is AgentState.ON_CALL
            await load
        finally:
            if not load.done():
                load.cancel()
        await pair.settle()
        (t,) = pair.sim.ledger.values()
        assert t.outcome == "answered" and t.answered_by == "2001"
        assert t.ended_at is not None and t.ended_at > logout_due
        async with asyncio.timeout(10):
            while pair.daemon.engine.agent_state("2001")[0] is not AgentState.LOGGED_OUT:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert pair.daemon.engine.agent_state("2002")[0] is AgentState.LOGGED_OUT


async def test_voicemail_fallback_redirects_the_caller(tmp_path: Path) -> None:
    # Nobody on shift; the queue gives callers up to voicemail after 30 s.
    cfg = config(on_shift=False, queue={"max_wait": 30, "fallback": "voicemail"})
    async with running_pair(tmp_path, speed=300, roster=True, cfg=cfg, sim_changes=sim(calls(2, talk=10))) as pair:
        await pair.sim.run_load(calls=2)
        await pair.settle()
        truth = list(pair.sim.ledger.values())
        assert [t.outcome for t in truth] == ["fallback", "fallback"]
        assert all(not t.offers for t in truth)
        assert pair.daemon.stats.fallbacks == 2 and pair.daemon.stats.engine_errors == 0
        assert pair.daemon.store.count() == 2
