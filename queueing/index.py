"""The two indexes that keep a routing decision short.

ReadyAgents: per queue, the ready agents in strategy order (a sorted list; the strategy's key is fixed
while the agent stays ready, so no re-sorting). WaitingCalls: per queue, one heap per distinct skill
requirement, ordered by (-priority, entry time, arrival number); an agent checks only the heads of the
heaps whose requirement it meets, so no decision scans the waiting calls.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator

CallKey = tuple[int, float, int]  # (-priority, entered timestamp, arrival number)
Skills = tuple[tuple[str, int], ...]


class ReadyAgents:
    __slots__ = ("_entries", "_items")

    def __init__(self) -> None:
        self._items: list[tuple[float, float, str]] = []
        self._entries: dict[str, tuple[float, float, str]] = {}

    def add(self, agent_id: str, k0: float, k1: float) -> None:
        if agent_id in self._entries:
            self.remove(agent_id)
        entry = (k0, k1, agent_id)
        self._entries[agent_id] = entry
        insort(self._items, entry)

    def remove(self, agent_id: str) -> None:
        entry = self._entries.pop(agent_id, None)
        if entry is not None:
            i = bisect_left(self._items, entry)
            del self._items[i]

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._entries

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return (entry[2] for entry in self._items)


class WaitingCalls:
    """Heaps with lazy deletion: an entry counts only while ``is_live(call_id, version)`` holds."""

    __slots__ = ("heaps",)

    def __init__(self) -> None:
        self.heaps: dict[Skills, list[tuple[CallKey, str, int]]] = {}

    def push(self, skills: Skills, key: CallKey, call_id: str, version: int) -> None:
        heap = self.heaps.get(skills)
        if heap is None:
            heap = self.heaps[skills] = []
        heapq.heappush(heap, (key, call_id, version))

    @staticmethod
    def head(
        heap: list[tuple[CallKey, str, int]], is_live: Callable[[str, int], bool]
    ) -> tuple[CallKey, str] | None:
        while heap:
            key, call_id, version = heap[0]
            if is_live(call_id, version):
                return key, call_id
            heapq.heappop(heap)
        return None

    def live(self, is_live: Callable[[str, int], bool]) -> Iterator[tuple[CallKey, str]]:
        for heap in self.heaps.values():
            for key, call_id, version in heap:
                if is_live(call_id, version):
                    yield key, call_id
