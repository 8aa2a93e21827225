"""What the forecast and Erlang-A need, read from stored call records: offered calls per queue and
30-minute interval (local time), handle time, and caller patience.

Patience is censored data: a caller who was answered after 40 s would have waited at least 40 s, not
exactly 40 s. Dropping the answered calls (or counting their waits as patience) biases it. Two estimators
that handle censoring:

- exponential MLE (what Erlang-A assumes): θ = abandonments / total time all queued callers waited;
- Kaplan-Meier, for the median and the shape (is exponential a fair fit?).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from records.model import CallRecordData, Outcome

SLOT_MINUTES = 30
SLOTS = 24 * 60 // SLOT_MINUTES
LOST = (Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING)


def slot_of(at: datetime, tz: ZoneInfo) -> tuple[date, int]:
    local = at.astimezone(tz)
    return local.date(), (local.hour * 60 + local.minute) // SLOT_MINUTES


@dataclass
class Patience:
    abandoned: int
    exposure_s: float  # total seconds waited by every queued caller (answered: until the answer)
    km_median_s: float | None  # Kaplan-Meier median patience (None: the curve never falls to 1/2)

    @property
    def mean_s(self) -> float:
        """Exponential MLE of the mean patience (1/θ); a long default when nobody ever gave up."""
        return self.exposure_s / self.abandoned if self.abandoned else max(self.exposure_s, 3600.0)


@dataclass
class QueueHistory:
    offered: dict[tuple[date, int], int] = field(default_factory=lambda: defaultdict(int))
    handle_sum: float = 0.0
    answered: int = 0
    waits: list[tuple[float, bool]] = field(default_factory=list)  # (seconds, gave up)

    @property
    def aht_s(self) -> float | None:
        return self.handle_sum / self.answered if self.answered else None

    def patience(self) -> Patience:
        lost = sum(1 for _, gave_up in self.waits if gave_up)
        exposure = sum(w for w, _ in self.waits)
        return Patience(lost, exposure, kaplan_meier_median(self.waits))


def kaplan_meier_median(waits: Sequence[tuple[float, bool]]) -> float | None:
    """Median of the patience distribution from (wait, gave_up) pairs; answered waits are right-censored."""
    if not waits:
        return None
    ordered = sorted(waits, key=lambda w: (w[0], not w[1]))  # at a tie, events before censorings
    at_risk = len(ordered)
    survival = 1.0
    i = 0
    while i < len(ordered):
        t = ordered[i][0]
        events = censored = 0
        while i < len(ordered) and ordered[i][0] == t:
            events += ordered[i][1]
            censored += not ordered[i][1]
            i += 1
        if events:
            survival *= 1.0 - events / at_risk
            if survival <= 0.5:
                return t
        at_risk -= events + censored
    return None


def read_history(records: Iterable[CallRecordData], tz: ZoneInfo,
                 wrapup: dict[str, float]) -> dict[str, QueueHistory]:
    """Per queue: offered calls by (local day, slot), handle times (ring + talk + wrap-up), waits."""
    out: dict[str, QueueHistory] = defaultdict(QueueHistory)
    for rec in records:
        if rec.queue is None or rec.queued_at is None:
            continue  # hung up in the IVR: never offered to a queue
        h = out[rec.queue]
        h.offered[slot_of(rec.queued_at, tz)] += 1
        wait = rec.wait_seconds or 0.0
        if rec.outcome is Outcome.ANSWERED and rec.answered_at is not None:
            ring = (rec.answered_at - rec.offered_at).total_seconds() if rec.offered_at else 0.0
            h.handle_sum += ring + (rec.talk_seconds or 0.0) + wrapup.get(rec.queue, 0.0)
            h.answered += 1
            h.waits.append((max(wait, 0.0), False))
        elif rec.outcome in LOST:
            h.waits.append((max(wait, 0.0), True))
    return dict(out)


def daily_matrix(offered: dict[tuple[date, int], int], first: date, days: int) -> list[list[float]]:
    """offered counts as days x SLOTS, zero where nothing was recorded."""
    out = [[0.0] * SLOTS for _ in range(days)]
    for (day, slot), n in offered.items():
        i = (day - first).days
        if 0 <= i < days:
            out[i][slot] += n
    return out


def exponential_patience_ok(p: Patience) -> bool:
    """The exponential fit's median (mean × ln 2) within a factor 1.5 of Kaplan-Meier's."""
    if p.km_median_s is None or not p.abandoned:
        return True
    ratio = p.mean_s * math.log(2) / p.km_median_s
    return 1 / 1.5 <= ratio <= 1.5
