"""Erlang-A and Erlang C against published values, pyworkforce's Erlang C, exact identities and a direct
simulation of the M/M/n+M queue; the interval requirement search."""

from __future__ import annotations

import heapq
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staffing.erlang import erlang_a, erlang_c_service_level, erlang_c_wait
from staffing.requirements import Targets, agents_needed, meets, scheduled


@pytest.mark.parametrize(("traffic", "n", "published"), [
    (2.0, 3, 4 / 9),  # M/M/3 at rho = 2/3: C(3, 2) = 4/9 exactly
    (10.0, 12, 0.4494),  # the textbook table value for 10 Erlangs on 12 agents
    (10.0, 11, 0.6821),
])
def test_erlang_c_matches_published_values(traffic: float, n: int, published: float) -> None:
    assert erlang_c_wait(traffic, n) == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize(("calls", "aht_min", "n", "t"), [(100, 3.0, 12, 20), (60, 4.0, 10, 15), (300, 2.5, 28, 30)])
def test_erlang_c_and_erlang_a_with_endless_patience_agree_with_pyworkforce(calls: int, aht_min: float, n: int,
                                                                            t: float) -> None:
    from pyworkforce.queuing import ErlangC

    ref = ErlangC(transactions=calls, asa=t / 60, aht=aht_min, interval=30, shrinkage=0.0)
    traffic = calls * aht_min / 30
    assert erlang_c_wait(traffic, n) == pytest.approx(ref.waiting_probability(positions=n), rel=1e-9)
    sl = ref.service_level(positions=n, scale_positions=False)
    assert erlang_c_service_level(traffic, n, aht_min * 60, t) == pytest.approx(sl, rel=1e-9)
    # Erlang-A with a patience of ~30 years is Erlang C.
    f = erlang_a(calls / 1800, 1 / (aht_min * 60), 1e-9, n, t)
    assert f.p_wait[0] == pytest.approx(ref.waiting_probability(positions=n), abs=2e-4)
    assert f.service_level[0] == pytest.approx(sl, abs=2e-4)
    assert f.occupancy[0] == pytest.approx(ref.achieved_occupancy(positions=n), abs=1e-4)


@pytest.mark.parametrize("n", [1, 5, 8, 12])
def test_erlang_a_with_patience_equal_to_handle_time_is_the_infinite_server_queue(n: int) -> None:
    # theta = mu: the number in system is Poisson(A) (M/M/inf), abandonments E[(K - n)+] theta.
    a = 10.0
    f = erlang_a(a / 200, 1 / 200, 1 / 200, n)
    exact = sum((k - n) * math.exp(-a + k * math.log(a) - math.lgamma(k + 1)) for k in range(n, 200)) / a
    assert f.p_abandon[0] == pytest.approx(exact, rel=1e-9)


def _simulate_mmnm(lam: float, mu: float, theta: float, n: int, t: float, calls: int, seed: int) -> tuple[float, float]:
    """A direct FIFO M/M/n+M simulation: (share abandoned, share answered within t)."""
    rng = random.Random(seed)
    free_at = [0.0] * n
    heapq.heapify(free_at)
    clock = lost = quick = 0
    now = 0.0
    for _ in range(calls):
        now += rng.expovariate(lam)
        patience = rng.expovariate(theta)
        start = max(now, free_at[0])
        if start - now > patience:
            lost += 1
            continue
        heapq.heapreplace(free_at, start + rng.expovariate(mu))
        quick += start - now <= t
        clock += 1
    return lost / calls, quick / calls


@pytest.mark.parametrize(("lam", "n"), [(1 / 60, 3), (1 / 25, 5), (1 / 12, 9)])
def test_erlang_a_agrees_with_a_direct_simulation(lam: float, n: int) -> None:
    mu, theta, t = 1 / 200, 1 / 180, 20.0
    p_ab, sl = _simulate_mmnm(lam, mu, theta, n, t, 200_000, seed=7)
    f = erlang_a(lam, mu, theta, n, t)
    assert f.p_abandon[0] == pytest.approx(p_ab, abs=0.004)
    assert f.service_level[0] == pytest.approx(sl, abs=0.006)


def test_agents_needed_is_the_fewest_that_meet_the_targets() -> None:
    targets = Targets(connection_rate=0.97, service_level=0.8, sl_seconds=15, occupancy_max=0.9)
    calls = np.array([1.0, 12.0, 40.0, 90.0, 200.0])
    n, figs = agents_needed(calls, 1800, 210, 180, targets)
    assert bool(np.all(meets(figs, targets)))
    below = erlang_a(calls / 1800, 1 / 210, 1 / 180, np.maximum(n - 1, 1), 15)
    assert not bool(np.any(meets(below, targets) & (n > 1)))
    assert list(scheduled(n, 0.2)) == [math.ceil(v / 0.8 - 1e-9) for v in n]
    assert agents_needed([0.0], 1800, 210, 180, targets)[0][0] == 0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 300), st.floats(0.0, 50), st.floats(60, 600), st.floats(30, 900))
def test_more_calls_never_need_fewer_agents(calls: float, more: float, aht: float, patience: float) -> None:
    n, _ = agents_needed([calls, calls + more], 1800, aht, patience, Targets())
    assert n[1] >= n[0] >= 1
