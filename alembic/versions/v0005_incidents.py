"""incidents (kept across a restart), incident_tickets (同源件: tickets linked to an incident) and work_alerts
(工作提示 to a department).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written out rather than imported from incidents/: a migration must not change with the model.
    op.create_table(
        "incidents",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "incident_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident", sa.String(120), nullable=False),
        sa.Column("what", sa.String(64), nullable=False),
        sa.Column("where", sa.String(128), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("linked_by", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket", name="uq_incident_tickets_ticket"),
    )
    op.create_index("ix_incident_tickets_incident", "incident_tickets", ["incident"])
    op.create_table(
        "work_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("replied_by", sa.String(64)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_work_alerts_department", "work_alerts", ["department"])


def downgrade() -> None:
    op.drop_index("ix_work_alerts_department", table_name="work_alerts")
    op.drop_table("work_alerts")
    op.drop_index("ix_incident_tickets_incident", table_name="incident_tickets")
    op.drop_table("incident_tickets")
    op.drop_index("ix_incidents_state", table_name="incidents")
    op.drop_table("incidents")
