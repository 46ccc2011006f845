"""compact facts: a 64-bit key, the record compressed beside its columns, two indexes fewer (issue 14)

The `fact` table kept each record as JSON text (kind, sensor, count and times repeated from the
columns) under a 32-hex unique key, with five indexes; it was most of the store.  Each row is
converted here (collector.factblob), both ways: the key is computed again from the record as parsed
(collector.facts.fact_key; the 64-bit key is the first half of it): before this revision a
record the collector built without validation could serialise its fields in another order and key
differently from the same record parsed from JSON: rows that turn out to be one fact are merged.
The indexes on `sensor` and `last_ts` go: no query looks a fact up by them
(store.facts.newest_packet_ts reads the sensors' status instead).  The JSON of devices and findings is
stored zlib-compressed as well
(store.models.CompressedText).

Revision ID: 0009_compact_facts
Revises: 0008_sheet_origin
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0009_compact_facts"
down_revision = "0008_sheet_origin"
branch_labels = None
depends_on = None

PAGE = 2000


def _pages(query: str, key: str, start: object) -> Iterator[list[Any]]:
    """Rows of `query` (first column `key`, `:last` its lower bound) page by page, so memory stays flat."""
    bind = op.get_bind()
    last = start
    while True:
        rows = list(bind.execute(sa.text(f"{query} ORDER BY {key} LIMIT :n"), {"last": last, "n": PAGE}))
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _convert(query: str, update: str, row: Callable[[Any], dict[str, Any]], key: str = "id",
             start: object = 0) -> None:
    bind = op.get_bind()
    for rows in _pages(query, key, start):
        bind.execute(sa.text(update), [row(r) for r in rows])


RECORDS = (("device", "mac"), ("finding", "id"))
"""Tables whose `data` JSON becomes compressed (store.models.CompressedText), with their primary key."""


def _records(new_type: sa.types.TypeEngine[Any], convert: Callable[[Any], Any]) -> None:
    """Rewrite `data` of each of RECORDS as `new_type` (converted by `convert`) through a column beside it."""
    for table, key in RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("data_new", new_type, nullable=True))
        _convert(f"SELECT {key}, data FROM {table} WHERE {key} > :last",
                 f"UPDATE {table} SET data_new = :d WHERE {key} = :k",
                 lambda r: {"k": r[0], "d": convert(r[1])}, key=key, start="")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("data")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("data_new", new_column_name="data", existing_type=new_type, nullable=False)


def _expanding(name: str) -> Any:
    return sa.bindparam(name, expanding=True)


def _merge_same_facts(keys: dict[int, int]) -> None:
    """Rows whose records are one fact under the key computed again (`keys`: row id -> new key) become one.

    Before this revision, a record the collector built without validation could key differently from
    the same record parsed from JSON (field order): the same fact could be stored twice.  The first
    row keeps the merged record (collector.facts.merge); the others are deleted.
    """
    from collector.facts import merge
    from collector.schema import parse_observation

    groups: dict[int, list[int]] = {}
    for row_id, key in keys.items():
        groups.setdefault(key, []).append(row_id)
    bind = op.get_bind()
    for ids in (sorted(g) for g in groups.values() if len(g) > 1):
        select = sa.text("SELECT id, json FROM fact WHERE id IN :ids").bindparams(_expanding("ids"))
        rows = {r[0]: parse_observation(r[1]) for r in bind.execute(select, {"ids": ids})}
        merged = rows[ids[0]]
        for other in ids[1:]:
            merged = merge(merged, rows[other])
        bind.execute(sa.text("UPDATE fact SET json = :j, count = :c WHERE id = :id"),
                     {"j": merged.model_dump_json(), "c": merged.count, "id": ids[0]})
        bind.execute(sa.text("DELETE FROM fact WHERE id IN :ids").bindparams(_expanding("ids")),
                     {"ids": ids[1:]})
        for other in ids[1:]:
            del keys[other]


def upgrade() -> None:
    from collector.factblob import encode, first_column, key64, last_column
    from collector.facts import fact_key
    from collector.schema import parse_observation

    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fkey64", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("blob", sa.LargeBinary(), nullable=True))

    # the key is computed again from the record as parsed (module docstring), then same facts merged
    keys: dict[int, int] = {}
    for rows in _pages("SELECT id, json FROM fact WHERE id > :last", "id", 0):
        for r in rows:
            keys[r[0]] = key64(fact_key(parse_observation(r[1])))
    _merge_same_facts(keys)

    def row(r: Any) -> dict[str, Any]:
        o = parse_observation(r[1])
        return {"id": r[0], "k": keys[r[0]], "b": encode(o, sums_in_columns=False), "f": first_column(o),
                "l": last_column(o)}

    _convert("SELECT id, json FROM fact WHERE id > :last",
             "UPDATE fact SET fkey64 = :k, blob = :b, first_ts = :f, last_ts = :l WHERE id = :id", row)
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_sensor")
        batch_op.drop_index("ix_fact_last_ts")
        batch_op.drop_column("json")
        batch_op.drop_column("fkey")
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.alter_column("fkey64", new_column_name="fkey", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("blob", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.create_index("ix_fact_fkey", ["fkey"], unique=True)
    _records(sa.LargeBinary(), lambda text: zlib.compress(text.encode(), 6))


def downgrade() -> None:
    from collector.factblob import decode
    from collector.facts import fact_key
    from store.facts import fact_json

    _records(sa.Text(), lambda data: zlib.decompress(data).decode())
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fkey_hex", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("json", sa.Text(), nullable=True))

    def row(r: Any) -> dict[str, Any]:
        o = decode(r[1], kind=r[2], sensor=r[3], count=r[4], first_ts=r[5], last_ts=r[6])
        return {"id": r[0], "k": fact_key(o), "j": fact_json(o)}

    _convert("SELECT id, blob, kind, sensor, count, first_ts, last_ts FROM fact WHERE id > :last",
             "UPDATE fact SET fkey_hex = :k, json = :j WHERE id = :id", row)
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_fkey")
        batch_op.drop_column("blob")
        batch_op.drop_column("fkey")
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.alter_column("fkey_hex", new_column_name="fkey", existing_type=sa.String(32), nullable=False)
        batch_op.alter_column("json", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("fact", schema=None) as batch_op:
        batch_op.create_unique_constraint("fact_fkey_key", ["fkey"])
        batch_op.create_index("ix_fact_sensor", ["sensor"], unique=False)
        batch_op.create_index("ix_fact_last_ts", ["last_ts"], unique=False)
