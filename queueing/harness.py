"""A small driver that plays the shell's part for tests and simulations: it keeps the engine's timers
in a heap and fires them in time order (no clock: time moves only when told)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime
from itertools import count

from .commands import CancelTimer, Command, StartTimer
from .engine import Engine
from .events import Event, TimerFired
from .timerkeys import TimerKey


class Harness:
    def __init__(
        self,
        engine: Engine,
        now: datetime,
        after: Callable[[Event, list[Command]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.after = after  # called with each event and its commands (invariant checks)
        self.now = now
        self.log: list[Command] = []
        self._heap: list[tuple[datetime, int, TimerKey]] = []
        self._live: dict[TimerKey, int] = {}
        self._seq = count()

    def send(self, event: Event) -> list[Command]:
        self.advance(event.at)
        return self._run(event)

    def advance(self, to: datetime) -> list[Command]:
        """Fire every timer due up to ``to`` (in order), then set the time to ``to``."""
        fired: list[Command] = []
        while self._heap and self._heap[0][0] <= to:
            due, gen, key = heapq.heappop(self._heap)
            if self._live.get(key) == gen:
                del self._live[key]
                self.now = max(self.now, due)
                fired += self._run(TimerFired(self.now, key))
        self.now = max(self.now, to)
        return fired

    def pending(self) -> dict[TimerKey, datetime]:
        return {key: due for due, gen, key in self._heap if self._live.get(key) == gen}

    def _run(self, event: Event) -> list[Command]:
        out = self.engine.handle(event)
        if self.after is not None:
            self.after(event, out)
        for cmd in out:
            if isinstance(cmd, StartTimer):
                gen = next(self._seq)
                self._live[cmd.key] = gen
                heapq.heappush(self._heap, (cmd.due, gen, cmd.key))
            elif isinstance(cmd, CancelTimer):
                self._live.pop(cmd.key, None)
        self.log += out
        return out
