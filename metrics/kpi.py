"""Call-centre KPIs from ended-call records: pure arithmetic, no I/O, no clock.

Definitions (one place, so reports, the wallboard, MQTT and Prometheus agree; docs/metrics.md has
the formulas):
- offered (offered to agents, 人工呼入量): the call reached a queue (`queued_at` set), minus the short
  abandons when `short_abandon_seconds` > 0. Calls that hung up in the IVR are not offered.
- short abandon: a call that reached a queue and hung up (in queue or while ringing) after waiting at
  most `short_abandon_seconds`; with the exclusion on it counts neither as offered nor as abandoned.
- answered: outcome `answered` (by an agent). abandoned: by stage (ivr, queue, ringing); the
  `abandoned` total counts the offered calls lost (queue + ringing), IVR hang-ups are reported apart.
- connection rate (接通率) = answered / offered (None when nothing was offered).
- service level X/Y = answered within Y s / offered (the "15秒接通率" of the 12345 assessments).
- answered-in-time rate (人工应答及时率) = answered within Y s / answered.
- ASA: mean wait (queued -> answered) of answered calls. longest wait: max wait of offered calls.
- average talk time: mean `talk_seconds` of answered calls. AHT = (talk + after-call work) /
  answered, where after-call work (wrap-up) comes from agent state intervals (metrics/agents.py).
- A call counts in the day / interval / shift of its `attributed_at`: when it joined the queue, else
  when it came in. A call queued at 23:59 and answered after midnight belongs to the earlier day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from records.model import ABANDONED_STAGES, CallRecordData, Outcome

DEFAULT_TZ = "Asia/Shanghai"
SERVICE_LEVEL_SECONDS = 15.0
INTERVAL_MINUTES = (15, 30, 60)
NATIONAL_STANDARD_24H = 0.95  # GB/T 33358: rolling 24-hour connection rate at least 95 %
DEFAULT_TARGET = 0.97


# One display rule for every page, report and command (the wallboard's script gets these figures in its
# config and applies the same rule; tests/test_rate_display.py holds them to each other):
# a rate is cut, not rounded, to RATE_DIGITS decimals of a percent, so 96.96 % reads 96.9 % and a rate
# under the target never reads as on it; its colour is judged on the figure shown:
# good at or above the centre's target, warn below it but at or above the national standard (95 %),
# bad below both. The same rule for today, the last hour and the last 24 hours.
RATE_DIGITS = 1
RATE_LEVELS = ("good", "warn", "bad", "na")


def rate(num: int | float, den: int | float) -> float | None:
    return num / den if den else None


def rate_percent(r: float, digits: int = RATE_DIGITS) -> float:
    """The percentage shown for a rate: cut (not rounded) to `digits` decimals (the 1e-6 absorbs binary
    noise, so 0.97 stays 97.0 and not 96.9)."""
    f = 10 ** digits
    return math.floor(r * 100 * f + 1e-6) / f


def rate_text(r: float | None, digits: int = RATE_DIGITS) -> str:
    """'95.4 %'; '—' when there is no rate (nothing offered)."""
    return "—" if r is None else f"{rate_percent(r, digits):.{digits}f} %"


def rate_level(r: float | None, target: float, standard: float = NATIONAL_STANDARD_24H,
               digits: int = RATE_DIGITS) -> str:
    """'good' | 'warn' | 'bad' | 'na' for a rate as shown (see RATE_DIGITS above)."""
    if r is None:
        return "na"
    shown = rate_percent(r, digits)
    if shown >= target * 100 - 1e-9:
        return "good"
    if shown >= standard * 100 - 1e-9:
        return "warn"
    return "bad"


def is_short_abandon(rec: CallRecordData, short_abandon_seconds: float) -> bool:
    """Reached a queue, hung up unanswered after waiting at most `short_abandon_seconds` (0: never)."""
    return (short_abandon_seconds > 0 and rec.outcome in (Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING)
            and (rec.wait_seconds or 0.0) <= short_abandon_seconds)


def is_offered(rec: CallRecordData, short_abandon_seconds: float = 0.0) -> bool:
    """In the connection-rate denominator."""
    return rec.reached_queue and not is_short_abandon(rec, short_abandon_seconds)


@dataclass(slots=True)
class Tally:
    """Running sums from which every KPI follows; `add` is O(1), so it also serves live counters."""

    sl_seconds: float = SERVICE_LEVEL_SECONDS
    short_abandon_seconds: float = 0.0
    entered: int = 0
    offered: int = 0
    answered: int = 0
    short_abandoned: int = 0
    abandoned_by_stage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ABANDONED_STAGES.values(), 0))
    answered_within_sl: int = 0
    answered_wait_sum: float = 0.0
    talk_sum: float = 0.0
    longest_wait: float | None = None
    #: answered by Asterisk's own queue ([cc-fallback]): in ``answered`` too, shown apart
    fallback_answered: int = 0

    def add(self, rec: CallRecordData) -> None:
        self.entered += 1
        if is_short_abandon(rec, self.short_abandon_seconds):
            self.short_abandoned += 1
            return
        stage = ABANDONED_STAGES.get(rec.outcome)
        if stage is not None:
            self.abandoned_by_stage[stage] += 1
        if not rec.reached_queue:
            return
        self.offered += 1
        wait = rec.wait_seconds or 0.0
        if self.longest_wait is None or wait > self.longest_wait:
            self.longest_wait = wait
        if rec.outcome is Outcome.ANSWERED:
            self.answered += 1
            self.fallback_answered += rec.fallback_queue
            self.answered_wait_sum += wait
            self.talk_sum += rec.talk_seconds or 0.0
            if wait <= self.sl_seconds:
                self.answered_within_sl += 1

    @property
    def abandoned(self) -> int:
        return self.abandoned_by_stage["queue"] + self.abandoned_by_stage["ringing"]

    @property
    def connection_rate(self) -> float | None:
        return rate(self.answered, self.offered)

    @property
    def asa(self) -> float | None:
        return self.answered_wait_sum / self.answered if self.answered else None

    @property
    def service_level(self) -> float | None:
        return rate(self.answered_within_sl, self.offered)

    @property
    def answered_in_time_rate(self) -> float | None:
        return rate(self.answered_within_sl, self.answered)

    # Kept for older callers: the value is the service level (answered within 15 s / offered).
    answered_within_sl_rate = service_level


@dataclass(frozen=True, slots=True)
class Kpi:
    offered: int
    answered: int
    abandoned: int  # offered calls lost: queue + ringing
    abandoned_by_stage: dict[str, int]  # ivr, queue, ringing (short abandons excluded)
    connection_rate: float | None
    asa: float | None
    longest_wait: float | None
    service_level: float | None  # answered within sl_seconds / offered
    answered_in_time_rate: float | None  # answered within sl_seconds / answered (人工应答及时率)
    short_abandoned: int = 0
    entered: int = 0  # every record counted, IVR hang-ups included
    answered_within_sl: int = 0
    talk_sum: float = 0.0
    sl_seconds: float = SERVICE_LEVEL_SECONDS
    short_abandon_seconds: float = 0.0
    fallback_answered: int = 0  # of ``answered``: by Asterisk's own queue ([cc-fallback])

    @classmethod
    def from_tally(cls, t: Tally) -> Kpi:
        return cls(
            offered=t.offered,
            answered=t.answered,
            abandoned=t.abandoned,
            abandoned_by_stage=dict(t.abandoned_by_stage),
            connection_rate=t.connection_rate,
            asa=t.asa,
            longest_wait=t.longest_wait,
            service_level=t.service_level,
            answered_in_time_rate=t.answered_in_time_rate,
            short_abandoned=t.short_abandoned,
            entered=t.entered,
            answered_within_sl=t.answered_within_sl,
            talk_sum=t.talk_sum,
            sl_seconds=t.sl_seconds,
            short_abandon_seconds=t.short_abandon_seconds,
            fallback_answered=t.fallback_answered,
        )

    @property
    def answered_15s_rate(self) -> float | None:
        """The service level (answered within 15 s / offered); the old name, kept for callers."""
        return self.service_level

    @property
    def avg_talk(self) -> float | None:
        return self.talk_sum / self.answered if self.answered else None

    @property
    def abandon_rate_queue(self) -> float | None:
        return rate(self.abandoned_by_stage["queue"], self.offered)

    @property
    def abandon_rate_ringing(self) -> float | None:
        return rate(self.abandoned_by_stage["ringing"], self.offered)

    @property
    def abandon_rate_ivr(self) -> float | None:
        """IVR hang-ups / calls that came in (every record but short abandons)."""
        return rate(self.abandoned_by_stage["ivr"], self.entered - self.short_abandoned)

    def aht(self, wrap_up_seconds: float) -> float | None:
        """Average handle time = (talk + after-call work) / answered."""
        return (self.talk_sum + wrap_up_seconds) / self.answered if self.answered else None


def rate_label(language: str, short_abandon_seconds: float) -> str:
    """The connection rate's label, naming the short-abandon exclusion when it is on."""
    n = f"{short_abandon_seconds:g}"
    if language == "zh":
        return f"接通率（不含{n}秒内放弃）" if short_abandon_seconds > 0 else "接通率"
    return f"Connection rate (excl. abandons ≤ {n} s)" if short_abandon_seconds > 0 else "Connection rate"


