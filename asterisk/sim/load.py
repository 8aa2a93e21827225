"""Seeded synthetic callers: Poisson arrivals following an hourly profile, menu choices, patience,
talk time, repeat callers and (sometimes) a Chinese caller-ID name. Same seed, same calls."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from asterisk.sim.config import CallScript, LoadProfile, Surge

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强文杰晓明海燕玉兰"
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "138",
    "139",
    "150",
    "151",
    "158",
    "159",
    "177",
    "186",
    "188",
    "189",
)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma)) if sigma else median


def arrivals(profile: LoadProfile, rng: random.Random, start: datetime, n: int) -> list[float]:
    """``n`` Poisson arrival offsets (seconds after ``start``) with the hourly rate of the sim clock.

    The process is memoryless, so jumping to the next hour boundary and drawing again there is exact.
    """
    out: list[float] = []
    t = 0.0
    while len(out) < n:
        now = start + timedelta(seconds=t)
        rate = profile.hourly_rate[now.hour] / 3600.0
        to_boundary = 3600.0 - (now.minute * 60 + now.second + now.microsecond / 1e6)
        if rate <= 0:
            t += to_boundary
            continue
        dt = rng.expovariate(rate)
        if dt >= to_boundary:
            t += to_boundary
            continue
        t += dt
        out.append(t)
    return out


def chinese_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def generate(profile: LoadProfile, seed: int, start: datetime, n: int) -> list[CallScript]:
    rng = random.Random(f"load:{seed}")
    numbers: list[str] = []
    names: dict[str, str] = {}
    calls: list[CallScript] = []
    for arrival in arrivals(profile, rng, start, n):
        if numbers and rng.random() < profile.repeat_caller_rate:
            number = rng.choice(numbers)
        else:
            number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            numbers.append(number)
            names[number] = chinese_name(rng) if rng.random() < profile.chinese_name_rate else ""
        dtmf: tuple[str, ...] = ()
        if rng.random() >= profile.no_input_rate:
            dtmf = (_pick(rng, profile.menu_digits), str(rng.randrange(1, 4)))
        calls.append(
            CallScript(
                caller=number,
                caller_name=names[number],
                dtmf=dtmf,
                dtmf_delay=round(_lognormal(rng, profile.dtmf_delay_median, 0.4), 3),
                patience=round(
                    max(
                        profile.patience_min, _lognormal(rng, profile.patience_median, profile.patience_sigma)
                    ),
                    3,
                ),
                talk=round(_lognormal(rng, profile.talk_median, profile.talk_sigma), 3),
                caller_hangs_up=rng.random() < profile.caller_hangs_up_rate,
                survey=(_pick(rng, profile.survey_digits),),
                arrival=round(arrival, 3),
            )
        )
    if profile.surges:  # on top of the ordinary load, seeded apart so the ordinary calls stay the same
        calls += [c for i, s in enumerate(profile.surges) for c in surge_calls(s, profile, seed * 1000 + i)]
    return calls

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
