"""The daemon's clock: the only place that reads the time.

The core never reads a clock; the shell stamps each event with ``clock.now()``. For the
demo and the tests the clock may run faster than real time (``speed``), in step with the
PBX simulator, so that a day of calls takes minutes and every duration in the records is
in simulated seconds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, speed: float = 1.0, *, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._mono0 = time.monotonic()
        self.origin = origin or datetime.now(UTC)

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.monotonic() - self._mono0) * self.speed)

    def seconds_until(self, due: datetime) -> float:
        """Real seconds to wait until the simulated time ``due``."""
        return max(0.0, (due - self.now()).total_seconds() / self.speed)

    async def sleep_until(self, due: datetime) -> None:
        await asyncio.sleep(self.seconds_until(due))

    async def sleep(self, simulated_seconds: float) -> None:
        await asyncio.sleep(max(0.0, simulated_seconds) / self.speed)