@dataclass(frozen=True, slots=True)
class IntervalKpi:
    start: datetime  # local time in the report's zone
    end: datetime
    kpi: Kpi


def _tally(sl_seconds: float, short_abandon_seconds: float) -> Tally:
    return Tally(sl_seconds=sl_seconds, short_abandon_seconds=short_abandon_seconds)


def kpi(records: Iterable[CallRecordData], sl_seconds: float = SERVICE_LEVEL_SECONDS,
        short_abandon_seconds: float = 0.0) -> Kpi:
    tally = _tally(sl_seconds, short_abandon_seconds)
    for rec in records:
        tally.add(rec)
    return Kpi.from_tally(tally)


def group_by(records: Iterable[CallRecordData], key: Callable[[CallRecordData], str | None],
             sl_seconds: float = SERVICE_LEVEL_SECONDS, short_abandon_seconds: float = 0.0) -> dict[str, Kpi]:
    """KPIs per key (records whose key is None are left out), sorted by key."""
    tallies: dict[str, Tally] = {}
    for rec in records:
        k = key(rec)
        if k is not None:
            tallies.setdefault(k, _tally(sl_seconds, short_abandon_seconds)).add(rec)
    return {k: Kpi.from_tally(t) for k, t in sorted(tallies.items())}


def by_queue(records: Iterable[CallRecordData], sl_seconds: float = SERVICE_LEVEL_SECONDS,
             short_abandon_seconds: float = 0.0) -> dict[str, Kpi]:
    """KPIs per queue; calls that never reached a queue (IVR hang-ups) are left out."""
    return group_by(records, lambda r: r.queue, sl_seconds, short_abandon_seconds)


