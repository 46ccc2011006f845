"""reviews: perimeter review campaigns, sheets marked reviewed, referents' digest state

Revision ID: 0005_reviews
Revises: 0004_rule_uid
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005_reviews"
down_revision = "0004_rule_uid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "perimeter_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("opened_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sheet_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("sheet_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reviewed_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("reviewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "sheet_id", name="uq_sheet_review_review_sheet"),
    )
    with op.batch_alter_table("sheet_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sheet_review_review_id"), ["review_id"], unique=False)
    op.create_table(
        "referent_digest",
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("service"),
    )


def downgrade() -> None:
    op.drop_table("referent_digest")
    with op.batch_alter_table("sheet_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sheet_review_review_id"))
    op.drop_table("sheet_review")
    op.drop_table("perimeter_review")
