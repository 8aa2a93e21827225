"""Server-side sessions: the signed cookie names a session, the database says whether it still stands.

Starlette's signed cookie (auth.py) proves who made a session; it cannot be taken back. So each sign-in
also writes a row to ``web_sessions`` (the id kept as its SHA-256, never the cookie's value), and every
request checks that row: signing out, an admin's "disable" or "sign out everywhere", and a change of the
user's password hash in the config (the row keeps a digest of the hash it was made under) end the session.
Disabled users are in ``web_users_disabled``. Both tables live in the daemon's own database, so a restart
keeps the sessions that stand and the ones that were ended (migration alembic/versions/v0006).

Lookups are served from memory after the first (this process is the only writer); writes go to the
database at once. Tests and apps without a database get an in-memory SQLite.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, create_engine, delete, select, update
from sqlalchemy.pool import StaticPool

log = logging.getLogger("callcenter.sessions")

metadata = MetaData()
SESSIONS = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 (hex) of the id in the cookie
    Column("username", String(64), nullable=False, index=True),
    Column("password_fp", String(32), nullable=False),  # digest of the password hash it was opened under
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_why", String(16), nullable=True),  # logout | disabled | admin | replaced
)
DISABLED = Table(
    "web_users_disabled",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("disabled_at", DateTime(timezone=True), nullable=False),
    Column("disabled_by", String(64), nullable=False),
)
MAX_CACHED = 50_000


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a user's password hash: a session made under another hash no longer stands."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Row:
    username: str
    password_fp: str
    expires_at: datetime
    revoked: bool


class SessionStore:
    """`engine`: the daemon's database (shared with the call records); None: an in-memory SQLite."""

    def __init__(self, engine: Engine | str | None = None, *, hours: float = 12,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if engine is None:
            engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        self.engine = create_engine(engine) if isinstance(engine, str) else engine
        self.hours = hours
        self.clock = clock
        metadata.create_all(self.engine)
        self._lock = threading.Lock()
        self._cache: dict[str, _Row] = {}
        with self.engine.connect() as conn:
            self._disabled = {r.username for r in conn.execute(select(DISABLED.c.username))}

    # ------------------------------------------------------------------ sessions

    def open(self, username: str, password_hash: str) -> str:
        """A new session for the user; returns its id (to put in the signed cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        row = _Row(username, password_fingerprint(password_hash), now + timedelta(hours=self.hours), False)
        with self.engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))  # expired rows go at each sign-in
            conn.execute(SESSIONS.insert().values(
                id=_key(session_id), username=username, password_fp=row.password_fp, created_at=now,
                expires_at=row.expires_at))
        self._remember(_key(session_id), row)
        return session_id

    def stands(self, session_id: str, username: str, password_hash: str) -> bool:
        """Whether the session is open: not signed out, not expired, the user enabled, the same password."""
        if username in self._disabled:
            return False
        row = self._row(_key(session_id))
        if row is None or row.revoked or row.username != username:
            return False
        return self.clock() < row.expires_at and row.password_fp == password_fingerprint(password_hash)

    def revoke(self, session_id: str, why: str = "logout") -> None:
        key = _key(session_id)
        self._end(SESSIONS.c.id == key, why)
        with self._lock:
            self._cache.pop(key, None)

    def revoke_user(self, username: str, why: str = "admin") -> int:
        """End every open session of the user; returns how many."""
        count = self._end(SESSIONS.c.username == username, why)
        with self._lock:
            for key in [k for k, r in self._cache.items() if r.username == username]:
                del self._cache[key]
        return count

    def open_sessions(self, username: str) -> int:
        now = self.clock()
        query = select(SESSIONS.c.id).where(SESSIONS.c.username == username, SESSIONS.c.revoked_at.is_(None),
                                            SESSIONS.c.expires_at > now)
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())

    # ------------------------------------------------------------------ users switched off

    def disable(self, username: str, by: str) -> int:
        """Refuse the user's sign-ins and end their sessions; returns how many sessions were ended."""
        with self.engine.begin() as conn:
            conn.execute(delete(DISABLED).where(DISABLED.c.username == username))
            conn.execute(DISABLED.insert().values(username=username, disabled_at=self.clock(), disabled_by=by))
        self._disabled.add(username)
        return self.revoke_user(username, "disabled")

    def enable(self, username: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(DISABLED).where(DISABLED.c.username == username))
        self._disabled.discard(username)

    def is_disabled(self, username: str) -> bool:
        return username in self._disabled

    # ------------------------------------------------------------------ inside

    def _end(self, where: object, why: str) -> int:
        stmt = update(SESSIONS).where(where, SESSIONS.c.revoked_at.is_(None)).values(  # type: ignore[arg-type]
            revoked_at=self.clock(), revoked_why=why[:16])
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def _row(self, key: str) -> _Row | None:
        with self._lock:
            row = self._cache.get(key)
        if row is not None:
            return row
        # Not seen by this process: a session from before a restart (or one already ended).
        with self.engine.connect() as conn:
            found = conn.execute(select(SESSIONS).where(SESSIONS.c.id == key)).first()
        if found is None:
            return None
        row = _Row(found.username, found.password_fp, _utc(found.expires_at), found.revoked_at is not None)
        self._remember(key, row)
        return row

    def _remember(self, key: str, row: _Row) -> None:
        with self._lock:
            if len(self._cache) >= MAX_CACHED:  # bounded: the oldest entry goes, the database still has it
                del self._cache[next(iter(self._cache))]
            self._cache[key] = row
