"""agent_state_intervals: each agent's closed state intervals (after-call work, occupancy, not-ready reasons).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out rather than imported from records.agentlog: a migration must not change with the model.
    op.create_table(
        "agent_state_intervals",
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "start"),
    )
    op.create_index("ix_agent_state_intervals_end", "agent_state_intervals", ["end"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_intervals_end", table_name="agent_state_intervals")
    op.drop_table("agent_state_intervals")
