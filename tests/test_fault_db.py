"""The database goes away for a simulated minute in the middle of a burst, on the real PostgreSQL.

A TCP proxy (tests/tcpproxy.py) sits between the daemon and PostgreSQL; cutting it resets every open
connection and every new one, as a crashed server or a broken network would. Routing must go on (calls
are answered during the outage), the writer must spool the records durably and flush them when the
database is back; then the store and the simulator agree call by call: none lost, none recorded twice,
none stuck.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from records.store import Store
from records.testing import throwaway_pg_database
from tests.pair import running_pair
from tests.tcpproxy import TcpProxy
from tests.test_fault_check import busy_load, in_flight, settle, verdict, wait_for

pytestmark = pytest.mark.postgres

SPEED = 100.0
CALLS = 90
OUTAGE = timedelta(minutes=1)  # simulated


async def test_postgres_down_for_a_minute_mid_burst(tmp_path: Path) -> None:
    try:
        db = throwaway_pg_database()
        url = await asyncio.to_thread(db.__enter__)
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        async with TcpProxy("127.0.0.1", 5432) as proxy:
            proxied = url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
            assert proxied != url
            async with running_pair(tmp_path, database=proxied, speed=SPEED, seed=31,
                                    sim_changes=busy_load()) as pair:
                d, sim = pair.daemon, pair.sim
                d.writer.retry_min, d.writer.retry_max = 0.05, 0.2  # real seconds: a minute is 0.6 s here
                load = asyncio.create_task(sim.run_load(calls=CALLS))
                try:
                    await wait_for(lambda: len(sim.ledger) >= CALLS // 3 and d.writer.written > 0)
                    flying = in_flight(sim)
                    records_before = d.stats.records
                    down_at = sim.clock.now()
                    await proxy.cut()
                    # A simulated minute at least, and until records have had to go to the spool.
                    await wait_for(lambda: sim.clock.now() - down_at >= OUTAGE and d.writer.spooled > 0)
                    up_at = sim.clock.now()
                    spooled, failures = d.writer.spooled, d.writer.failures
                    on_disk = len(await asyncio.to_thread(d.writer.spooled_records))
                    recorded_during = d.stats.records - records_before
                    proxy.restore()
                    await load
                finally:
                    if not load.done():
                        load.cancel()
                await settle(d, sim)
                v = verdict(d, sim)
                spool_left = len(await asyncio.to_thread(d.writer.spooled_records))
                dirty = d.writer.spool_dirty
        answered_during = [t for t in sim.ledger.values()
                           if t.answered_at is not None and down_at <= t.answered_at <= up_at]
        with Store(url) as direct:  # straight to PostgreSQL, not through the proxy
            stored = await asyncio.to_thread(direct.count)
    finally:
        await asyncio.to_thread(db.__exit__, None, None, None)
    assert flying > 0
    assert proxy.refused > 0  # the daemon did try the database during the outage
    assert answered_during, "no call was answered while the database was down"
    assert recorded_during > 0
    assert spooled > 0 and failures > 0 and on_disk > 0  # spooled durably, on disk
    assert not spool_left and not dirty  # and flushed once the database was back
    v.assert_clean("PostgreSQL down 1 sim-minute", 1, flying)
    assert v.calls == CALLS
    assert stored == CALLS
