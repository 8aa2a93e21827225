"""Seeded surges on top of the ordinary load: a power cut, a burst main, an accident on a road.

``surge_calls`` draws the surge's arrivals as a Poisson process whose rate rises linearly over ``ramp``
seconds to a plateau and stays there to the end (thinning of a homogeneous process at the peak rate),
so that ``calls`` arrivals are expected in ``minutes``. Each surge caller names the surge's place to the
agent; ``topic_share`` of them choose its menu digit, the rest choose as ordinary callers do.
"""

from __future__ import annotations

import random

from asterisk.sim.config import CallScript, LoadProfile, Surge
from asterisk.sim.load import MOBILE_PREFIXES, _lognormal, _pick


def _rate_shape(t: float, surge: Surge) -> float:
    """Relative rate at ``t`` seconds into the surge (1 at the plateau)."""
    return min(1.0, t / surge.ramp) if surge.ramp > 0 else 1.0


def surge_arrivals(surge: Surge, rng: random.Random) -> list[float]:
    length = surge.minutes * 60
    ramp = min(surge.ramp, length)
    # expected count = peak * (length - ramp / 2): choose the peak so that ``calls`` are expected
    peak = surge.calls / (length - ramp / 2)
    out: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= length:
            return out
        if rng.random() <= _rate_shape(t, surge):
            out.append(surge.start + t)


def surge_calls(surge: Surge, profile: LoadProfile, seed: int) -> list[CallScript]:
    rng = random.Random(f"surge:{seed}")
    calls = []
    for arrival in surge_arrivals(surge, rng):
        digit = surge.digit if rng.random() < surge.topic_share else _pick(rng, profile.menu_digits)
        calls.append(CallScript(
            caller=rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            dtmf=(digit, "1"),
            dtmf_delay=round(_lognormal(rng, profile.dtmf_delay_median, 0.4), 3),
            # people without power are short of patience and short of words
            patience=round(max(profile.patience_min, _lognormal(rng, profile.patience_median, profile.patience_sigma)),
                           3),
            talk=round(_lognormal(rng, 90.0, profile.talk_sigma), 3),
            arrival=round(arrival, 3),
            place=surge.place,
        ))
    return calls
