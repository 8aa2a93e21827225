"""call_records: the after-call survey score and every IVR step with its timing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ivr_steps", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("ivr_steps")
        batch.drop_column("satisfaction")
