"""The leader's lease: one row in PostgreSQL, with a fencing epoch, and the leader's local deadline.

Why a lease row and not ``pg_advisory_lock``: an advisory lock belongs to a database session. A leader whose
connection is half-dead (a cut network, a stalled process) still "holds" it until PostgreSQL notices the
session is gone (TCP keepalives: tens of seconds or more), and the leader cannot know when that happens: it
cannot stop at a time it knows to be before anyone else starts. A lease row has an expiry on the database's
clock; the leader starts its own deadline *before* sending each renewal, so its deadline (on its monotonic
clock, ``lease - margin`` after the send) always falls before the row can expire, whatever the network did to
the renewal. At its deadline the leader stops sending AMI actions that change calls (the fence), with no
database round trip needed to decide it. The epoch grows by one at each new holder: logs, the wallboard and
Prometheus name a term by it.

The SQL is plain (SQLAlchemy ``text``) and each call is one short transaction: a standby takes the lease with
``SELECT ... FOR UPDATE`` and an update only if the row has expired on the database's clock, so two nodes that
start together cannot both win (the row lock orders them; the second sees the first's expiry).

The table is coordination state, not data: created here (``CREATE TABLE IF NOT EXISTS`` under an advisory
transaction lock, so two nodes starting at once do not race), not by the Alembic chain, so that a standby can
take the lease while a migration is running elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger("callcenter.ha")

LEASE_NAME = "acd"

_CREATE = """
CREATE TABLE IF NOT EXISTS callcenter_lease (
    name text PRIMARY KEY,
    holder text NOT NULL,
    epoch bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    url text,
    acquired_at timestamptz,
    renewed_at timestamptz
)"""


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The row as a standby sees it."""

    holder: str
    epoch: int
    url: str | None
    live: bool  # not expired on the database's clock
    renewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Acquired:
    epoch: int
    previous: str  # the node that held it before ('' for none)
    #: monotonic time the acquiring statement was sent: the local deadline counts from it
    sent_at: float


class LeaseStore:
    """The lease row's SQL; synchronous (run in a worker thread). ``clock`` is monotonic."""

    def __init__(self, url: str, *, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        if make_url(url).get_backend_name() != "postgresql":
            raise ValueError("the lease needs PostgreSQL")
        ms = max(100, int(timeout * 1000))
        # Short timeouts everywhere: a renewal that cannot finish in time is worth nothing.
        self.engine: Engine = create_engine(url, pool_size=1, max_overflow=1, pool_recycle=300, connect_args={
            "connect_timeout": max(1, int(timeout + 0.999)), "tcp_user_timeout": ms, "keepalives": 1,
            "keepalives_idle": 1, "keepalives_interval": 1, "keepalives_count": 2,
            "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"})
        self.clock = clock

    def close(self) -> None:
        self.engine.dispose()

    def setup(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('callcenter_lease'))"))
            conn.execute(text(_CREATE))
            conn.execute(text("INSERT INTO callcenter_lease (name, holder, epoch, expires_at) "
                              "VALUES (:n, '', 0, '-infinity') ON CONFLICT (name) DO NOTHING"), {"n": LEASE_NAME})

    def try_acquire(self, node: str, url: str | None, seconds: float) -> Acquired | None:
        sent_at = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(text(
                "SELECT holder, epoch, expires_at <= clock_timestamp() FROM callcenter_lease WHERE name = :n "
                "FOR UPDATE"), {"n": LEASE_NAME}).one()
            if not row[2]:
                return None
            epoch = int(row[1]) + 1
            conn.execute(text(
                "UPDATE callcenter_lease SET holder = :h, epoch = :e, url = :u, "
                "expires_at = clock_timestamp() + make_interval(secs => :s), acquired_at = clock_timestamp(), "
                "renewed_at = clock_timestamp() WHERE name = :n"),
                {"h": node, "e": epoch, "u": url, "s": seconds, "n": LEASE_NAME})
        return Acquired(epoch, str(row[0]), sent_at)

    def renew(self, node: str, epoch: int, seconds: float) -> float | None:
        """Extend a live lease this node holds in this epoch; returns when the statement was sent, or None
        when the lease is no longer ours (expired, or another node holds it)."""
        sent_at = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(text(
                "UPDATE callcenter_lease SET expires_at = clock_timestamp() + make_interval(secs => :s), "
                "renewed_at = clock_timestamp() WHERE name = :n AND holder = :h AND epoch = :e "
                "AND expires_at > clock_timestamp() RETURNING epoch"),
                {"s": seconds, "n": LEASE_NAME, "h": node, "e": epoch}).first()
        return sent_at if row is not None else None

    def release(self, node: str, epoch: int) -> bool:
        """A clean stop: expire the lease now, so a standby need not wait for it (call only once fenced)."""
        with self.engine.begin() as conn:
            row = conn.execute(text(
                "UPDATE callcenter_lease SET expires_at = '-infinity' WHERE name = :n AND holder = :h AND epoch = :e "
                "RETURNING epoch"), {"n": LEASE_NAME, "h": node, "e": epoch}).first()
        return row is not None

    def read(self) -> LeaseView:
        with self.engine.begin() as conn:
            row = conn.execute(text(
                "SELECT holder, epoch, url, expires_at > clock_timestamp(), renewed_at FROM callcenter_lease "
                "WHERE name = :n"), {"n": LEASE_NAME}).one()
        return LeaseView(str(row[0]), int(row[1]), row[2], bool(row[3]), row[4])

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


@dataclass(slots=True)
class Term:
    """This node's term as leader, on its own monotonic clock."""

    epoch: int
    deadline: float  # after it, no AMI action that changes calls

    @classmethod
    def starting(cls, epoch: int, sent_at: float, lease: float, margin: float) -> Term:
        return cls(epoch, sent_at + lease - margin)

    def extend(self, sent_at: float, lease: float, margin: float) -> None:
        self.deadline = max(self.deadline, sent_at + lease - margin)


def describe(view: LeaseView | None) -> dict[str, Any]:
    if view is None:
        return {}
    return {"holder": view.holder, "epoch": view.epoch, "live": view.live}


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Held while a node builds its parts: each part creates its missing tables (``create_all``), and two
    nodes doing so at once on an empty PostgreSQL database collide in its catalogue (pg_type's unique index)."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext('callcenter_schema'))"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext('callcenter_schema'))"))
                conn.commit()
    finally:
        engine.dispose()
