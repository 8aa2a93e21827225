"""Hot standby: fencing and election, checked from the PBX's side and in the database.

- The leader's database connection is cut (tests/tcpproxy.py between it and PostgreSQL): it cannot renew its
  lease, fences itself at its local deadline (its AMI client refuses every action that changes calls), steps
  down (exit status 75, for its supervisor to start it again) and the standby takes over once the lease has
  expired on the database's clock. The simulator's action log (which AMI user sent what, when) shows no
  action from the old leader after the new leader's first. Started again with its database back, the old
  leader comes up as a standby; every call has exactly one record.
- Both daemons started at once: exactly one leads (one term, epoch 1), the other is a warm standby.
- The lease itself under a race: many nodes try to take it at the same instant; exactly one wins.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter.ha.lease import Acquired, LeaseStore
from callcenter.ha.node import STEPPED_DOWN
from tests.ha_pair import cluster
from tests.tcpproxy import TcpProxy
from tests.test_fault_check import wait_for
from tests.test_ha_takeover import check_calls, journal_open, pg_or_fail, settle_records, start_pair

pytestmark = pytest.mark.postgres


async def test_leader_cut_from_the_database_steps_down_and_never_acts_after_the_new_leader(tmp_path: Path) -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        async with TcpProxy("127.0.0.1", 5432) as proxy:
            proxied = db_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
            assert proxied != db_url
            async with cluster(tmp_path, db_url, db_urls={"node-a": proxied}, seed=33) as c:
                a, b = await start_pair(c)
                sim = c.sim
                uids = await c.place(30, spacing=0.1)
                await wait_for(lambda: sum(1 for u in uids if sim.ledger[u].answered_by) >= 8, within=60)
                cut_at = time.monotonic()
                await proxy.cut()
                async with asyncio.timeout(20):
                    assert await a.proc.wait() == STEPPED_DOWN  # type: ignore[union-attr]
                stepped_down = time.monotonic() - cut_at
                await c.leader(within=20, among=[b])
                took = time.monotonic() - cut_at
                uids += await c.place(10, start=100, spacing=0.1)  # calls after the takeover, for the new leader
                proxy.restore()
                first_term_over = time.monotonic()  # node a's first process is gone: its actions all came before
                await a.start()  # as its supervisor would: it comes back as a standby
                await a.wait_up()
                async with asyncio.timeout(30):
                    while await asyncio.to_thread(a.status, "/health/standby") != 200:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                records = await settle_records(c, len(uids))
                b_term_over = time.monotonic()  # b gives the lease back at its stop: a (the standby) leads next
                assert await b.stop(signal.SIGTERM) == 0
                v = check_calls(c, records, journal_open(b, db_url))
                a_actions = [t for t in c.mutating_actions(a.ami_user) if t < first_term_over]
                b_actions = [t for t in c.mutating_actions(b.ami_user) if t < b_term_over]
                log_a = a.log_text()
    print(f"cut -> stepped down {stepped_down:.2f} s, cut -> new leader routing {took:.2f} s; old leader's last "
          f"action {max(a_actions) - cut_at:+.2f} s, new leader's first {min(b_actions) - cut_at:+.2f} s")
    v.assert_clean("leader's database cut (hot standby)", 1, None)
    assert a_actions and b_actions
    assert max(a_actions) < min(b_actions), "two leaders acted in turn"
    assert max(a_actions) - cut_at < 3.0  # the lease (3 s) less the margin: fenced before it could expire
    assert "steps down (epoch 1)" in log_a and "node node-b leads (epoch 2, after node-a)" in b.log_text()


async def test_both_daemons_started_at_once_exactly_one_leads(tmp_path: Path) -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        async with cluster(tmp_path, db_url) as c:
            await asyncio.gather(*(n.start() for n in c.nodes))
            for n in c.nodes:
                await n.wait_up()
            leader = await c.leader()
            (standby,) = [n for n in c.nodes if n is not leader]
            for _ in range(20):  # over ~3 s: never two leaders, never none
                codes = await asyncio.gather(*(asyncio.to_thread(n.status, "/health/leader") for n in c.nodes))
                assert sorted(codes) == [200, 503], codes
                await asyncio.sleep(0.15)
            assert await asyncio.to_thread(standby.status, "/health/standby") == 200
            assert standby.metric("callcenter_ha_leader") == 0.0 and leader.metric("callcenter_ha_leader") == 1.0
            assert leader.metric("callcenter_ha_epoch") == 1.0  # one term: nobody took over from anybody
            for n in c.nodes:
                assert await n.stop(signal.SIGTERM) == 0


def test_many_nodes_racing_for_the_lease_exactly_one_wins() -> None:
    with pg_or_fail() as db_url:  # type: ignore[attr-defined]
        stores = [LeaseStore(db_url, timeout=5) for _ in range(8)]
        try:
            barrier = threading.Barrier(len(stores))
            results: list[Acquired | None] = [None] * len(stores)

            def race(i: int) -> None:
                stores[i].setup()  # the table too: created once, under its lock
                barrier.wait()
                results[i] = stores[i].try_acquire(f"n{i}", None, 3.0)

            threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            winners = [i for i, r in enumerate(results) if r is not None]
            assert len(winners) == 1, results
            view = stores[0].read()
            assert (view.holder, view.epoch, view.live) == (f"n{winners[0]}", 1, True)
            # the holder renews; another node cannot renew it, nor take it while it lives
            assert stores[winners[0]].renew(f"n{winners[0]}", 1, 3.0) is not None
            other = (winners[0] + 1) % len(stores)
            assert stores[other].renew(f"n{other}", 1, 3.0) is None
            assert stores[other].try_acquire(f"n{other}", None, 3.0) is None
            # expired on the database's clock: the next node takes it, in a new epoch; the old holder cannot renew
            with stores[0].engine.begin() as conn:
                conn.execute(text("UPDATE callcenter_lease SET expires_at = clock_timestamp() - interval '1 s'"))
            got = stores[other].try_acquire(f"n{other}", None, 3.0)
            assert got is not None and got.epoch == 2 and got.previous == f"n{winners[0]}"
            assert stores[winners[0]].renew(f"n{winners[0]}", 1, 3.0) is None
        finally:
            for s in stores:
                s.close()
