"""facts store: aggregated facts, store state, sensor status, the site policy in use, finding occurrences

Revision ID: 0002_facts
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002_facts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fkey", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sensor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.Float(), nullable=False),
        sa.Column("last_ts", sa.Float(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fkey"),
    )
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fact_sensor"), ["sensor"], unique=False)
        batch_op.create_index(batch_op.f("ix_fact_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_fact_last_ts"), ["last_ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_fact_generation"), ["generation"], unique=False)
    state = op.create_table(
        "store_state",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    # the row every writer locks first (store.facts.bump_generation): it must exist before any writer
    # and the one every analysis locks before it writes (store.facts.lock_analysis)
    # and `facts`, bumped by fact writes only (an in-memory digest stays valid across sheet and policy
    # changes)
    op.bulk_insert(state, [{"key": "generation", "value": 0}, {"key": "analyzed", "value": 0},
                           {"key": "facts", "value": 0}])
    op.create_table(
        "sensor_status",
        sa.Column("sensor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("last_batch_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=False),
        sa.Column("last_packet_ts", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("sensor"),
    )
    op.create_table(
        "site_policy",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("occurrences")
    op.drop_table("site_policy")
    op.drop_table("sensor_status")
    op.drop_table("store_state")
    op.drop_table("fact")
