"""Erlang-A (M/M/n+M, Palm's queue with exponential patience) and Erlang C, vectorised with numpy.

Erlang-A is the birth-death process with arrival rate λ, n agents serving at rate μ each and every waiting
caller abandoning at rate θ (1 / mean patience). Its stationary law (state k = callers in the system):

    π_k ∝ λ^k / ∏_{i=1..k} (min(i, n) μ + max(i - n, 0) θ)

and, by PASTA, an arriving caller finds k with probability π_k. From it:

- P(abandon) = Σ_{k>n} π_k (k - n) θ / λ  (the rate of abandonment over the rate of arrival);
- connection rate = 1 - P(abandon);
- occupancy = λ (1 - P(abandon)) / (n μ);
- service level (answered within T / offered): a caller who finds j = k - n callers waiting ahead waits
  through j + 1 exponential phases (rates n μ + i θ, i = j..0, the callers ahead being served or giving up)
  and is answered if the last phase ends before T and before the caller's own patience. That tagged chain
  is solved by uniformisation (T is short, so a few dozen steps).

Erlang C is the θ → 0 limit (nobody abandons; needs λ < n μ). Erlang C over-staffs a hotline whose callers
do hang up; it is here to check this code against pyworkforce and published tables.

Rows are independent problems: every function takes equal-length arrays, so a month of intervals is solved
in a few array operations (bench/staffing.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """Erlang-A figures per row (numpy arrays of one length)."""

    p_wait: F  # an arriving caller waits at all
    p_abandon: F  # gives up before an agent answers
    service_level: F  # answered within T seconds / offered
    occupancy: F
    asa: F  # mean wait of the answered callers, seconds

    @property
    def connection_rate(self) -> F:
        return 1.0 - self.p_abandon


def _arrays(*values: ArrayLike) -> list[F]:
    out = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values))
    return [np.atleast_1d(np.array(a, dtype=np.float64)) for a in out]


def _queue_room(lam: F, mu: F, theta: F, n: F) -> int:
    """How many waiting places to keep: past them the stationary mass is below ~1e-12 for every row."""
    excess = np.maximum(lam - n * mu, 0.0) / theta  # where the queue stops growing
    spread = np.sqrt(lam / theta)
    return int(min(4000, max(30.0, float(np.max(excess + 12.0 * spread + 30.0)))))


def erlang_a(lam: ArrayLike, mu: ArrayLike, theta: ArrayLike, n: ArrayLike, t_sl: float = 15.0) -> QueueFigures:
    """Erlang-A figures. lam: calls per second; mu: 1 / mean handle time (s); theta: 1 / mean patience (s);
    n: agents (integers >= 1); t_sl: the service-level threshold in seconds."""
    lam_a, mu_a, th_a, n_a = _arrays(lam, mu, theta, n)
    if np.any(th_a <= 0) or np.any(mu_a <= 0) or np.any(n_a < 1) or np.any(lam_a < 0):
        raise ValueError("erlang_a needs theta > 0, mu > 0, n >= 1 and lam >= 0")
    lam_a = np.maximum(lam_a, 1e-12)
    width = int(np.max(n_a)) + _queue_room(lam_a, mu_a, th_a, n_a) + 1
    k = np.arange(width, dtype=np.float64)[None, :]  # state k = 0..width-1
    nn = n_a[:, None]
    death = np.minimum(k, nn) * mu_a[:, None] + np.maximum(k - nn, 0.0) * th_a[:, None]
    death[:, 0] = 1.0  # unused (state 0 has no death)
    logstep = np.log(lam_a)[:, None] - np.log(death)
    logstep[:, 0] = 0.0
    logp = np.cumsum(logstep, axis=1)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    p /= p.sum(axis=1, keepdims=True)
    waiting = k >= nn
    p_wait = np.where(waiting, p, 0.0).sum(axis=1)
    ahead = np.maximum(k - nn, 0.0)
    p_ab = (p * ahead).sum(axis=1) * th_a / lam_a
    occ = lam_a * (1.0 - p_ab) / (n_a * mu_a)
    asa = _answered_wait(p, n_a, mu_a, th_a, width) / np.maximum(1.0 - p_ab, 1e-12)
    sl_wait = _served_within(p, n_a, mu_a, th_a, t_sl, width)
    served_now = np.where(waiting, 0.0, p).sum(axis=1)
    return QueueFigures(p_wait, p_ab, served_now + sl_wait, occ, asa)


def _phase_rates(n: F, mu: F, theta: F, width: int) -> tuple[F, F]:
    """For a tagged waiting caller with i callers ahead (i = 0..width-1): the rate of moving up
    (n μ + i θ) and the caller's own abandonment rate θ."""
    i = np.arange(width, dtype=np.float64)[None, :]
    up = n[:, None] * mu[:, None] + i * theta[:, None]
    return up, np.broadcast_to(theta[:, None], up.shape)


