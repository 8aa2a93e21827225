"""Alembic environment for the call-record store.

The database URL comes from `-x url=...`, else the environment variable CALLCENTER_DATABASE_URL,
else an explicit `sqlalchemy.url` set by a caller (records.migrate). It is never logged unmasked.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import tickets.tables  # noqa: F401  (tickets, ticket_events, ticket_calls, ticket_counters)
from alembic import context
from callcenter.web import sessions as web_sessions
from incidents import alerts, journal, sources
from records import agentlog

config = context.config

# Programmatic callers (the daemon, tests) keep their own logging; the CLI gets alembic.ini's.
if config.config_file_name is not None and not config.attributes.get("keep_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Plain Core tables with their own MetaData: agent_state_intervals (records/agentlog.py), incidents,
# incident_tickets and work_alerts (incidents/journal.py, sources.py, alerts.py), web_sessions and
# web_users_disabled (callcenter/web/sessions.py).
target_metadata = [SQLModel.metadata, agentlog.metadata, journal.META, sources.META, alerts.META,
                   web_sessions.metadata]


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("CALLCENTER_DATABASE_URL")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set CALLCENTER_DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
