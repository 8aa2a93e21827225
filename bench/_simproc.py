"""Shared by the end-to-end benchmarks: the PBX simulator in its OWN process (spawn) so it does not share
the daemon's core, and the daemon started beside it in this process, both over TCP on 127.0.0.1.

Protocol over the pipe: the child sends its AMI port; the parent sends the daemon's FastAGI port; then,
for each load in ``loads``, the child places that many calls, waits until they all ended and sends a
result dict; between loads it waits for the parent's "go" (the parent settles and measures meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import resource
import time
from collections import Counter
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from typing import Any

from asterisk.sim import SimConfig
from callcenter.daemon import Daemon


def sim_process(conn: Connection, sim_cfg: SimConfig, loads: list[int], ledger: bool) -> None:
    asyncio.run(_sim_main(conn, sim_cfg, loads, ledger))


async def _sim_main(conn: Connection, sim_cfg: SimConfig, loads: list[int], ledger: bool) -> None:
    from asterisk.sim import PbxSimulator

    async with PbxSimulator(sim_cfg) as sim:
        conn.send(sim.ami_port)
        agi_port = await asyncio.to_thread(conn.recv)
        sim.set_agi_url(f"agi://127.0.0.1:{agi_port}/ivr")
        for i, calls in enumerate(loads):
            if i:
                await asyncio.to_thread(conn.recv)  # the parent's go
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            ids = await sim.run_load(calls=calls)
            wall = time.monotonic() - t0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            arrivals = sorted(sim.ledger[u].arrived_at for u in ids)
            span_sim = (arrivals[-1] - arrivals[0]).total_seconds() if len(arrivals) > 1 else 0.0
            result: dict[str, Any] = {
                "calls": len(ids),
                "outcomes": dict(Counter(str(sim.ledger[u].outcome) for u in ids)),
                "wall_seconds": wall,
                "arrival_span_real": span_sim / sim_cfg.speed,
                "cpu_seconds": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
            }
            if ledger:  # the ground truth, call by call: (outcome, how many times the call ended)
                result["ledger"] = {u: (str(sim.ledger[u].outcome), sim.ledger[u].end_count) for u in ids}
            conn.send(result)


class SimHandle:
    """The parent's end of a simulator process."""

    def __init__(self, conn: Connection, ami_port: int) -> None:
        self._conn = conn
        self.ami_port = ami_port

    def start(self, agi_port: int) -> None:
        """Tell the simulator where the daemon's FastAGI listens: the first load starts."""
        self._conn.send(agi_port)

    def go(self) -> None:
        """Start the next load."""
        self._conn.send("go")

    async def result(self) -> dict[str, Any]:
        """Wait for the current load's result (all its calls ended)."""
        result: dict[str, Any] = await asyncio.to_thread(self._conn.recv)
        return result


@contextlib.asynccontextmanager
async def sim_in_process(sim_cfg: SimConfig, loads: list[int], *, ledger: bool = False) -> AsyncIterator[SimHandle]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=sim_process, args=(child, sim_cfg, loads, ledger), daemon=True)
    proc.start()
    try:
        ami_port = await asyncio.to_thread(parent.recv)
        yield SimHandle(parent, ami_port)
    finally:
        await asyncio.to_thread(proc.join, 10)
        if proc.is_alive():
            proc.terminate()
            await asyncio.to_thread(proc.join, 5)
        parent.close()
        child.close()


@contextlib.asynccontextmanager
async def running_daemon(daemon: Daemon, within: float = 30.0) -> AsyncIterator[Daemon]:
    """Run ``daemon`` until the block ends (a clean stop: records drained), once it is ready and on AMI."""
    task = asyncio.create_task(daemon.run(), name="daemon")
    try:
        async with asyncio.timeout(within):
            await daemon.ready.wait()
            await daemon.ami.wait_connected()
        yield daemon
    finally:
        daemon.stop()
        async with asyncio.timeout(within):
            await task


async def settle(daemon: Daemon, within: float = 60.0) -> None:
    """The daemon closed every call and the store has every record."""
    async with asyncio.timeout(within):
        while daemon.ledger.calls:  # noqa: ASYNC110 (a bounded poll)
            await asyncio.sleep(0.01)
        await daemon.writer.flush()
