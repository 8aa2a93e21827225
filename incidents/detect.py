"""Live surge detection: a burst of calls about one thing in one place, against the usual rate for that
hour of the day (sans-IO: time arrives on the signals; nothing here reads a clock or does I/O).

What we know within seconds of a call is a ``Signal``: the IVR topic the caller chose, the caller's area
where the number or the IVR says it, and later the first ticket fields an agent types (category, topic,
place names). Each signal counts once for each of its *keys* ``(what, where)``: ``(topic, "")``,
``("", place)`` and ``(topic, place)``; a call counts once per key however many signals it sends.

The test (why it holds its false-alarm rate): at the arrival of a call on key k, for each window W
(5 and 15 minutes) let n be the calls on k in (t - W, t] and mu the calls the baseline expects on k in
that window (the learned hourly rate, integrated over the window's hours, times ``slack``, and never
below ``floor`` calls an hour). Under the null the calls on k are a Poisson process, so by Palm's theorem
the *other* calls in the window, n - 1, are Poisson(mu); the test alarms when P(X >= n - 1) <= alpha and
n >= ``min_calls``. With T tests a week (signals a week x keys a signal x windows, learned with the
baseline), the union bound gives expected false alarms a week <= T * alpha, so
``alpha = false_alarms_per_week / T``: the alarm rate is chosen, not tuned on the test week.
Overlapping windows make the tests positively correlated, which only makes the bound loose.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any

from incidents.stats import poisson_sf

Key = tuple[str, str]  # (what, where); "" means any

SOURCES = ("ivr", "ticket", "area")


class DetectError(ValueError):
    """A signal or a setting that can never work."""


@dataclass(frozen=True, slots=True)
class Signal:
    """Early facts about one call. ``at`` is timezone-aware."""

    call_id: str
    at: datetime
    topic: str = ""
    area: str = ""
    places: tuple[str, ...] = ()
    source: str = "ivr"

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise DetectError("a signal's time must be timezone-aware")
        if not self.call_id:
            raise DetectError("a signal needs its call id")
        if self.source not in SOURCES:
            raise DetectError(f"source must be one of {SOURCES}, got {self.source!r}")
        object.__setattr__(self, "places", tuple(self.places))

    def keys(self) -> list[Key]:
        wheres = list(dict.fromkeys(w for w in (self.area, *self.places) if w))
        keys: list[Key] = [(self.topic, "")] if self.topic else []
        for where in wheres:
            keys.append(("", where))
            if self.topic:
                keys.append((self.topic, where))
        return keys


@dataclass(frozen=True, slots=True)
class Baseline:
    """The usual rate: calls an hour by key and local hour of day, learned from ordinary days."""

    rates: Mapping[tuple[str, str, int], float] = field(default_factory=dict)
    tests_per_week: float = 100_000.0
    floor: float = 0.5  # calls an hour any key is allowed without surprise
    slack: float = 1.5  # day-to-day variation the Poisson model leaves out

    def __post_init__(self) -> None:
        if self.floor <= 0 or self.slack < 1 or self.tests_per_week <= 0:
            raise DetectError("need floor > 0, slack >= 1 and tests_per_week > 0")
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))

    def rate(self, key: Key, hour: int) -> float:
        return max(self.floor, self.slack * self.rates.get((key[0], key[1], hour), 0.0))

    def expected(self, key: Key, start: datetime, end: datetime, tz: tzinfo) -> float:
        """Calls expected on ``key`` in [start, end), hour by hour in the centre's time zone."""
        total, t = 0.0, start.astimezone(tz)
        stop = end.astimezone(tz)
        while t < stop:
            boundary = (t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
            piece = min(boundary, stop) - t
            total += self.rate(key, t.hour) * piece.total_seconds() / 3600
            t = min(boundary, stop)
        return total

    @classmethod
    def learn(cls, signals: Iterable[Signal], days: float, tz: tzinfo, *, windows: int = 2,
              floor: float = 0.5, slack: float = 1.5) -> Baseline:
        """Average calls an hour per key and hour of day over ``days`` ordinary days."""
        if days <= 0:
            raise DetectError("learning needs at least part of a day")
        counts: Counter[tuple[str, str, int]] = Counter()
        seen: set[tuple[str, Key]] = set()
        tests = 0
        for s in signals:
            hour = s.at.astimezone(tz).hour
            for key in s.keys():
                tests += windows
                if (s.call_id, key) not in seen:
                    seen.add((s.call_id, key))
                    counts[(key[0], key[1], hour)] += 1
        rates = {k: n / days for k, n in counts.items()}
        return cls(rates, max(1.0, tests * 7 / days), floor, slack)


@dataclass(frozen=True, slots=True)
class Settings:
    windows: tuple[timedelta, ...] = (timedelta(minutes=5), timedelta(minutes=15))
    false_alarms_per_week: float = 0.1
    min_calls: int = 10
    #: a candidate goes quiet after this long without a window above its usual rate (at 1 %)
    quiet: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if not self.windows or any(w <= timedelta(0) for w in self.windows):
            raise DetectError("windows must be positive durations")
        if not 0 < self.false_alarms_per_week or self.min_calls < 1:
            raise DetectError("need false_alarms_per_week > 0 and min_calls >= 1")


@dataclass(frozen=True, slots=True)
class CandidateView:
    """What a supervisor is shown: what, where, since when, how many calls, the trend."""

    id: str
    what: str
    where: str
    since: datetime
    last: datetime
    calls: int
    per_minute: float  # calls a minute over the last 5 minutes
    expected_per_hour: float
    p_value: float
    trend: str  # rising | steady | falling
    places: tuple[tuple[str, int], ...]
    state: str  # open | quiet

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "what": self.what, "where": self.where, "since": self.since.isoformat(),
                "last": self.last.isoformat(), "calls": self.calls, "per_minute": round(self.per_minute, 2),
                "expected_per_hour": round(self.expected_per_hour, 2), "p_value": self.p_value,
                "trend": self.trend, "places": [list(p) for p in self.places], "state": self.state}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CandidateView:
        return cls(str(d["id"]), str(d["what"]), str(d["where"]), datetime.fromisoformat(d["since"]),
                   datetime.fromisoformat(d["last"]), int(d["calls"]), float(d["per_minute"]),
                   float(d["expected_per_hour"]), float(d["p_value"]), str(d["trend"]),
                   tuple((str(name), int(n)) for name, n in d["places"]), str(d["state"]))


