"""Live risk: the connection rate the next hour can be expected to reach, from the calls waiting now, the
agents available to the ACD now and the forecast for the coming hour (Erlang-A). Pure: the daemon's task
(callcenter/staffing_live.py) passes the figures and publishes the result as a Prometheus gauge and a
wallboard line."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from staffing.erlang import erlang_a
from staffing.history import SLOT_MINUTES
from staffing.plan import CentreModel

HOUR_S = 3600.0


def calls_next_hour(model: CentreModel, now: datetime, tz: ZoneInfo) -> float:
    """Forecast calls in [now, now + 1 h), the intervals it overlaps prorated."""
    total, t, end = 0.0, now, now + timedelta(hours=1)
    cache: dict[object, object] = {}
    while t < end:
        local = t.astimezone(tz)
        day = local.date()
        if day not in cache:
            cache[day] = model.model.forecast([day])[0]
        slot = (local.hour * 60 + local.minute) // SLOT_MINUTES
        slot_end = local.replace(minute=(local.minute // SLOT_MINUTES) * SLOT_MINUTES, second=0, microsecond=0) \
            + timedelta(minutes=SLOT_MINUTES)
        step = min(end, slot_end.astimezone(now.tzinfo)) - t
        total += float(cache[day][slot]) * step.total_seconds() / (SLOT_MINUTES * 60)  # type: ignore[index]
        t += step
    return total


def next_hour_rate(calls: float, waiting: int, agents: int, aht_s: float, patience_s: float) -> float:
    """Expected connection rate over the next hour: the callers waiting now join the hour's forecast calls,
    served by the agents available now (ready, ringing, on a call or in wrap-up)."""
    load = calls + waiting
    if load <= 0:
        return 1.0
    if agents <= 0:
        return 0.0
    return float(erlang_a(load / HOUR_S, 1.0 / aht_s, 1.0 / patience_s, agents).connection_rate[0])
