"""The simulator plays a seeded surge on top of the ordinary load, and the detector finds it in time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from asterisk.sim.config import LoadProfile, Surge
from asterisk.sim.load import generate
from incidents.detect import Baseline, Detector
from incidents.replay import Replay, detect, staffing

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 3, tzinfo=TZ)
TOPICS = {"1": "咨询", "2": "投诉举报", "3": "水电气", "0": ""}
PROFILE = LoadProfile(menu_digits={"1": 0.5, "2": 0.3, "3": 0.1, "0": 0.1})
CUT = Surge(start=10 * 3600, minutes=20, calls=300, place="阳光花园", digit="3", topic_share=0.8)


def one_day(profile: LoadProfile, seed: int, start: datetime) -> list:
    return [c for c in generate(profile, seed, start, 5000) if c.arrival < 86400]


def test_a_surge_is_seeded_on_top_of_the_same_ordinary_calls() -> None:
    plain = generate(PROFILE, 3, DAY, 2000)
    with_cut = generate(PROFILE.model_copy(update={"surges": (CUT,)}), 3, DAY, 2000)
    assert with_cut[:2000] == plain  # the ordinary load does not move
    extra = with_cut[2000:]
    assert extra == generate(PROFILE.model_copy(update={"surges": (CUT,)}), 3, DAY, 2000)[2000:]
    assert 250 <= len(extra) <= 350  # Poisson around 300
    assert all(CUT.start <= c.arrival < CUT.start + 1200 and c.place == "阳光花园" for c in extra)
    share = sum(c.dtmf[0] == "3" for c in extra) / len(extra)
    assert 0.75 <= share <= 0.9
    first_five = sum(c.arrival < CUT.start + 300 for c in extra)
    assert first_five < len(extra) / 4  # the rate rises over the first five minutes


def test_the_power_cut_is_detected_within_five_minutes_and_an_ordinary_day_raises_nothing() -> None:
    agents = staffing(PROFILE.hourly_rate, 204.0)
    train = Replay(DAY - timedelta(days=7), TOPICS, ["幸福小区", "和平路"], agents)
    train.run(one_day(PROFILE, 11, DAY - timedelta(days=7)), seed=11)
    train_b = Replay(DAY - timedelta(days=6), TOPICS, ["幸福小区", "和平路"], agents)
    train_b.run(one_day(PROFILE, 12, DAY - timedelta(days=6)), seed=12)
    baseline = Baseline.learn(train.signals + train_b.signals, days=2, tz=TZ)

    ordinary = Replay(DAY, TOPICS, ["幸福小区", "和平路"], agents)
    ordinary.run(one_day(PROFILE, 5, DAY), seed=5)
    assert [n for n in detect(Detector(baseline, TZ), ordinary.signals) if n.kind == "opened"] == []

    surged = Replay(DAY, TOPICS, ["幸福小区", "和平路"], agents)
    surged.run(one_day(PROFILE.model_copy(update={"surges": (CUT,)}), 5, DAY), seed=5)
    opened = [n.candidate for n in detect(Detector(baseline, TZ), surged.signals) if n.kind == "opened"]
    assert len(opened) == 1
    start = DAY + timedelta(seconds=CUT.start)
    assert opened[0].what == "水电气" and timedelta(0) < opened[0].last - start < timedelta(minutes=5)
    assert start <= opened[0].since < opened[0].last


def test_the_announcement_lifts_the_surge_hour_connection_rate() -> None:
    agents = staffing(PROFILE.hourly_rate, 204.0)
    calls = one_day(PROFILE.model_copy(update={"surges": (CUT,)}), 5, DAY)
    start = DAY + timedelta(seconds=CUT.start)
    without = Replay(DAY, TOPICS, [], agents)
    without.run(calls, seed=5)
    with_it = Replay(DAY, TOPICS, [], agents)
    with_it.run(calls, seed=5, announce_at=start + timedelta(minutes=5), announce_topic="水电气", press2=0.3)
    rate0, offered0, _, informed0 = without.connection_rate(start, start + timedelta(hours=1))
    rate1, offered1, _, informed1 = with_it.connection_rate(start, start + timedelta(hours=1))
    assert informed0 == 0 and informed1 > 100 and offered1 < offered0
    assert rate1 > rate0 + 0.1