@dataclass(frozen=True, slots=True)
class CandidateNews:
    kind: str  # opened | updated | quiet
    candidate: CandidateView


@dataclass
class _Candidate:
    id: str
    what: str
    where: str
    since: datetime
    last: datetime
    keys: set[Key]
    calls: dict[str, datetime]  # call id -> first seen
    places: Counter[str]
    expected_per_hour: float
    p_value: float
    last_excess: datetime

    def view(self, now: datetime, state: str = "open") -> CandidateView:
        five = timedelta(minutes=5)
        recent = sum(1 for t in self.calls.values() if now - five < t <= now)
        before = sum(1 for t in self.calls.values() if now - 2 * five < t <= now - five)
        trend = "rising" if recent > 1.25 * before + 1 else "falling" if recent < 0.8 * before - 1 else "steady"
        return CandidateView(self.id, self.what, self.where, self.since, self.last, len(self.calls), recent / 5,
                             self.expected_per_hour, self.p_value, trend, tuple(self.places.most_common(3)), state)


class Detector:
    """``handle(signal) -> [CandidateNews]``; ``tick(now)`` reports candidates gone quiet."""

    def __init__(self, baseline: Baseline, tz: tzinfo, settings: Settings | None = None) -> None:
        self.baseline = baseline
        self.tz = tz
        self.settings = settings or Settings()
        self.alpha = self.settings.false_alarms_per_week / baseline.tests_per_week
        self.span = max(self.settings.windows)
        self.recent: dict[Key, deque[tuple[datetime, str]]] = {}
        self.counted: dict[tuple[str, Key], datetime] = {}
        self.places_of: dict[str, tuple[str, ...]] = {}  # recent calls' places, for a candidate's tally
        self.open: list[_Candidate] = []
        self.tests = 0
        self.alarms = 0

    def handle(self, signal: Signal) -> list[CandidateNews]:
        news: list[CandidateNews] = []
        at = signal.at.astimezone(self.tz)  # a candidate's times are the centre's (pages show them)
        self._forget(at)
        where = signal.places or ((signal.area,) if signal.area else ())
        if where:
            self.places_of[signal.call_id] = tuple(dict.fromkeys(self.places_of.get(signal.call_id, ()) + where))
        for key in signal.keys():
            if (signal.call_id, key) in self.counted:
                continue
            self.counted[(signal.call_id, key)] = at
            calls = self.recent.setdefault(key, deque())
            calls.append((at, signal.call_id))
            news += self._test(key, calls, at)
        for cand in self.open:
            added = bool(cand.keys & set(signal.keys())) and signal.call_id not in cand.calls
            if added:
                cand.calls[signal.call_id] = at
                cand.last = max(cand.last, at)
            if signal.call_id in cand.calls and where:
                self._tally(cand)
            if (added or (where and signal.call_id in cand.calls)) and not any(n.candidate.id == cand.id
                                                                              for n in news):
                news.append(CandidateNews("updated", cand.view(at)))
        return news

    def _test(self, key: Key, calls: deque[tuple[datetime, str]], at: datetime) -> list[CandidateNews]:
        best: tuple[float, float, list[tuple[datetime, str]]] | None = None
        for window in self.settings.windows:
            inside = [c for c in calls if c[0] > at - window]
            mu = self.baseline.expected(key, at - window, at, self.tz)
            p = poisson_sf(len(inside) - 1, mu)
            self.tests += 1
            if p <= 0.01:
                for cand in self.open:
                    if key in cand.keys:
                        cand.last_excess = at
            if len(inside) >= self.settings.min_calls and p <= self.alpha and (best is None or p < best[0]):
                best = (p, mu * 3600 / window.total_seconds(), inside)
        if best is None:
            return []
        p, per_hour, inside = best
        ids = {cid for _, cid in inside}
        for cand in self.open:
            if key in cand.keys:
                cand.p_value = min(cand.p_value, p)
                return []
            if len(ids & cand.calls.keys()) * 2 >= len(ids):  # the same callers: the same incident
                cand.keys.add(key)
                cand.what, cand.where = cand.what or key[0], cand.where or key[1]
                cand.p_value = min(cand.p_value, p)
                self._tally(cand)
                return [CandidateNews("updated", cand.view(at))]
        self.alarms += 1
        since = self._change_point(key, inside, at)
        cand = _Candidate(f"{key[0] or '*'}@{key[1] or '*'}#{since.astimezone(self.tz):%Y%m%d%H%M}", key[0], key[1],
                          since, at, {key}, {cid: t for t, cid in inside}, Counter(), per_hour, p, at)
        self._tally(cand)
        self.open.append(cand)
        return [CandidateNews("opened", cand.view(at))]

    def _change_point(self, key: Key, inside: list[tuple[datetime, str]], at: datetime) -> datetime:
        """Since when: the start of the burst as the likeliest step up of a Poisson rate (the call time t
        maximising the log-likelihood ratio n ln(n / mu) - (n - mu) of the n calls from t on)."""
        best, since = -1.0, inside[0][0]
        for i, (t, _) in enumerate(inside):
            n = len(inside) - i
            mu = max(self.baseline.expected(key, t, at, self.tz), 1e-9)
            score = n * math.log(n / mu) - (n - mu) if n > mu else 0.0
            if score > best:
                best, since = score, t
        return since

    def _tally(self, cand: _Candidate) -> None:
        """Count the places of the candidate's calls (each call's places once, as they become known)."""
        cand.places = Counter(p for cid in cand.calls for p in self.places_of.get(cid, ()))

    def tick(self, now: datetime) -> list[CandidateNews]:
        """Candidates without an excess for ``settings.quiet`` leave the open list (reported once)."""
        now = now.astimezone(self.tz)
        gone = [c for c in self.open if now - c.last_excess >= self.settings.quiet]
        self.open = [c for c in self.open if c not in gone]
        self._forget(now)
        return [CandidateNews("quiet", c.view(now, "quiet")) for c in gone]

    def _forget(self, now: datetime) -> None:
        horizon = now - self.span
        for key in list(self.recent):
            calls = self.recent[key]
            while calls and calls[0][0] <= horizon:
                calls.popleft()
            if not calls:
                del self.recent[key]
        if len(self.counted) > 4096:  # a call's later signals come within hours, not days
            keep = now - timedelta(hours=6)
            self.counted = {k: t for k, t in self.counted.items() if t > keep}
            live = {cid for cid, _ in self.counted} | {cid for c in self.open for cid in c.calls}
            self.places_of = {cid: p for cid, p in self.places_of.items() if cid in live}

    def candidates(self, now: datetime) -> list[CandidateView]:
        return [c.view(now) for c in self.open]
