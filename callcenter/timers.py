"""Timers the core asks for (``StartTimer``) and gets back as events (``TimerFired``)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from datetime import datetime

from callcenter.clock import Clock


class TimerService:
    def __init__(self, clock: Clock, fire: Callable[[Hashable, datetime], None]) -> None:
        self._clock = clock
        self._fire = fire
        self._heap: list[tuple[datetime, int, Hashable]] = []
        self._due: dict[Hashable, int] = {}  # key -> generation of its live entry
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def start(self, key: Hashable, due: datetime) -> None:
        gen = next(self._seq)
        self._due[key] = gen
        heapq.heappush(self._heap, (due, gen, key))
        self._wake.set()

    def cancel(self, key: Hashable) -> None:
        # Lazy deletion: the heap entry stays, its generation no longer matches.
        self._due.pop(key, None)

    def __len__(self) -> int:
        return len(self._due)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock.now()
            while self._heap and self._heap[0][0] <= now:
                _, gen, key = heapq.heappop(self._heap)
                if self._due.get(key) == gen:
                    del self._due[key]
                    self._fire(key, now)
            if not self._heap:
                await self._wake.wait()
                continue
            delay = self._clock.seconds_until(self._heap[0][0])
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
