"""fact sums: the summed counters of hosts and conversations as columns (issue 15)

A host or conversation fact adds up its frame, byte and packet counters (collector.facts.SUMMED)
with every flush period that sees it again: the most frequent write of a long capture.  Held in
the compressed blob, each such write inflated, parsed, serialised and deflated the record again;
as the columns `sum1`..`sum4` (in SUMMED's order) it updates columns only.  Existing rows keep
their counters in the blob (their flags say so, collector.factblob F_SUMS unset) and move them to
the columns the first time they are merged whole; nothing is rewritten here.  The downgrade puts
the counters of rows that have them in columns back into their blobs.

Revision ID: 0010_fact_sums
Revises: 0009_compact_facts
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010_fact_sums"
down_revision = "0009_compact_facts"
branch_labels = None
depends_on = None

SUMS = ("sum1", "sum2", "sum3", "sum4")
PAGE = 2000


def upgrade() -> None:
    with op.batch_alter_table("fact", schema=None) as batch_op:
        for name in SUMS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    from collector.factblob import F_SUMS, decode, encode

    bind = op.get_bind()
    last = 0
    while True:
        rows = list(bind.execute(sa.text(
            "SELECT id, kind, sensor, count, first_ts, last_ts, blob, sum1, sum2, sum3, sum4 FROM fact "
            "WHERE id > :last AND sum1 IS NOT NULL ORDER BY id LIMIT :n"), {"last": last, "n": PAGE}))
        if not rows:
            break
        last = rows[-1][0]
        updates: list[dict[str, Any]] = []
        for r in rows:
            blob = bytes(r[6])
            if blob[1] & F_SUMS:
                o = decode(blob, kind=r[1], sensor=r[2], count=r[3], first_ts=r[4], last_ts=r[5],
                           sums=(r[7], r[8], r[9], r[10]))
                updates.append({"id": r[0], "b": encode(o, sums_in_columns=False)})
        if updates:
            bind.execute(sa.text("UPDATE fact SET blob = :b WHERE id = :id"), updates)
    with op.batch_alter_table("fact", schema=None) as batch_op:
        for name in SUMS:
            batch_op.drop_column(name)
