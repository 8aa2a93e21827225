"""Hot standby: ``kill -9`` of the leader under load (40+ calls in flight); the standby takes over.

Two ``callcenter run`` processes with an ``ha`` section on one real PostgreSQL database and one PBX simulator
over real TCP. The leader is killed with SIGKILL while callers are in the IVR, on hold, ringing and talking.
The standby must route within 5 s (its /health/leader answers 200 once its resync has adopted every call),
and every call must end with exactly one record agreeing with the simulator: callers on hold stay on hold and
are routed, agents on calls stay on calls (no ring to an agent who is talking: checked from the PBX's side),
calls that ended in the gap are recorded once (the standby's witness + the CDRs), nothing is left open.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from pathlib import Path

import pytest

from callcenter.resync import OpenCallJournal
from records.store import Store
from records.testing import throwaway_pg_database
from tests.ha_pair import Cluster, Node, cluster
from tests.test_fault_check import EPOCH, Verdict, wait_for

pytestmark = pytest.mark.postgres

CALLS = 50


def pg_or_fail() -> object:
    try:
        return throwaway_pg_database()
    except Exception as exc:  # CI starts PostgreSQL: unreachable is a failure, never a skip
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {exc}")


async def start_pair(c: Cluster) -> tuple[Node, Node]:
    """Node a first (it leads), then node b (a warm standby)."""
    a, b = c.nodes
    await a.start()
    await a.wait_up()
    assert await c.leader(among=[a]) is a
    await b.start()
    await b.wait_up()
    async with asyncio.timeout(30):
        while await asyncio.to_thread(b.status, "/health/standby") != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return a, b


async def kill_leader_and_time_takeover(c: Cluster, leader: Node, standby: Node) -> float:
    t0 = time.monotonic()
    assert await leader.stop(signal.SIGKILL) == -signal.SIGKILL
    await c.leader(within=30, among=[standby])
    return time.monotonic() - t0


async def settle_records(c: Cluster, expected: int, within: float = 180) -> dict[str, object]:
    async with asyncio.timeout(within):
        await c.sim.drain()
    store = Store(c.db_url)
    try:
        async with asyncio.timeout(30):
            while await asyncio.to_thread(store.count) < expected:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a duplicate would be a second row: none may come late either
        return {r.call_id: r for r in store.records(EPOCH)}
    finally:
        store.close()


def journal_open(node: Node, db_url: str) -> set[str]:
    path = node.home / f"callcenter-open-{hashlib.sha256(db_url.encode()).hexdigest()[:12]}.jsonl"
    open_calls, _ = OpenCallJournal(path).load()
    return set(open_calls)


def check_calls(c: Cluster, records: dict[str, object], still_open: set[str]) -> Verdict:
    truth = c.sim.ledger
    v = Verdict(calls=len(truth))
    v.lost = sorted(set(truth) - set(records))
    v.duplicated = sorted(u for u, t in truth.items() if t.end_count != 1)
    v.stuck = sorted(still_open - set(records))
    v.wrong = [f"not a simulated call: {u}" for u in sorted(set(records) - set(truth))]
    for u, t in truth.items():
        rec = records.get(u)
        if rec is not None and (rec.outcome.value == "answered") != (t.outcome == "answered"):  # type: ignore[attr-defined]
            v.wrong.append(f"{u}: record {rec.outcome.value}, truth {t.outcome}")  # type: ignore[attr-defined]
        elif rec is not None and t.outcome == "answered" and rec.agent_id != t.answered_by:  # type: ignore[attr-defined]
            v.wrong.append(f"{u}: answered by {rec.agent_id}, truth {t.answered_by}")  # type: ignore[attr-defined]
    v.wrong += c.busy_rings()
    return v


async def test_kill_9_of_the_leader_with_40_calls_in_flight_standby_takes_over_in_5_s(tmp_path: Path) -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        async with cluster(tmp_path, db_url) as c:
            a, b = await start_pair(c)
            uids = await c.place(CALLS, spacing=0.1)
            sim = c.sim
            await wait_for(lambda: sum(1 for u in uids if sim.ledger[u].answered_by) >= 10, within=60)
            flying = sum(1 for u in uids if sim.ledger[u].outcome is None)
            waiting = sum(1 for u in uids if sim.ledger[u].reached_hold and not sim.ledger[u].answered_by)
            took = await kill_leader_and_time_takeover(c, a, b)
            records = await settle_records(c, CALLS)
            assert await b.stop(signal.SIGTERM) == 0
            still_open = journal_open(b, db_url)
            v = check_calls(c, records, still_open)
            a_user, b_user = a.ami_user, b.ami_user
            b_first = min(c.mutating_actions(b_user))
            a_last = max(c.mutating_actions(a_user))
            log_b = b.log_text()
    print(f"takeover {took:.2f} s with {flying} calls in flight ({waiting} waiting)")
    v.assert_clean("leader kill -9 (hot standby)", 1, flying)
    assert flying >= 40, f"only {flying} calls in flight at the kill"
    assert waiting > 0, "nobody was waiting at the kill: the test proves nothing about callers on hold"
    assert took < 5.0, f"takeover took {took:.2f} s"
    assert a_last < b_first  # the killed leader's actions all came before the new leader's first
    assert "node node-b leads (epoch 2, after node-a)" in log_b