def _answered_wait(p: F, n: F, mu: F, theta: F, width: int) -> F:
    """Σ over states found on arrival of P(find k) × E[wait × 1{answered} | k] (seconds).

    With i ahead, each phase lasts Exp(up_i + θ) and is survived with probability up_i / (up_i + θ);
    the answered caller's wait is the sum of the phases, on the event that all are survived."""
    up, th = _phase_rates(n, mu, theta, width)
    total = up + th
    survive = up / total
    mean_phase = 1.0 / total
    # For a caller entering with j ahead: S_j = ∏_{i<=j} survive_i, E[W; answered] = S_j Σ_{i<=j} mean_i.
    cum_survive = np.cumprod(survive, axis=1)
    cum_mean = np.cumsum(mean_phase, axis=1)
    return _found_ahead(p, n, cum_survive * cum_mean)


def _served_within(p: F, n: F, mu: F, theta: F, t: float, width: int) -> F:
    """Σ_{k>=n} π_k P(answered within t | k - n ahead), by uniformisation of the tagged caller's chain."""
    up, th = _phase_rates(n, mu, theta, width)
    rate = float(np.max(up + th))
    steps = math.ceil(rate * t + 8.0 * math.sqrt(rate * t + 1.0) + 8.0)
    p_up = up / rate
    p_stay = 1.0 - (up + th) / rate
    # a[:, j] = P(answered within m uniformised steps | j ahead); the answered state sits left of j = 0.
    a = np.zeros_like(up)
    weight = math.exp(-rate * t)  # Poisson(rate t) at m = 0
    acc = np.zeros_like(up)
    for m in range(1, steps + 1):
        shifted = np.concatenate([np.ones((up.shape[0], 1)), a[:, :-1]], axis=1)
        a = p_up * shifted + p_stay * a
        weight *= rate * t / m
        acc += weight * a
    # Poisson weights beyond `steps` are negligible (< 1e-12); the chain's mass there is at most 1.
    return _found_ahead(p, n, acc)


def _found_ahead(p: F, n: F, per_ahead: F) -> F:
    """Σ_k π_k per_ahead[k - n] over the states where an arriving caller waits (k >= n)."""
    k = np.arange(p.shape[1])[None, :]
    ahead = k - n.astype(np.int64)[:, None]
    picked = np.take_along_axis(per_ahead, np.clip(ahead, 0, per_ahead.shape[1] - 1), axis=1)
    return np.where(ahead >= 0, p * picked, 0.0).sum(axis=1)


def erlang_c_wait(traffic: float, n: int) -> float:
    """Erlang C: P(wait > 0) with offered traffic A = λ/μ Erlangs and n agents (A < n)."""
    if n <= traffic:
        return 1.0
    term, total = 1.0, 1.0
    for i in range(1, n):
        term *= traffic / i
        total += term
    last = term * traffic / n * n / (n - traffic)
    return last / (total + last)


def erlang_c_service_level(traffic: float, n: int, aht: float, t: float) -> float:
    """Erlang C: P(wait <= t)."""
    if n <= traffic:
        return 0.0
    return 1.0 - erlang_c_wait(traffic, n) * math.exp(-(n - traffic) * t / aht)
