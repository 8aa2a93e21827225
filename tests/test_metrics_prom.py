"""Prometheus exposition: counters equal the store's counts, gauges equal the snapshot."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.live import LiveStats
from metrics.prom import register
from records.model import RECORD_OUTCOMES, CallRecordData
from records.store import Store
from records.testing import make_record, throwaway_pg_database

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def random_day(n: int, seed: int = 7) -> list[CallRecordData]:
    rnd = random.Random(seed)
    outcomes = list(RECORD_OUTCOMES)
    recs = []
    for i in range(n):
        recs.append(make_record(
            f"p{i}", rnd.choice(outcomes), entered_at=NOW - timedelta(hours=8) + timedelta(seconds=20 * i),
            queue=rnd.choice(["main", "tax", "water"]),
            wait=rnd.choice([3.0, 14.0, 15.0, 16.0, 59.0, 400.0, 900.0]),
            caller=f"139{rnd.randrange(10**8):08d}"))
    return recs


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        with Store(f"sqlite:///{tmp_path / 'cc.db'}") as s:
            yield s
        return
    try:
        ctx = throwaway_pg_database()
        url = ctx.__enter__()
    except Exception as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not usable: {type(exc).__name__}: {exc}")
    try:
        with Store(url) as s:
            yield s
    finally:
        ctx.__exit__(None, None, None)


class Writer:
    written = 1234
    spooled = 5


def test_counters_equal_store_counts(store: Store) -> None:
    recs = random_day(500)
    assert store.write_batch(recs + recs[:50]) == 500  # a replay adds nothing
    stats = LiveStats(queues=[("main", "Main"), ("tax", "Tax"), ("water", "Water")])
    stats.add_records(store.records(NOW - timedelta(days=1)))
    registry = CollectorRegistry()
    register(registry, stats, Writer(), clock=lambda: NOW)
    got = samples(registry)

    by_queue_outcome = store.outcome_counts()
    offered: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    abandoned: Counter[tuple[str, str]] = Counter()
    for (queue, outcome), n in by_queue_outcome.items():
        if outcome in ("answered", "abandoned_queue", "abandoned_ringing"):
            offered[str(queue)] += n
        if outcome == "answered":
            answered[str(queue)] += n
        if outcome.startswith("abandoned_"):
            abandoned[(queue or "_none", outcome.removeprefix("abandoned_"))] += n
    assert sum(offered.values()) > 100 and sum(abandoned.values()) > 50
    for q in ("main", "tax", "water"):
        assert got[("callcenter_calls_offered_total", (("queue", q),))] == offered[q]
        assert got[("callcenter_calls_answered_total", (("queue", q),))] == answered[q]
        assert got[("callcenter_wait_seconds_count", (("queue", q),))] == offered[q]
        assert got[("callcenter_wait_seconds_bucket", (("le", "+Inf"), ("queue", q)))] == offered[q]
    for (q, stage), n in abandoned.items():
        assert got[("callcenter_calls_abandoned_total", (("queue", q), ("stage", stage)))] == n
    all_today = got[("callcenter_connection_rate", (("queue", "_all"), ("window", "today")))]
    assert all_today == pytest.approx(sum(answered.values()) / sum(offered.values()))
    assert got[("callcenter_records_written_total", ())] == 1234
    assert got[("callcenter_records_spooled_total", ())] == 5


def test_gauges_equal_the_snapshot() -> None:
    stats = LiveStats(queues=[("main", "Main"), ("tax", "Tax")])
    stats.add_records(random_day(200, seed=3))
    stats.set_waiting("main", "w1", NOW - timedelta(seconds=42))
    stats.set_agent_state("1001", "ready")
    stats.set_agent_state("1002", "wrap_up")
    stats.set_ami_connected(True)
    registry = CollectorRegistry()
    register(registry, stats, clock=lambda: NOW)
    got = samples(registry)
    snap = stats.snapshot(NOW)
    centre = snap["centre"]
    assert got[("callcenter_calls_waiting", (("queue", "_all"),))] == centre["waiting"] == 1
    assert got[("callcenter_longest_wait_seconds", (("queue", "main"),))] == 42.0
    assert got[("callcenter_longest_wait_seconds", (("queue", "tax"),))] == 0.0
    rate = "callcenter_connection_rate"
    # A rate with nothing offered (None in the snapshot) is absent from the exposition.
    assert centre["connection_rate_1h"] is None and centre["connection_rate_24h"] is not None
    for window, key in (("today", "connection_rate"), ("1h", "connection_rate_1h"),
                        ("24h", "connection_rate_24h")):
        assert got.get((rate, (("queue", "_all"), ("window", window)))) == centre[key]
    for q in snap["queues"]:
        assert got[(rate, (("queue", q["name"]), ("window", "today")))] == q["connection_rate"]
    for state, n in snap["agents"].items():
        assert got[("callcenter_agents", (("state", state),))] == n
    assert got[("callcenter_ami_connected", ())] == 1.0
    assert ("callcenter_records_written_total", ()) not in got  # no writer given


def test_two_registries_do_not_clash() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    register(a, LiveStats(), clock=lambda: NOW)
    register(b, LiveStats(), clock=lambda: NOW)
    assert samples(a) == samples(b)
