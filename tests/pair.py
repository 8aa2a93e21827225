"""The daemon and the PBX simulator side by side over real TCP on 127.0.0.1, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asterisk.sim import PbxSimulator, SimConfig
from callcenter.clock import Clock
from callcenter.daemon import Daemon
from callcenter.demo import override, without_roster
from callcenter.simwire import sim_config_for_daemon
from config.loader import load_config
from config.models import Config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
#: where simulated time starts unless a test asks for the wall clock: a Monday, 09:00 in Shanghai, so the
#: IVR's opening-hours branch and "today's" figures do not depend on when the suite runs (near midnight a
#: fast run crossed into the next local day and the wallboard's day no longer held every call)
MORNING = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class Pair:
    daemon: Daemon
    sim: PbxSimulator
    cfg: Config
    clock: Clock

    async def settle(self, within: float = 30.0) -> None:
        """Wait until the daemon has closed every call the simulator ended and the store has them."""
        async with asyncio.timeout(within):
            while self.daemon.ledger.calls or any(t.outcome is None for t in self.sim.ledger.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await self.daemon.writer.flush()


@contextlib.asynccontextmanager
async def running_pair(
    tmp_path: Path, *, database: str | None = None, speed: float = 200.0, seed: int = 7,
    sim_changes: dict[str, Any] | None = None, cfg: Config | None = None, roster: bool = False,
    origin: datetime | None = MORNING,
) -> AsyncIterator[Pair]:
    """``origin``: the simulated clock's start, shared by the daemon and the simulator; None: the wall clock."""
    cfg = cfg or load_config(EXAMPLE, environ={})
    if not roster:
        cfg = without_roster(cfg)
    cfg = override(cfg, database_url=database or f"sqlite:///{tmp_path / 'calls.db'}", web_port=0, agi_port=0)
    clock = Clock(speed, origin=origin)
    sim_cfg = sim_config_for_daemon(cfg, speed=speed, seed=seed, calls=0)
    sim_cfg = SimConfig.model_validate({**sim_cfg.model_dump(), "start": clock.origin, **(sim_changes or {})})
    async with PbxSimulator(sim_cfg) as sim:
        cfg = override(cfg, ami_host="127.0.0.1", ami_port=sim.ami_port)
        daemon = Daemon(cfg, clock=clock, spool_dir=tmp_path)
        task = asyncio.create_task(daemon.run(), name="daemon")
        try:
            async with asyncio.timeout(20):
                await daemon.ready.wait()
                await daemon.ami.wait_connected()
            sim.set_agi_url(f"agi://127.0.0.1:{daemon.agi_port}/ivr")
            yield Pair(daemon, sim, cfg, clock)
        finally:
            daemon.stop()
            async with asyncio.timeout(20):
                await task
