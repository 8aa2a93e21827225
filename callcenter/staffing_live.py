"""The daemon's live-risk task: once a minute (simulated time), the next hour's expected connection rate
from the waiting calls, the available agents and the forecast (staffing/live_risk.py), put on LiveStats
(Prometheus gauge `callcenter_next_hour_connection_rate`, the wallboard's line). The forecast model is
refitted from the store once per local day, in a worker thread."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from staffing.live_risk import calls_next_hour, next_hour_rate
from staffing.plan import CentreModel, centre_model

log = logging.getLogger(__name__)
HISTORY_DAYS = 91
AVAILABLE = ("ready", "reserved", "on_call", "wrap_up")


def build_model(store: Any, cfg: Any, day: date) -> CentreModel | None:
    from staffing.history import read_history

    zone = ZoneInfo(cfg.centre.timezone)
    first = day - timedelta(days=HISTORY_DAYS)
    since = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    until = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    wrapup = {q.name: float(q.wrapup_seconds) for q in cfg.queues}
    return centre_model(read_history(store.records(since, until), zone, wrapup), first, HISTORY_DAYS)


def update(live: Any, model: CentreModel, now: datetime) -> float:
    waiting = sum(n for n, _ in live.waiting_by_queue(now).values())
    counts = live.agent_counts()
    agents = sum(counts.get(s, 0) for s in AVAILABLE)
    rate = next_hour_rate(calls_next_hour(model, now, live.tz), waiting, agents, model.aht_s, model.patience_s)
    live.next_hour_rate = rate
    return rate


async def run_risk(live: Any, store: Any, cfg: Any, clock: Any, every_s: float = 60.0) -> None:
    model: CentreModel | None = None
    model_day: date | None = None
    zone = ZoneInfo(cfg.centre.timezone)
    while True:
        now = clock.now()
        day = now.astimezone(zone).date()
        if day != model_day:
            try:
                model = await asyncio.to_thread(build_model, store, cfg, day)
                model_day = day
            except (SQLAlchemyError, OSError, ValueError) as exc:  # the store away: try again next minute
                log.warning("live risk: no forecast model (%s); next try in %g s", type(exc).__name__, every_s)
        if model is not None:
            update(live, model, now)
        await clock.sleep(every_s)
