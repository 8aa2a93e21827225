"""tickets, ticket_events (append-only history), ticket_calls, ticket_counters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out rather than imported from tickets.tables: a migration must not change with the model.
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("contact", sa.String(255), nullable=False),
        sa.Column("county", sa.String(64), nullable=False),
        sa.Column("township", sa.String(128), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("merged_into", sa.String(40), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("dispatched_at", ts, nullable=True),
        sa.Column("due_at", ts, nullable=True),
        sa.Column("resolved_at", ts, nullable=True),
        sa.Column("closed_at", ts, nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("extension_requested_days", sa.Integer(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("follow_up_next_at", ts, nullable=True),
        sa.Column("follow_up_attempts", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("number", name="uq_tickets_number"),
    )
    op.create_index("ix_tickets_caller_open_created", "tickets", ["caller_number", "is_open", "created_at"])
    op.create_index("ix_tickets_department_state", "tickets", ["department", "state"])
    op.create_index("ix_tickets_open_due", "tickets", ["is_open", "due_at"])
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_tickets_state_followup", "tickets", ["state", "follow_up_next_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "id"])
    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("call_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_ticket_calls_call", "ticket_calls", ["call_id"])
    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_counters")
    op.drop_table("ticket_calls")
    op.drop_table("ticket_events")
    op.drop_table("tickets")
