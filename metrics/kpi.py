"""Call-centre KPIs from ended-call records: pure arithmetic, no I/O, no clock.

Definitions (one place, so reports, the wallboard and Prometheus agree):
- offered: the call reached a queue (`queued_at` set). Calls that hung up in the IVR are not offered.
- answered: outcome `answered`. abandoned: by stage (ivr, queue, ringing); the `abandoned` total
  counts the offered calls lost (queue + ringing), IVR hang-ups are reported apart.
- connection rate = answered / offered (None when nothing was offered).
- ASA: mean wait (queued -> answered) of answered calls. longest wait: max wait of offered calls.
- answered within 15 s rate = answered calls that waited <= 15 s / offered (the 12345 "15秒接通率").
- A call counts in the day / interval of its `attributed_at`: when it joined the queue, else when it
  came in. A call queued at 23:59 and answered after midnight belongs to the earlier day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tickets.records import ABANDONED_STAGES, CallRecordData, Outcome

DEFAULT_TZ = "Asia/Shanghai"
SERVICE_LEVEL_SECONDS = 15.0
INTERVAL_MINUTES = (15, 30, 60)


def rate(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(slots=True)
class Tally:
    """Running sums from which every KPI follows; `add` is O(1), so it also serves live counters."""

    offered: int = 0
    answered: int = 0
    abandoned_by_stage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ABANDONED_STAGES.values(), 0))
    answered_within_sl: int = 0
    answered_wait_sum: float = 0.0
    longest_wait: float | None = None

    def add(self, rec: CallRecordData, sl_seconds: float = SERVICE_LEVEL_SECONDS) -> None:
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
            self.answered_wait_sum += wait
            if wait <= sl_seconds:
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
    def answered_within_sl_rate(self) -> float | None:
        return rate(self.answered_within_sl, self.offered)


@dataclass(frozen=True, slots=True)
class Kpi:
    offered: int
    answered: int
    abandoned: int  # offered calls lost: queue + ringing
    abandoned_by_stage: dict[str, int]  # ivr, queue, ringing
    connection_rate: float | None
    asa: float | None
    longest_wait: float | None
    answered_15s_rate: float | None

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
            answered_15s_rate=t.answered_within_sl_rate,
        )


@dataclass(frozen=True, slots=True)
class IntervalKpi:
    start: datetime  # local time in the report's zone
    end: datetime
    kpi: Kpi


def kpi(records: Iterable[CallRecordData], sl_seconds: float = SERVICE_LEVEL_SECONDS) -> Kpi:
    tally = Tally()
    for rec in records:
        tally.add(rec, sl_seconds)
    return Kpi.from_tally(tally)


def by_queue(records: Iterable[CallRecordData]) -> dict[str, Kpi]:
    """KPIs per queue; calls that never reached a queue (IVR hang-ups) are left out."""
    tallies: dict[str, Tally] = {}
    for rec in records:
        if rec.queue is not None:
            tallies.setdefault(rec.queue, Tally()).add(rec)
    return {q: Kpi.from_tally(t) for q, t in sorted(tallies.items())}


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
              tz: str | ZoneInfo = DEFAULT_TZ, queue: str | None = None) -> list[IntervalKpi]:
    """KPIs per interval covering [start, end), empty intervals included, starts aligned to the
    local wall clock (00:00, 00:15, ...). `queue` restricts to one queue."""
    zone = _zone(tz)
    first = interval_start(start, minutes, zone).astimezone(UTC)
    step = timedelta(minutes=minutes)
    count = max(0, -(-int((end - first).total_seconds()) // (minutes * 60)))
    tallies = [Tally() for _ in range(count)]
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
