"""call_records: one row per ended call, keyed by the caller channel's Uniqueid.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out rather than imported from records.table: a migration must not change when the model does.
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("ivr_path", sa.String(255), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("entered_at", ts, nullable=False),
        sa.Column("queued_at", ts, nullable=True),
        sa.Column("offered_at", ts, nullable=True),
        sa.Column("answered_at", ts, nullable=True),
        sa.Column("ended_at", ts, nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
    )
    op.create_index("ix_call_records_caller_ended", "call_records", ["caller_number", "ended_at"])
    op.create_index("ix_call_records_ended", "call_records", ["ended_at"])
    op.create_index("ix_call_records_queue_ended", "call_records", ["queue", "ended_at"])


def downgrade() -> None:
    op.drop_table("call_records")
