"""On the real Asterisk 22: callbacks (预约回电) dialled out (issue 14, item 6).

Two callback requests are in the database before the daemon starts (as a daemon restart finds them): the
daemon queues them at their place, originates the agent's phone into the shipped [cc-callback-dial], which
dials the citizen through ``callbacks.trunk`` (here a Local channel into the lab's [lab-citizen]); the agent
is the lab phone 1070, which stays on the line 30 s after answering. 9001 answers; 8001 never does, so it
is tried ``attempts`` times, ``interval_seconds`` apart, then given up.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from records.callbacks import Callback, CallbackStore
from tests.integration.harness import DaemonProcess, lab_config
from tests.integration.lab import Lab


def _callbacks(raw: dict[str, Any]) -> None:
    raw["callbacks"] = {"trunk": "Local/{number}@lab-citizen", "attempts": 2, "interval_seconds": 2,
                        "ring_seconds": 5, "agent_ring_seconds": 10, "hours": ["00:00", "23:59"]}


async def _finished(store: CallbackStore, ids: list[int], within: float) -> list[Callback]:
    async with asyncio.timeout(within):
        while True:
            rows = [await asyncio.to_thread(store.get, i) for i in ids]
            if all(r is not None and r.state in ("answered", "failed") for r in rows):
                return [r for r in rows if r is not None]
            await asyncio.sleep(0.5)


async def test_callbacks_answered_and_given_up_on_the_real_pbx(lab: Lab, tmp_path: Path) -> None:
    cfg = lab_config(lab, tmp_path, agents={"1001": "Local/1070@lab-agents"}, edit=_callbacks)
    daemon = DaemonProcess(cfg, tmp_path)
    store = CallbackStore(create_engine(daemon.db_url))
    start = datetime.now(UTC)
    first = store.add("call-a", "9001", "general", start, start - timedelta(seconds=60))
    second = store.add("call-b", "8001", "general", start, start - timedelta(seconds=30))
    await daemon.start()
    try:
        answered, failed = await _finished(store, [first.id, second.id], within=90)
    finally:
        await daemon.stop()
    assert (answered.state, answered.agent_id, answered.attempts, answered.last_result) == (
        "answered", "1001", 1, "ANSWER"), daemon.log()
    assert answered.answered_at is not None and start < answered.answered_at <= (answered.finished_at or start)
    assert (failed.state, failed.attempts) == ("failed", 2), daemon.log()
    assert failed.last_result == "NOANSWER" and failed.answered_at is None
    assert "Originate to agent" not in daemon.log()  # none sent before the AMI login and resync
    # the earlier place is dialled first: the first callback was answered before the second was first tried
    assert failed.last_attempt_at is not None and answered.finished_at is not None
    assert answered.finished_at < failed.last_attempt_at
