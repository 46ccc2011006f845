"""sheet origin: the file and line a sheet was last imported from, cited by its findings (issue 20 item 12)

Revision ID: 0008_sheet_origin
Revises: 0007_interventions
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0008_sheet_origin"
down_revision = "0007_interventions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sheet", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sheet", schema=None) as batch_op:
        batch_op.drop_column("origin")
