"""Shared by the engine tests: a fixed start time, seconds after it, an engine in a harness, agents made ready."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queueing import AgentLoggedIn, AgentReady, AgentSpec, Engine, EngineConfig, QueueSpec
from queueing.harness import Harness

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make(queues: list[QueueSpec], agents: list[AgentSpec]) -> Harness:
    return Harness(Engine(EngineConfig(tuple(queues), tuple(agents))), T0)


def ready(h: Harness, *ids: str, at: float = 0) -> None:
    for aid in ids:
        h.send(AgentLoggedIn(t(at), aid))
        h.send(AgentReady(t(at), aid))
