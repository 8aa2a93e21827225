"""Helpers for tests and benchmarks: consistent call records, and a throwaway PostgreSQL database.

Not used by the daemon.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from records.model import CallRecordData, Outcome

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def make_record(call_id: str, outcome: Outcome | str = Outcome.ANSWERED, *, entered_at: datetime,
                queue: str | None = "main", ivr: float = 5.0, wait: float = 10.0, ring: float = 3.0,
                talk: float = 60.0, caller: str = "13800000000", agent: str = "1001",
                offers: int | None = None) -> CallRecordData:
    """A record whose times agree: IVR for `ivr` s, queue wait `wait` s (the last `ring` s of it
    ringing an agent, when one was rung), then `talk` s when answered."""
    outcome = Outcome(outcome)
    queued = outcome not in (Outcome.ABANDONED_IVR, Outcome.FAILED, Outcome.FALLBACK)
    queued_at = entered_at + timedelta(seconds=ivr) if queued else None
    offered_at = answered_at = None
    wait_seconds = None
    agent_id = None
    if queued_at is not None:
        wait_end = queued_at + timedelta(seconds=wait)
        wait_seconds = wait
        if outcome in (Outcome.ANSWERED, Outcome.ABANDONED_RINGING):
            offered_at = wait_end - timedelta(seconds=min(ring, wait))
        if outcome is Outcome.ANSWERED:
            answered_at = wait_end
            agent_id = agent
            ended_at = wait_end + timedelta(seconds=talk)
        else:
            ended_at = wait_end
    else:
        ended_at = entered_at + timedelta(seconds=ivr)
    return CallRecordData(
        call_id=call_id, linkedid=call_id, caller_number=caller, caller_name="",
        channel=f"PJSIP/trunk-{call_id}",
        ivr_path="welcome>main:2" if queued else "welcome", language="zh",
        queue=queue if queued else None, agent_id=agent_id,
        entered_at=entered_at, queued_at=queued_at, offered_at=offered_at, answered_at=answered_at,
        ended_at=ended_at, wait_seconds=wait_seconds,
        talk_seconds=talk if answered_at is not None else None,
        offers=offers if offers is not None else (1 if offered_at is not None else 0),
        outcome=outcome, hangup_cause=16,
    )


@contextmanager
def throwaway_pg_database(admin_url: str = PG_ADMIN_URL, prefix: str = "callcenter_test_") -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it (terminating its sessions) after."""
    from sqlalchemy import create_engine, text

    name = prefix + secrets.token_hex(6)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def set_pg_reachable(db_url: str, reachable: bool, admin_url: str = PG_ADMIN_URL) -> None:
    """Simulate a database outage: refuse new connections to the database and end open ones."""
    from sqlalchemy import create_engine, text

    name = db_url.rsplit("/", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            allow = "true" if reachable else "false"
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allow}'))
            if not reachable:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    finally:
        admin.dispose()


SHANGHAI = "Asia/Shanghai"


def local_at(h: int, m: int, s: int = 0, day: int = 1, tz: str = SHANGHAI) -> datetime:
    """UTC instant of 2026-03-<day> h:m:s in `tz` (the hand-worked day's calendar)."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    return datetime(2026, 3, day, h, m, s, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def hand_worked_day() -> dict[str, CallRecordData]:
    """The metrics tests' example (Asia/Shanghai). Day 1 = 2026-03-01 local. Queued at (local), wait:
      A 09:05:00 main  wait 10 answered       B 09:20:00 main wait 20 answered
      C 09:40:00 main  wait 30 abandoned in queue
      D 10:10:00 tax   wait 40 abandoned while ringing
      E 10:20:00 (IVR only) abandoned in the IVR: not offered
      F 23:59:50 tax   wait 12 answered at 00:00:02 on day 2: counts on day 1 (queued then)
      G 00:10:00 day 2 main wait 5 answered
    """
    def queued(call_id: str, outcome: str, when: datetime, wait: float,
               queue: str | None = "main") -> CallRecordData:
        return make_record(call_id, outcome, entered_at=when - timedelta(seconds=5), ivr=5, wait=wait,
                           queue=queue)

    return {
        "A": queued("A", "answered", local_at(9, 5), 10),
        "B": queued("B", "answered", local_at(9, 20), 20),
        "C": queued("C", "abandoned_queue", local_at(9, 40), 30),
        "D": queued("D", "abandoned_ringing", local_at(10, 10), 40, queue="tax"),
        "E": queued("E", "abandoned_ivr", local_at(10, 20), 0, queue=None),
        "F": queued("F", "answered", local_at(23, 59, 50), 12, queue="tax"),
        "G": queued("G", "answered", local_at(0, 10, day=2), 5),
    }


@contextmanager
def database_url(kind: str, tmp_dir: str) -> Iterator[str]:
    """A fresh database of `kind` ('sqlite' in `tmp_dir`, or a throwaway 'postgresql' one): its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir}/tickets.db"
        return
    with throwaway_pg_database() as url:
        yield url
