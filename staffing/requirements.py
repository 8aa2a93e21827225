"""Agents needed per interval: the fewest agents n for which Erlang-A meets every target, then grossed
up for shrinkage (time paid but not on the phones: meetings, absence, training; scheduled breaks are in
the roster itself, so they are not counted twice).

All intervals are solved together: each round tries the next few n for every interval still short, in
one vectorised Erlang-A call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from staffing.erlang import QueueFigures, erlang_a

TRIES_PER_ROUND = 4
CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Targets:
    connection_rate: float = 0.97  # centre.connection_rate_target
    service_level: float = 0.0  # share answered within sl_seconds (0: no such target)
    sl_seconds: float = 15.0
    occupancy_max: float = 1.0
    shrinkage: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.connection_rate < 1:
            raise ValueError("connection_rate target must be in (0, 1)")
        if not 0 <= self.service_level < 1 or not 0 < self.occupancy_max <= 1 or not 0 <= self.shrinkage < 1:
            raise ValueError("service_level in [0, 1), occupancy_max in (0, 1], shrinkage in [0, 1)")


def meets(f: QueueFigures, t: Targets) -> NDArray[np.bool_]:
    ok = f.connection_rate >= t.connection_rate
    if t.service_level > 0:
        ok &= f.service_level >= t.service_level
    return ok & (f.occupancy <= t.occupancy_max)


def agents_needed(calls: ArrayLike, interval_s: float, aht: ArrayLike, patience: ArrayLike,
                  targets: Targets) -> tuple[NDArray[np.int64], QueueFigures]:
    """Per interval: agents on the phones n (0 where no call is expected) and the Erlang-A figures at n.
    calls: expected offered calls per interval; aht: mean handle time (s); patience: mean patience (s)."""
    c, h, pat = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (calls, aht, patience))
    c, h, pat = np.broadcast_arrays(c, h, pat)
    n_out = np.zeros(c.size, dtype=np.int64)
    figs = {name: np.zeros(c.size) for name in ("p_wait", "p_abandon", "service_level", "occupancy", "asa")}
    figs["service_level"][:] = 1.0
    busy = np.flatnonzero(c > 1e-9)
    # Similar loads side by side: a chunk's width is set by its largest row.
    busy = busy[np.argsort(c[busy] * h[busy])]
    for start in range(0, busy.size, CHUNK):
        rows = busy[start : start + CHUNK]
        n, f = _search(c[rows] / interval_s, 1.0 / h[rows], 1.0 / pat[rows], targets)
        n_out[rows] = n
        for name in figs:
            figs[name][rows] = getattr(f, name)
    return n_out, QueueFigures(**figs)


def _search(lam: NDArray[np.float64], mu: NDArray[np.float64], theta: NDArray[np.float64],
            t: Targets) -> tuple[NDArray[np.int64], QueueFigures]:
    load = lam / mu
    # Below the offered load only abandonment can carry the rate; start a little under it.
    first = np.maximum(1, np.floor(load * 0.8)).astype(np.int64)
    found = np.zeros(lam.size, dtype=np.int64)
    out = {name: np.zeros(lam.size) for name in ("p_wait", "p_abandon", "service_level", "occupancy", "asa")}
    todo = np.arange(lam.size)
    base = first.copy()
    while todo.size:
        tries = np.arange(TRIES_PER_ROUND)[None, :]
        n = (base[todo][:, None] + tries).ravel()
        rep = np.repeat(todo, TRIES_PER_ROUND)
        f = erlang_a(lam[rep], mu[rep], theta[rep], n, t.sl_seconds)
        ok = meets(f, t).reshape(todo.size, TRIES_PER_ROUND)
        hit = ok.any(axis=1)
        pick = np.argmax(ok, axis=1)
        flat = np.arange(todo.size) * TRIES_PER_ROUND + pick
        done = todo[hit]
        found[done] = n[flat[hit]]
        for name in out:
            out[name][done] = getattr(f, name)[flat[hit]]
        base[todo] += TRIES_PER_ROUND
        todo = todo[~hit]
    return found, QueueFigures(**out)


def scheduled(on_phones: NDArray[np.int64], shrinkage: float) -> NDArray[np.int64]:
    """Agents to schedule so that `on_phones` remain after shrinkage."""
    if shrinkage <= 0:
        return on_phones.copy()
    return np.array([math.ceil(v / (1.0 - shrinkage) - 1e-9) for v in on_phones], dtype=np.int64)
