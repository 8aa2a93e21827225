"""call_records.pbx: the Asterisk server each call came in on (several PBXs, docs/scale.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before have one PBX: the one a single-PBX config calls "main".
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("pbx", sa.String(32), nullable=False, server_default="main"))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("pbx")
