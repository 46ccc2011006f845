"""dashboard: daily snapshots of open findings by severity and by service

Revision ID: 0006_dashboard
Revises: 0005_reviews
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006_dashboard"
down_revision = "0005_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "dimension", "key", name="uq_dashboard_snapshot_day_dim_key"),
    )
    with op.batch_alter_table("dashboard_snapshot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_snapshot_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dashboard_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_snapshot_day"))
    op.drop_table("dashboard_snapshot")
