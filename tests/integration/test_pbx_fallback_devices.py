"""On the real Asterisk 22: calls its own queue ([cc-fallback], app_queue) handles are recorded with what
happened (issue 14, item 4), and a phone busy with such a call is offered nothing by the daemon (item 5).

The callers sent to the fallback here have their FastAGI pointed at a port where nothing listens (the
connection is refused), so the shipped dialplan hands them to app_queue while the daemon is up and watching.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from records.model import Outcome
from tests.integration.harness import AGENTS, DaemonProcess, Phones, agent_of, lab_config, wait_records
from tests.integration.lab import Lab
from tests.ports import free_ports


async def test_fallback_queue_calls_recorded_answered_and_abandoned(lab: Lab, phones: Phones, tmp_path: Path) -> None:
    daemon = DaemonProcess(lab_config(lab, tmp_path), tmp_path)
    (refused,) = free_ports(1)
    await daemon.start()
    try:
        answered = await phones.call(patience=60, talk=4, agi_url=f"agi://127.0.0.1:{refused}/ivr")
        await asyncio.sleep(0.5)
        # every member rings 30 s before answering: this caller hangs up while a phone rings
        lost = await phones.call(patience=6, answer_delay=30, agi_url=f"agi://127.0.0.1:{refused}/ivr")
        await phones.all_ended(within=90)
        records = await wait_records(daemon, 2)
    finally:
        await daemon.stop()
    assert answered.fallback and lost.fallback  # the PBX's CcFallback: both went to app_queue
    assert answered.answered_by is not None and lost.answered_by is None
    a, b = records[answered.number], records[lost.number]
    assert (a.outcome, a.agent_id, a.fallback_queue) == (Outcome.ANSWERED, agent_of(answered.answered_by), True)
    assert a.queued_at is not None and a.wait_seconds is not None and a.wait_seconds < 5
    assert a.talk_seconds is not None and 3 < a.talk_seconds < 8
    assert (b.outcome, b.agent_id, b.fallback_queue) == (Outcome.ABANDONED_RINGING, None, True)
    assert b.wait_seconds is not None and 2 < b.wait_seconds < 8


async def test_no_daemon_ring_to_a_phone_busy_with_a_fallback_call(lab: Lab, phones: Phones, tmp_path: Path) -> None:
    """Four agents: up to three of their phones get long calls from Asterisk's queue, then the daemon routes six
    callers; restarted in the middle, it must still ring only free phones."""
    agents = dict(list(AGENTS.items())[:4])  # Asterisk's queue has all ten lab phones as members
    daemon = DaemonProcess(lab_config(lab, tmp_path, agents=agents), tmp_path)
    (refused,) = free_ports(1)
    await daemon.start()
    try:
        busy = [await phones.call(patience=240, talk=180, agi_url=f"agi://127.0.0.1:{refused}/ivr")
                for _ in range(3)]
        await phones.wait(lambda: all(t.answered_by for t in busy), 30, "the fallback queue answered three calls")
        busy_phones = {t.answered_by for t in busy}
        routed = [await phones.call(patience=90, talk=2) for _ in range(3)]
        await phones.wait(lambda: all(t.ended for t in routed), 80, "the first routed callers ended")
        await daemon.stop()
        await daemon.start()  # the new daemon knows the busy phones only from its resync
        routed += [await phones.call(patience=90, talk=2) for _ in range(3)]
        await phones.wait(lambda: all(t.ended for t in routed), 80, "the routed callers ended")
    finally:
        await daemon.stop()
    assert not any(t.fallback for t in routed), "a routed caller went to the fallback queue"
    assert all(not t.ended for t in busy), "a fallback call ended during the test: its phone was free again"
    rung = [p for t in routed for p in [*t.rang, t.answered_by] if p]
    assert len(rung) == len(routed), rung
    assert not busy_phones & set(rung), (busy_phones, rung)
