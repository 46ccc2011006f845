"""API response and request bodies (pydantic), with OpenAPI examples."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from analyzer.models import Device, Finding, Status
from analyzer.sheets import Sheet

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Number of matching items (all pages).")
    offset: int
    limit: int


class FindingOut(Finding):
    """A finding with its review fields."""

    justification: str | None = Field(default=None,
                                      description="Why the status was set (required for risk-accepted).")
    expires: dt.date | None = Field(default=None,
                                    description="When a risk acceptance expires (the finding reopens).")
    updated_by: str | None = Field(default=None, description="Who set the status.")
    active: bool = Field(default=True, description="False when the last analysis no longer produced it.")
    occurrences: int = Field(default=1,
                             description="Analyses that saw new evidence of it (1 when first seen).")


class StatusChange(BaseModel):
    """PATCH body for a finding's status."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"status": "risk-accepted", "justification": "Analyzer firmware cannot do TLS; isolated VLAN",
         "expires": "2027-06-30"}]})

    status: Status
    justification: str | None = Field(default=None, max_length=4000)
    expires: dt.date | None = None


class SheetOut(BaseModel):
    """A stored sheet with its version (send it back in If-Match or `version` to update)."""

    sheet: Sheet
    version: int = Field(description="Optimistic concurrency version.", examples=[1])
    updated_by: str | None = None
    updated_at: dt.datetime | None = None


class SheetUpdate(BaseModel):
    """PUT body: the full sheet and the version that was read (or an If-Match header)."""

    model_config = ConfigDict(extra="forbid")
    sheet: Sheet
    version: int | None = Field(default=None, ge=0,
                                description="Version read; required unless If-Match is sent.")


class DeviceDetail(BaseModel):
    """A device: what was observed, beside what its sheet declares."""

    device: Device
    sheet: Sheet | None = None
    findings: list[FindingOut] = Field(default_factory=list)


class ImportOut(BaseModel):
    imported: int = Field(description="Sheets created or changed.")
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = Field(default_factory=list,
                                         description="Refused rows: line, field, reason (English) and code "
                                         "(the catalogue analyzer.sheet_reasons renders it in French too).")
    conflicts: list[dict[str, Any]] = Field(
        default_factory=list, description="Sheets kept because someone edited them since their last import: "
        "sheet_id, fields the file differs on, edited_by, edited_at. "
        "Import with overwrite=true to replace them.")


class ReconciliationOut(BaseModel):
    """Outcome of one sheet: which device it matched and what differs."""

    sheet_id: str
    software_name: str
    mac: str | None = None
    match: Literal["mac", "ip", "hostname"] | None = None
    issues: list[dict[str, Any]] = Field(default_factory=list,
                                         description="check, declared, observed, peer, detail.")


class AuditOut(BaseModel):
    id: int
    who: str
    when: dt.datetime
    action: str
    entity: str
    entity_id: str
    field: str | None = None
    old: str | None = None
    new: str | None = None


class TokenOut(BaseModel):
    """An API token as an administrator sees it: never the token nor its hash."""

    id: int
    name: str
    role: str
    sensor: str | None = Field(default=None, description="Sensor id a sensor token may ingest as.")
    created: dt.datetime
    expires: dt.datetime | None = None
    last_used: dt.datetime | None = Field(default=None, description="Updated at most once a minute.")
    revoked: bool


class IngestIn(BaseModel):
    """A batch from a remote sensor; (sensor, seq) makes a retried batch idempotent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "sensor": "sensor-imaging", "seq": 42, "schema_version": 1,
        "observations": [{"kind": "host", "ts": 1700000000.0, "mac": "00:11:22:33:44:55", "ip": "10.10.110.5",
                          "first_ts": 1700000000.0, "last_ts": 1700000010.0, "frames": 12, "bytes": 2048}]}]})

    sensor: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    seq: int = Field(ge=0, le=2**31 - 1)
    schema_version: int = Field(default=1, ge=1)
    observations: list[dict[str, Any]] = Field(max_length=100000)


class IngestOut(BaseModel):
    stored: bool = Field(description="False when this (sensor, seq) was already stored (acknowledged again).")
    count: int
    refused: int = Field(default=0, description="Records of the batch that were invalid: each stored as an "
                         "`ingest_invalid_record` weird naming its index, field and reason; "
                         "the rest is stored.")


class RunOut(BaseModel):
    id: int
    started: dt.datetime
    finished: dt.datetime | None = None
    sources: list[str] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    sensor: str = ""


class StatsOut(BaseModel):
    devices: int
    medical_devices: int
    findings: dict[str, int] = Field(description="Active findings by severity.")
    statuses: dict[str, int] = Field(description="Active findings by status.")
    observations: dict[str, int] = Field(description="Stored observations by kind.")
    sheets: int
    last_run: RunOut | None = None


class SensorOut(BaseModel):
    sensor: str
    last_batch_at: dt.datetime = Field(description="When its last batch was stored (UTC).")
    last_seq: int
    batches: int
    facts: int = Field(description="Facts its batches created or updated.")
    last_packet_ts: float | None = Field(description="Packet time of the newest record it sent.")
    seconds_since_last_batch: float
    silent: bool = Field(description="No batch for longer than `silent_after`: a dead SPAN port or sensor, "
                         "not a quiet network.")


class StatusOut(BaseModel):
    """Is the picture current? Store and analysis generations, last analysis, sensors' last batches."""

    generation: int = Field(description="Bumped by every stored batch, sheet change and policy change.")
    analyzed_generation: int = Field(description="Generation the inventory and findings reflect.")
    up_to_date: bool
    last_analysis: dt.datetime | None = Field(description="When the inventory and findings were last "
                                                          "updated (UTC).")
    last_store: dt.datetime | None = Field(description="When the store last changed (UTC).")
    sensors: list[SensorOut]
    silent_sensors: list[str]
    silent_after: float = Field(description="Seconds without a batch after which a sensor is silent "
                                            "(setting).")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    version: str
