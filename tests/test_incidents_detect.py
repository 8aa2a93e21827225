"""The surge detector: Poisson arithmetic, what a candidate says, and properties over random streams."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.detect import Baseline, DetectError, Detector, Settings, Signal
from incidents.places import Gazetteer, area_of_number, extract_places
from incidents.stats import poisson_sf, threshold_count

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)


def direct_sf(n: int, mu: float) -> float:
    return 1.0 - sum(math.exp(-mu) * mu**k / math.factorial(k) for k in range(n))


@given(st.integers(0, 60), st.floats(0.01, 40))
def test_poisson_tail_matches_the_direct_sum(n: int, mu: float) -> None:
    expected = direct_sf(n, mu)
    got = poisson_sf(n, mu)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


@given(st.floats(0.01, 50), st.sampled_from([1e-3, 1e-5, 1e-7]))
def test_threshold_is_the_least_count_under_alpha(mu: float, alpha: float) -> None:
    n = threshold_count(mu, alpha)
    assert poisson_sf(n, mu) <= alpha
    assert n == 1 or poisson_sf(n - 1, mu) > alpha


def baseline(rate_per_hour: float = 6.0) -> Baseline:
    rates = {("water", "", h): rate_per_hour for h in range(24)}
    return Baseline(rates, tests_per_week=200_000)


def test_a_burst_opens_one_candidate_that_says_what_where_since_how_many_and_trend() -> None:
    det = Detector(baseline(), TZ)
    news = []
    for i in range(40):  # 8 calls a minute about water from one estate, against 6 an hour usual
        at = T0 + timedelta(seconds=7.5 * i)
        news += det.handle(Signal(f"c{i}", at, topic="water", places=("阳光花园",)))
    opened = [n for n in news if n.kind == "opened"]
    assert len(opened) == 1
    first = opened[0].candidate
    assert first.what == "water" and first.since == T0
    assert first.calls >= det.settings.min_calls
    assert first.p_value <= det.alpha
    last = det.candidates(T0 + timedelta(minutes=5))[0]
    assert last.calls == 40 and last.where == "阳光花园"
    assert last.trend == "rising" and last.per_minute == pytest.approx(39 / 5)
    assert last.places[0] == ("阳光花园", 40)


def test_ordinary_load_at_the_usual_rate_raises_nothing() -> None:
    import random
    rng = random.Random(7)
    det = Detector(baseline(30.0), TZ)
    t, i, news = T0, 0, []
    while t < T0 + timedelta(days=2):
        t += timedelta(seconds=rng.expovariate(30 / 3600))
        news += det.handle(Signal(f"c{i}", t, topic="water"))
        i += 1
    assert not news and det.tests > 1000


def test_a_candidate_goes_quiet_after_the_burst() -> None:
    det = Detector(baseline(), TZ, Settings(quiet=timedelta(minutes=20)))
    for i in range(30):
        det.handle(Signal(f"c{i}", T0 + timedelta(seconds=5 * i), topic="water"))
    assert det.tick(T0 + timedelta(minutes=10)) == []
    gone = det.tick(T0 + timedelta(minutes=30))
    assert [g.kind for g in gone] == ["quiet"] and not det.open


def test_the_same_call_counts_once_per_key() -> None:
    det = Detector(baseline(), TZ)
    for _ in range(30):
        det.handle(Signal("same", T0, topic="water"))
    assert len(det.recent[("water", "")]) == 1


def test_learned_baseline_and_bad_input() -> None:
    sigs = [Signal(f"c{i}", T0 + timedelta(minutes=i), topic="gas", area="东城") for i in range(10)]
    b = Baseline.learn(sigs, days=2, tz=TZ)
    assert b.rates[("gas", "", 10)] == 5.0 and b.rates[("gas", "东城", 10)] == 5.0
    assert b.tests_per_week == 10 * 3 * 2 * 7 / 2
    assert b.expected(("gas", ""), T0, T0 + timedelta(hours=1), TZ) == pytest.approx(7.5)
    with pytest.raises(DetectError):
        Signal("x", datetime(2026, 3, 2, 10))  # naive time
    with pytest.raises(DetectError):
        Signal("x", T0, source="fax")
    with pytest.raises(DetectError):
        Baseline.learn(sigs, days=0, tz=TZ)


def test_places_from_the_gazetteer_and_jieba_and_areas_from_numbers() -> None:
    gaz = Gazetteer({"阳光花园": ["阳光小区"]})
    assert extract_places("阳光小区停电了，建国路也停了", gaz)[:2] == ("阳光花园", "建国路")
    assert extract_places("反映噪音问题", gaz, segmenter=False) == ()
    assert area_of_number("010-6512 3456", {"01065": "东城区", "010": "北京"}) == "东城区"
    assert area_of_number("13800000000", {"010": "北京"}) == ""


# -- properties over random streams --------------------------------------------------------------------

stream = st.lists(st.tuples(st.integers(0, 3 * 3600), st.sampled_from(["water", "gas", "road"]),
                            st.sampled_from(["", "东城", "西城"])), max_size=120)


def run(events: list[tuple[int, str, str]], det: Detector, prefix: str = "c") -> list:
    news = []
    for i, (sec, topic, area) in enumerate(sorted(events, key=lambda e: e[0])):
        news += det.handle(Signal(f"{prefix}{i}", T0 + timedelta(seconds=sec), topic=topic, area=area))
    return news


@settings(max_examples=60, deadline=None)
@given(stream)
def test_every_alarm_holds_its_threshold_and_a_replay_gives_the_same_news(events: list) -> None:
    det = Detector(baseline(0.5), TZ, Settings(min_calls=5))
    news = run(events, det)
    for n in news:
        if n.kind == "opened":
            assert n.candidate.calls >= 5 and n.candidate.p_value <= det.alpha
    assert run(events, Detector(baseline(0.5), TZ, Settings(min_calls=5))) == news


@settings(max_examples=60, deadline=None)
@given(stream, st.integers(0, 3 * 3600), st.integers(5, 40))
def test_more_calls_never_delay_the_first_alarm(events: list, start: int, extra: int) -> None:
    def first_alarm(evs: list) -> datetime | None:
        det = Detector(baseline(1.0), TZ, Settings(min_calls=5))
        for i, (sec, topic, area) in enumerate(sorted(evs, key=lambda e: (e[0], e[1], e[2]))):
            for n in det.handle(Signal(f"c{i}", T0 + timedelta(seconds=sec), topic=topic, area=area)):
                if n.kind == "opened" and n.candidate.what == "water":
                    return n.candidate.last
        return None

    burst = [(start + 10 * j, "water", "") for j in range(extra)]
    before = first_alarm(events)
    after = first_alarm(events + burst)
    if before is not None:
        assert after is not None and after <= before


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6 * 3600), max_size=80))
def test_nothing_opens_below_min_calls_in_the_longest_window(secs: list[int]) -> None:
    det = Detector(baseline(0.5), TZ, Settings(min_calls=10))
    spread = sorted(secs)
    # keep at most 9 calls in any 15-minute window
    kept: list[int] = []
    for s in spread:
        if sum(1 for k in kept if s - k < 900) < 9:
            kept.append(s)
    news = run([(s, "water", "") for s in kept], det)
    assert not [n for n in news if n.kind == "opened"]


def test_times_are_utc_safe() -> None:
    det = Detector(baseline(), TZ)
    news = []
    for i in range(30):
        news += det.handle(Signal(f"c{i}", (T0 + timedelta(seconds=5 * i)).astimezone(UTC), topic="water"))
    assert news and news[0].candidate.id.endswith("#202603021000")
