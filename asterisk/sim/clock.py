"""Simulated time: ``speed`` simulated seconds pass per real second.

Each call keeps its own simulated position (``vt``, seconds since the simulator started); a
wait in the dialplan moves it by exactly the scheduled amount and sleeps until the matching real
moment, so a seeded run without outside interference makes the same decisions every time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        self.start = start
        self.speed = speed
        self._t0 = asyncio.get_running_loop().time()

    def elapsed(self) -> float:
        """Simulated seconds since the start, as the real clock says."""
        return (asyncio.get_running_loop().time() - self._t0) * self.speed

    def real(self, vt: float) -> float:
        """The event-loop time at which simulated second ``vt`` falls."""
        return self._t0 + vt / self.speed

    def at(self, vt: float) -> datetime:
        return self.start + timedelta(seconds=vt)

    def now(self) -> datetime:
        return self.at(self.elapsed())

    def epoch(self, vt: float) -> float:
        return self.at(vt).timestamp()
