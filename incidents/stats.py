"""Poisson arithmetic the detector needs, in plain Python (no SciPy in the project).

``poisson_sf(n, mu)`` is P(X >= n) for X ~ Poisson(mu), summed in log space from the first term on so
that tail probabilities down to 1e-300 stay exact enough to compare with a threshold of 1e-7.
"""

from __future__ import annotations

import math


def poisson_sf(n: int, mu: float) -> float:
    """P(X >= n), X ~ Poisson(mu)."""
    if mu < 0:
        raise ValueError(f"a Poisson mean is >= 0, got {mu}")
    if n <= 0:
        return 1.0
    if mu == 0:
        return 0.0
    if n <= mu:  # the bulk: 1 - P(X < n) is accurate here
        return max(0.0, 1.0 - sum(math.exp(k * math.log(mu) - mu - math.lgamma(k + 1)) for k in range(n)))
    log_term = n * math.log(mu) - mu - math.lgamma(n + 1)
    total, k = 0.0, n
    term = math.exp(log_term)
    while True:  # terms fall at least geometrically once k > mu
        total += term
        k += 1
        term *= mu / k
        if term < total * 1e-16 or term == 0.0:
            return min(1.0, total)


def threshold_count(mu: float, alpha: float) -> int:
    """The least n with P(X >= n) <= alpha: the count that makes an alarm at mean ``mu``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = max(1, math.floor(mu))
    while poisson_sf(n, mu) > alpha:
        n += 1
    return n
