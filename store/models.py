"""Database tables (SQLModel): facts, raw observations (optional), ingest batches, sensors, devices, findings,
sheets, audit, tokens, runs.

Report records (Device, Finding, Sheet) are kept whole as JSON in `data` (compressed for devices and
findings: CompressedText), with the fields the API filters on copied into indexed columns.  The same code
runs on SQLite and PostgreSQL; the alembic revision in store/migrations creates
exactly these tables.
"""

from __future__ import annotations

import datetime as dt
import zlib

from sqlalchemy import BigInteger, Column, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Blob(LargeBinary):
    """Bytes handed to the driver as they are: sqlite3 and psycopg take `bytes`, and LargeBinary's own
    bind processor (a wrapper object per value) cost a tenth of a fact upsert."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None


class CompressedText(TypeDecorator[str]):
    """Text stored zlib-compressed (the stream's first byte, 0x78, names the format), read back as text.

    Device and finding records are JSON of a few kilobytes (peer lists, evidence, recommendations
    naming hundreds of MACs) that compress 3 to 4 times, and were most of the store once facts were
    compact.  Readers and writers keep handling `str`; nothing queries inside them in SQL
    (store.records filters findings by device after reading them).
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else zlib.compress(value.encode(), 6)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else zlib.decompress(value).decode()


class ObservationRow(SQLModel, table=True):
    __tablename__ = "observation"
    id: int | None = Field(default=None, primary_key=True)
    sensor: str = Field(default="", index=True, max_length=128)
    batch_seq: int | None = Field(default=None)
    kind: str = Field(index=True, max_length=32)
    ts: float = Field(default=0.0)
    json_text: str = Field(sa_column=Column("json", Text, nullable=False))


class FactRow(SQLModel, table=True):
    """One fact (collector.facts): an observation merged with every identical one, upserted with a count.

    `fkey` is the fact key as a 64-bit integer and `blob` the rest of the merged record (first evidence
    pointer, identity fields) compressed (collector.factblob), beside `sum1`..`sum4`; `generation` is the
    store generation of its last change, so a reader can take what changed since.  Indexed: the key
    (upserts), `kind` (readers of one kind) and `generation` (readers of what changed); nothing else is
    looked up by value.
    """

    __tablename__ = "fact"
    id: int | None = Field(default=None, primary_key=True)
    fkey: int = Field(sa_column=Column("fkey", BigInteger, nullable=False, unique=True, index=True))
    sensor: str = Field(default="", max_length=128)
    kind: str = Field(index=True, max_length=32)
    count: int = 1
    first_ts: float = 0.0
    last_ts: float = 0.0
    generation: int = Field(default=0, index=True)
    blob: bytes = Field(sa_column=Column("blob", Blob, nullable=False))
    # the summed counters of a host or conversation (collector.facts.SUMMED, in its order; None for the other
    # kinds): columns, so that a later period of a known one updates columns only (collector.factblob F_SUMS)
    sum1: int | None = Field(default=None, sa_column=Column("sum1", BigInteger, nullable=True))
    sum2: int | None = Field(default=None, sa_column=Column("sum2", BigInteger, nullable=True))
    sum3: int | None = Field(default=None, sa_column=Column("sum3", BigInteger, nullable=True))
    sum4: int | None = Field(default=None, sa_column=Column("sum4", BigInteger, nullable=True))


class StoreState(SQLModel, table=True):
    """Counters of the store: `generation` (bumped by every write of facts, sheets or policy), `analyzed`
    ..."""

    __tablename__ = "store_state"
    key: str = Field(primary_key=True, max_length=64)
    value: int = 0
    at: dt.datetime | None = None


class SensorStatus(SQLModel, table=True):
    """Per sensor: its last batch (received when, sequence, packet time), so a silent sensor is noticed."""

    __tablename__ = "sensor_status"
    sensor: str = Field(primary_key=True, max_length=128)
    last_batch_at: dt.datetime = Field(default_factory=utcnow)
    last_seq: int = 0
    batches: int = 0
    facts: int = 0
    last_packet_ts: float | None = None


class SitePolicyRow(SQLModel, table=True):
    """The site policy the analyses use (validated, as JSON), saved by the last replay, capture or analyze
    that was given one, so a central or a later run analyzes with the same zones and conduits."""

    __tablename__ = "site_policy"
    key: str = Field(primary_key=True, max_length=32)
    source: str = Field(default="", max_length=1024)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    json_text: str = Field(sa_column=Column("json", Text, nullable=False))


class IngestBatch(SQLModel, table=True):
    __tablename__ = "ingest_batch"
    __table_args__ = (UniqueConstraint("sensor", "seq", name="uq_ingest_batch_sensor_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    sensor: str = Field(max_length=128)
    seq: int
    received_at: dt.datetime = Field(default_factory=utcnow)
    count: int = 0


class DeviceRow(SQLModel, table=True):
    __tablename__ = "device"
    mac: str = Field(primary_key=True, max_length=32)
    hostname: str | None = Field(default=None, max_length=255)
    ips: str = Field(default="", max_length=4000, description="space-separated, for search")
    zone: str | None = Field(default=None, index=True, max_length=128)
    role: str = Field(default="unknown", index=True, max_length=64)
    connection: str = Field(default="unknown", index=True, max_length=16)
    vendor: str | None = Field(default=None, max_length=255)
    is_dm: bool = False
    service: str = Field(default="it", max_length=16)
    sheet_id: str | None = Field(default=None, max_length=64)
    sensors: str = Field(default="[]", sa_column=Column("sensors", Text, nullable=False))
    data: str = Field(sa_column=Column("data", CompressedText, nullable=False))


class FindingRow(SQLModel, table=True):
    __tablename__ = "finding"
    id: str = Field(primary_key=True, max_length=64)
    rule: str = Field(index=True, max_length=128)
    rule_uid: str = Field(default="", index=True, max_length=36)
    severity: str = Field(index=True, max_length=16)
    severity_rank: int = 0
    status: str = Field(default="open", index=True, max_length=32)
    justification: str | None = Field(default=None, sa_column=Column("justification", Text))
    expires: dt.date | None = None
    updated_by: str | None = Field(default=None, max_length=255)
    updated_at: dt.datetime | None = None
    active: bool = True
    zone: str | None = Field(default=None, index=True, max_length=128)
    service: str = Field(default="it", index=True, max_length=16)
    first_seen: float | None = None
    last_seen: float | None = None
    occurrences: int = 1
    data: str = Field(sa_column=Column("data", CompressedText, nullable=False))


class SheetRow(SQLModel, table=True):
    __tablename__ = "sheet"
    id: str = Field(primary_key=True, max_length=64)
    software_name: str = Field(max_length=255)
    version: int = 1
    updated_at: dt.datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=255)
    data: str = Field(sa_column=Column("data", Text, nullable=False))
    origin: str | None = Field(default=None, max_length=300)
    """Where the sheet was last imported from (`sheets.csv:12`); None once edited in the UI or the API."""


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    who: str = Field(max_length=255)
    when: dt.datetime = Field(default_factory=utcnow, index=True)
    action: str = Field(max_length=32)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=128)
    field: str | None = Field(default=None, max_length=128)
    old: str | None = Field(default=None, sa_column=Column("old", Text))
    new: str | None = Field(default=None, sa_column=Column("new", Text))


class TokenRow(SQLModel, table=True):
    __tablename__ = "token"
    id: int | None = Field(default=None, primary_key=True)
    hash: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    name: str = Field(max_length=255)
    created: dt.datetime = Field(default_factory=utcnow)
    revoked: bool = False
    expires: dt.datetime | None = Field(default=None,
                                        description="Refused from then on (None: never expires).")
    last_used: dt.datetime | None = Field(default=None,
                                          description="Last accepted use (updated at most once a minute).")
    sensor: str | None = Field(default=None, max_length=128,
                               description="Sensor id a sensor token may ingest as.")


class WebSessionRow(SQLModel, table=True):
    """A web UI session, so that sign-out, idle timeout and token revocation end it on the server side."""

    __tablename__ = "web_session"
    id: str = Field(primary_key=True, max_length=64,
                    description="SHA-256 of the session id the cookie carries.")
    token_hash: str = Field(index=True, max_length=64,
                            description="SHA-256 of the API token used to sign in.")
    created: dt.datetime = Field(default_factory=utcnow)
    last_seen: dt.datetime = Field(default_factory=utcnow)
    revoked: bool = False


class RunRow(SQLModel, table=True):
    __tablename__ = "run"
    id: int | None = Field(default=None, primary_key=True)
    started: dt.datetime = Field(default_factory=utcnow)
    finished: dt.datetime | None = None
    sources: str = Field(default="[]", sa_column=Column("sources", Text, nullable=False))
    stats: str = Field(default="{}", sa_column=Column("stats", Text, nullable=False))
    sensor: str = Field(default="", max_length=128)


class PerimeterReviewRow(SQLModel, table=True):
    """A yearly perimeter review campaign: opened, sheets marked reviewed (SheetReviewRow), closed.

    Closing keeps `snapshot` (analyzer.perimeter.snapshot: each sheet's and device's service), so the
    next review's report says what was added, removed or moved since."""

    __tablename__ = "perimeter_review"
    id: int | None = Field(default=None, primary_key=True)
    opened_at: dt.datetime = Field(default_factory=utcnow)
    opened_by: str = Field(max_length=255)
    closed_at: dt.datetime | None = None
    closed_by: str | None = Field(default=None, max_length=255)
    snapshot: str | None = Field(default=None, sa_column=Column("snapshot", Text, nullable=True))


class SheetReviewRow(SQLModel, table=True):
    """One sheet marked reviewed in a campaign: who, when (audited as well)."""

    __tablename__ = "sheet_review"
    __table_args__ = (UniqueConstraint("review_id", "sheet_id", name="uq_sheet_review_review_sheet"),)
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(index=True)
    sheet_id: str = Field(max_length=64)
    reviewed_by: str = Field(max_length=255)
    reviewed_at: dt.datetime = Field(default_factory=utcnow)
    note: str | None = Field(default=None, sa_column=Column("note", Text, nullable=True))


class ReferentDigestRow(SQLModel, table=True):
    """Per service: when its referents' last digest was sent, and the perimeter state it reflected
    (analyzer.referents.state), so the next digest lists only what changed since."""

    __tablename__ = "referent_digest"
    service: str = Field(primary_key=True, max_length=16)
    sent_at: dt.datetime = Field(default_factory=utcnow)
    json_text: str = Field(sa_column=Column("json", Text, nullable=False))


class DashboardSnapshot(SQLModel, table=True):
    """Open findings counted per day when an analysis runs (store.dashboard), for the dashboard's trends:
    one row per (day, dimension, key), e.g. (2026-03-02, severity, high) -> 41; the day's last analysis
    wins."""

    __tablename__ = "dashboard_snapshot"
    __table_args__ = (UniqueConstraint("day", "dimension", "key", name="uq_dashboard_snapshot_day_dim_key"),)
    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    dimension: str = Field(max_length=16, description="severity or service.")
    key: str = Field(max_length=32, description="The severity or service counted.")
    count: int = 0
class InterventionRow(SQLModel, table=True):
    """An intervention on a device (update, maintenance, interface change): its behaviour is compared
    before and after it (store.interventions)."""

    __tablename__ = "intervention"
    id: int | None = Field(default=None, primary_key=True)
    mac: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=16)
    at: dt.datetime = Field(index=True)
    by: str = Field(default="", max_length=255)
    note: str = Field(default="", sa_column=Column("note", Text, nullable=False))
    recorded_by: str = Field(default="", max_length=255)
    recorded_at: dt.datetime = Field(default_factory=utcnow)
