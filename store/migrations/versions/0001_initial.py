"""initial schema

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-29 03:37:21.664509
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('who', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('when', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('old', sa.Text(), nullable=True),
    sa.Column('new', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_when'), ['when'], unique=False)

    op.create_table('device',
    sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('hostname', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('ips', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('connection', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('vendor', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('is_dm', sa.Boolean(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('sheet_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('sensors', sa.Text(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('mac')
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_connection'), ['connection'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_zone'), ['zone'], unique=False)

    op.create_table('finding',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('severity_rank', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('justification', sa.Text(), nullable=True),
    sa.Column('expires', sa.Date(), nullable=True),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=True),
    sa.Column('last_seen', sa.Float(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_service'), ['service'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_zone'), ['zone'], unique=False)

    op.create_table('ingest_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sensor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sensor', 'seq', name='uq_ingest_batch_sensor_seq')
    )
    op.create_table('observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sensor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('batch_seq', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.Column('json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observation_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_observation_sensor'), ['sensor'], unique=False)

    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sources', sa.Text(), nullable=False),
    sa.Column('stats', sa.Text(), nullable=False),
    sa.Column('sensor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sheet',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('software_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )



def downgrade() -> None:
    
    op.drop_table('token')
    op.drop_table('sheet')
    op.drop_table('run')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observation_sensor'))
        batch_op.drop_index(batch_op.f('ix_observation_kind'))

    op.drop_table('observation')
    op.drop_table('ingest_batch')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_zone'))
        batch_op.drop_index(batch_op.f('ix_finding_status'))
        batch_op.drop_index(batch_op.f('ix_finding_severity'))
        batch_op.drop_index(batch_op.f('ix_finding_service'))
        batch_op.drop_index(batch_op.f('ix_finding_rule'))

    op.drop_table('finding')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_zone'))
        batch_op.drop_index(batch_op.f('ix_device_role'))
        batch_op.drop_index(batch_op.f('ix_device_connection'))

    op.drop_table('device')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_when'))

    op.drop_table('audit')