def by_agent(records: Iterable[CallRecordData], sl_seconds: float = SERVICE_LEVEL_SECONDS) -> dict[str, Kpi]:
    """Per agent, over the calls the agent answered: answered (= calls per agent), ASA, talk."""
    return group_by(records, lambda r: r.agent_id if r.outcome is Outcome.ANSWERED else None, sl_seconds)


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """A shift's local wall-clock window; `end <= start` crosses midnight (00:00-00:00: all day)."""

    name: str
    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


def shift_of(at: datetime, shifts: Sequence[ShiftWindow], tz: str | ZoneInfo = DEFAULT_TZ) -> str | None:
    """The first shift whose window holds the local time of `at` (None: no shift)."""
    t = at.astimezone(_zone(tz)).time()
    return next((s.name for s in shifts if s.contains(t)), None)


def by_shift(records: Iterable[CallRecordData], shifts: Sequence[ShiftWindow], tz: str | ZoneInfo = DEFAULT_TZ,
             sl_seconds: float = SERVICE_LEVEL_SECONDS, short_abandon_seconds: float = 0.0) -> dict[str, Kpi]:
    zone = _zone(tz)
    return group_by(records, lambda r: shift_of(r.attributed_at, shifts, zone), sl_seconds, short_abandon_seconds)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def day_bounds(day: datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day that contains the instant `day`."""
    zone = _zone(tz)
    local = day.astimezone(zone).date()
    start = datetime.combine(local, time(0), tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def interval_start(at: datetime, minutes: int, tz: str | ZoneInfo = DEFAULT_TZ) -> datetime:
    """Start (local, aware) of the `minutes`-long wall-clock interval containing `at`."""
    if minutes not in INTERVAL_MINUTES:
        raise ValueError(f"interval must be one of {INTERVAL_MINUTES} minutes, got {minutes}")
    local = at.astimezone(_zone(tz))
    return local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)


def intervals(records: Iterable[CallRecordData], start: datetime, end: datetime, minutes: int = 60,
              tz: str | ZoneInfo = DEFAULT_TZ, queue: str | None = None, sl_seconds: float = SERVICE_LEVEL_SECONDS,
              short_abandon_seconds: float = 0.0) -> list[IntervalKpi]:
    """KPIs per interval covering [start, end), empty intervals included, starts aligned to the
    local wall clock (00:00, 00:15, ...). `queue` restricts to one queue."""
    zone = _zone(tz)
    first = interval_start(start, minutes, zone).astimezone(UTC)
    step = timedelta(minutes=minutes)
    count = max(0, -(-int((end - first).total_seconds()) // (minutes * 60)))
    tallies = [_tally(sl_seconds, short_abandon_seconds) for _ in range(count)]
    for rec in records:
        if queue is not None and rec.queue != queue:
            continue
        at = rec.attributed_at
        if not (start <= at < end):
            continue
        tallies[int((at - first) / step)].add(rec)
    return [
        IntervalKpi(start=(first + i * step).astimezone(zone), end=(first + (i + 1) * step).astimezone(zone),
                    kpi=Kpi.from_tally(t))
        for i, t in enumerate(tallies)
    ]
