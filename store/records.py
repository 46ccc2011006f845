"""Persistence of observations, devices, findings and runs; the queries the API and the UI share.

Keyword-only functions over a SQLModel session.  Devices and findings are kept
whole as JSON with filter columns beside them; a finding's review status
(status, justification, expiry) survives re-analysis, and a finding the last
analysis did not produce again stays with `active=False`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_
from sqlmodel import Session, col, delete, select

from analyzer.models import SEVERITY_ORDER, Device, Finding, Report, Stats
from collector.schema import Observation, Weird, parse_observation
from store.envsetting import number_setting
from store.facts import StoreResult, count_facts, iter_facts, prepare_batch, store_batch
from store.models import DeviceRow, FindingRow, RunRow, utcnow
from store.schemas import FindingOut


def like_pattern(text: str) -> str:
    """A case-insensitive "contains" LIKE pattern in which the user's % _ and \\ are literal (ESCAPE '\\')."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def store_observations(session: Session, observations: Sequence[Observation], *, sensor: str = "") -> int:
    """Upsert a batch as facts (store.facts) and commit; returns how many records it held."""
    return store_batch(session, observations, sensor=sensor).records


def validate_batch(observations: list[dict[str, Any]]) -> tuple[list[Observation], list[Weird]]:
    """Each item validated with collector.schema.parse_observation; a bad one is dropped, not the batch.

    Returns the valid records and one `Weird` per refused record (`ingest_invalid_record`, naming
    its index, field and reason), so a sensor's one malformed record never loses the rest.
    """
    from pydantic import ValidationError

    parsed: list[Observation] = []
    refused: list[Weird] = []
    for index, item in enumerate(observations):
        try:
            parsed.append(parse_observation(_without_nul(item)))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"][1:]
                           if p is not None) if len(err["loc"]) > 1 else ".".join(str(p) for p in err["loc"])
            refused.append(_refused(item, f"observations[{index}]: {loc or 'kind'}: {err['msg']}"))
        except (TypeError, ValueError) as exc:
            refused.append(_refused(item, f"observations[{index}]: {exc}"))
    return parsed, refused


def _without_nul(value: Any) -> Any:
    """NUL characters replaced by U+FFFD in every string (PostgreSQL text cannot hold them; names come from
    the wire)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _refused(item: Any, detail: str) -> Weird:
    ts = item.get("ts") if isinstance(item, dict) else None
    sensor = item.get("sensor") if isinstance(item, dict) else None
    return Weird(ts=float(ts) if isinstance(ts, (int, float)) else 0.0,
                 sensor=sensor if isinstance(sensor, str) else "",
                 name="ingest_invalid_record", detail=_without_nul(detail)[:200])


def store_batch_once(session: Session, *, sensor: str, seq: int,
                     observations: Sequence[Observation]) -> tuple[bool, int]:
    """Store one batch once per (sensor, seq): (stored_now, count); a repeat is acknowledged, not stored
    twice.

    Remote sensors use their id; a local replay uses "replay:<digest of its input files>", so replaying
    the same captures again, or re-running a replay that was killed, never stores a batch twice.
    """
    result = store_batch(session, observations, seq=seq, batch_key=sensor)
    return result.stored, result.records


def ingest_batch(session: Session, *, sensor: str, seq: int, observations: list[dict[str, Any]],
                 on_stored: Callable[[StoreResult], None] | None = None,
                 turn: Callable[[], AbstractContextManager[None]] = nullcontext) -> tuple[bool, int, int]:
    """Validate then store one remote sensor batch once (see store_batch_once): (stored, count, refused).

    An invalid record is dropped and stored as an `ingest_invalid_record` weird; the rest of the batch is
    kept.  The batch is validated, merged and keyed before its `turn` (a central stores one batch at a
    time), and written in it; `on_stored` gets the store's result within the turn (a central queues it
    for its digest).
    """
    parsed, refused = validate_batch(observations)
    batch = prepare_batch([*parsed, *refused], sensor=sensor)
    with turn():
        result = store_batch(session, batch.records, sensor=sensor, seq=seq, prepared=batch)
        if on_stored is not None:
            on_stored(result)
    return result.stored, len(parsed) if result.stored else result.records, len(refused)


def iter_observations(session: Session, *, kinds: Sequence[str] | None = None,
                      batch: int = 5000) -> Iterator[Observation]:
    """Every stored fact (optionally of some kinds), page by page: what the analysis reads."""
    return iter_facts(session, kinds=kinds, batch=batch)


def load_observations(session: Session, *, kinds: Sequence[str] | None = None,
                      batch: int = 5000) -> list[Observation]:
    """Every stored fact (optionally of some kinds)."""
    return list(iter_facts(session, kinds=kinds, batch=batch))


def save_devices(session: Session, devices: Sequence[Device]) -> None:
    """Make the stored inventory `devices`: only changed devices are written, vanished ones deleted."""
    stored = dict(session.execute(select(DeviceRow.mac, DeviceRow.data)).all())
    rows = []
    for d in devices:
        data = d.model_dump_json()
        if stored.pop(d.mac, None) == data:
            continue
        rows.append({"mac": d.mac, "hostname": d.hostname, "ips": " ".join(d.ips)[:4000], "zone": d.zone,
                     "role": d.role,
                     "connection": d.connection, "vendor": d.vendor, "is_dm": d.is_dm, "service": d.service,
                     "sheet_id": d.sheet_id, "sensors": json.dumps(d.sensors), "data": data})
    gone = list(stored) + [r["mac"] for r in rows]
    for start in range(0, len(gone), 500):
        session.exec(delete(DeviceRow).where(col(DeviceRow.mac).in_(gone[start:start + 500])))
    if rows:
        session.execute(insert(DeviceRow.__table__), rows)  # type: ignore[attr-defined]


SEEN_COLUMNS = ("first_seen", "last_seen")
"""Kept in the finding row's columns, not in its stored record: a finding seen again by an analysis
updates two columns instead of writing its record (evidence, devices, recommendation) again."""


def stored_finding(row: FindingRow) -> dict[str, Any]:
    """The finding a row holds: its stored record with the row's review status and seen times."""
    data: dict[str, Any] = json.loads(row.data)
    data["status"] = row.status
    for name in SEEN_COLUMNS:
        if (value := getattr(row, name)) is not None:
            data[name] = value
    return data


def _record(f: Finding, status: str) -> str:
    """What a finding row stores as its record: the finding without its seen times (SEEN_COLUMNS)."""
    return f.model_copy(update={"status": status, **dict.fromkeys(SEEN_COLUMNS)}).model_dump_json()


def finding_out(row: FindingRow) -> FindingOut:
    data = stored_finding(row)
    return FindingOut(**data, justification=row.justification, expires=row.expires, updated_by=row.updated_by,
                      active=row.active, occurrences=row.occurrences)


CLOSE_UNOBSERVED_ENV = "MEDTAP_CLOSE_UNOBSERVED_DAYS"
DEFAULT_CLOSE_UNOBSERVED_DAYS = 30.0


def close_unobserved_days() -> float:
    """Days without new evidence after which an open finding closes as no-longer-observed (0: never)."""
    return number_setting(CLOSE_UNOBSERVED_ENV, DEFAULT_CLOSE_UNOBSERVED_DAYS, unit="days")


@dataclass
class Lifecycle:
    """What an analysis did to the findings' review states (for audit, notifications and tests)."""

    new: list[str] = field(default_factory=list)
    reopened: list[Finding] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def save_findings(session: Session, findings: Sequence[Finding], *, today: dt.date,
                  now_ts: float | None = None,
                  lifecycle: Lifecycle | None = None) -> list[Finding]:
    """Upsert findings keeping their review status, over months of traffic.

    - first seen, last seen (packet times) and `occurrences`: how many analyses saw new evidence of it;
    - a resolved or no-longer-observed finding whose evidence is newer than when it was closed reopens
      (audit entry by "system"; `lifecycle.reopened` lets the caller notify the responsible service);
    - an open or acknowledged finding with no new evidence for `close_unobserved_days()` before the
      newest packet time `now_ts` closes as no-longer-observed (audit entry);
    - an expired risk acceptance reopens; a finding the analysis no longer produces becomes inactive.
    Statuses, justifications and expiries survive all of it.
    """
    from store.audit import record

    life = lifecycle if lifecycle is not None else Lifecycle()
    close_after = close_unobserved_days() * 86400.0
    produced = {f.id for f in findings}
    existing = {r.id: r for r in session.exec(select(FindingRow)).all()}
    out = []
    new_rows: list[dict[str, Any]] = []
    for f in findings:
        row = existing.get(f.id)
        if row is None:
            # first seen: inserted in bulk below (no ORM object per finding), stored as produced
            new_rows.append({"id": f.id, "rule": f.rule, "rule_uid": f.rule_uid, "severity": f.severity,
                             "severity_rank": SEVERITY_ORDER[f.severity],
                             "status": f.status, "justification": None, "expires": None, "updated_by": None,
                             "updated_at": None, "active": True, "zone": f.zone, "service": f.service,
                             "first_seen": f.first_seen, "last_seen": f.last_seen, "occurrences": 1,
                             "data": _record(f, f.status)})
            life.new.append(f.id)
            out.append(f)
            continue
        seen_again = f.last_seen is not None and (row.last_seen is None or f.last_seen > row.last_seen)
        if seen_again:
            row.occurrences = (row.occurrences or 0) + 1
        status = row.status
        if status == "risk-accepted" and row.expires is not None and row.expires < today:
            status = _set_status(session, row, "open", "expire", record)
        elif status in ("resolved", "no-longer-observed") and seen_again:
            status = _set_status(session, row, "open", "reopen", record)
            life.reopened.append(f)
        elif (status in ("open",
                         "acknowledged") and close_after > 0 and now_ts is not None
              and f.last_seen is not None
              and now_ts - f.last_seen > close_after):
            status = _set_status(session, row, "no-longer-observed", "close", record)
            life.closed.append(f.id)
        text = _record(f, row.status)
        same = bool(row.data) and row.data == text  # the evidence unchanged (status and seen times aside)
        stored = f.model_copy(update={"status": status})
        out.append(stored)
        if not seen_again and row.active and same and status == row.status:
            continue  # nothing changed: no write (an analysis per flush touches only what moved)
        row.rule, row.rule_uid, row.severity = f.rule, f.rule_uid, f.severity
        row.severity_rank = SEVERITY_ORDER[f.severity]
        row.zone, row.service, row.first_seen, row.last_seen, row.active = (f.zone, f.service, f.first_seen,
                                                                            f.last_seen, True)
        if not same:  # seen again with the same evidence: the columns above are the whole write
            row.data = text if status == row.status else _record(f, status)
        session.add(row)
    for fid, row in existing.items():
        if fid not in produced and row.active:
            row.active = False
            session.add(row)
    if new_rows:
        session.execute(insert(FindingRow.__table__), new_rows)  # type: ignore[attr-defined]
    return out


def _set_status(session: Session, row: FindingRow, status: str, action: str, record: Any) -> str:
    record(session, who="system", action=action, entity="finding", entity_id=row.id, field="status",
           old=row.status, new=status)
    row.status, row.updated_by, row.updated_at = status, "system", utcnow()
    if status != "risk-accepted":
        row.expires = None
    return status


def list_devices(session: Session, *, zone: str | None = None, role: str | None = None,
                 connection: str | None = None,
                 q: str | None = None, offset: int = 0, limit: int = 100) -> tuple[list[Device], int]:
    """Inventory page (sorted by MAC) and the total count; q searches MAC, hostname, IPs and vendor."""
    conds: list[ColumnElement[bool]] = []
    for column, value in ((DeviceRow.zone, zone), (DeviceRow.role, role), (DeviceRow.connection, connection)):
        if value is not None:
            conds.append(col(column) == value)
    if q:
        like = like_pattern(q)
        conds.append(or_(func.lower(DeviceRow.mac).like(like, escape="\\"),
                         func.lower(func.coalesce(DeviceRow.hostname, "")).like(like, escape="\\"),
                         func.lower(DeviceRow.ips).like(like, escape="\\"),
                         func.lower(func.coalesce(DeviceRow.vendor, "")).like(like, escape="\\")))
    total = int(session.exec(select(func.count()).select_from(DeviceRow).where(*conds)).one())
    rows = session.exec(select(DeviceRow).where(*conds).order_by(col(DeviceRow.mac))
                        .offset(offset).limit(limit)).all()
    return [Device.model_validate_json(r.data) for r in rows], total


def get_device(session: Session, mac: str) -> Device | None:
    from analyzer.inventory import is_ip_key
    from analyzer.macs import normalise_mac

    try:
        key = mac if is_ip_key(mac) else normalise_mac(mac)  # 'ip:<address>': a device without a MAC
    except (ValueError, TypeError):
        return None
    row = session.get(DeviceRow, key)
    return Device.model_validate_json(row.data) if row else None


def list_findings(session: Session, *, rule: str | None = None, severity: str | None = None,
                  status: str | None = None,
                  zone: str | None = None, service: str | None = None, device: str | None = None,
                  active: bool | None = True,
                  offset: int = 0, limit: int = 100) -> tuple[list[FindingOut], int]:
    """Findings page, most severe first, and the total count."""
    conds: list[ColumnElement[bool]] = []
    for column, value in ((FindingRow.rule, rule), (FindingRow.severity, severity),
                          (FindingRow.status, status),
                          (FindingRow.zone, zone), (FindingRow.service, service),
                          (FindingRow.active, active)):
        if value is not None:
            conds.append(col(column) == value)
    order = (col(FindingRow.severity_rank).desc(), col(FindingRow.id))
    if device:
        # the records are stored compressed (store.models.CompressedText): matched here, not in SQL
        needle = f'"{device.lower()}"'
        found = session.exec(select(FindingRow).where(*conds).order_by(*order))
        hits = [r for r in found if needle in r.data]
        return [finding_out(r) for r in hits[offset:offset + limit]], len(hits)
    total = int(session.exec(select(func.count()).select_from(FindingRow).where(*conds)).one())
    rows = session.exec(select(FindingRow).where(*conds).order_by(*order).offset(offset).limit(limit)).all()
    return [finding_out(r) for r in rows], total


def get_finding(session: Session, finding_id: str) -> FindingOut | None:
    row = session.get(FindingRow, finding_id)
    return finding_out(row) if row else None


def start_run(session: Session, *, sources: Sequence[str] = (), sensor: str = "") -> RunRow:
    run = RunRow(sources=json.dumps(list(sources)), sensor=sensor)
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def finish_run(session: Session, run: RunRow, stats: Stats) -> None:
    run.finished = utcnow()
    run.stats = stats.model_dump_json()
    if not json.loads(run.sources):
        run.sources = json.dumps(stats.files)
    session.add(run)


def list_runs(session: Session, *, offset: int = 0, limit: int = 100) -> tuple[list[RunRow], int]:
    total = int(session.exec(select(func.count()).select_from(RunRow)).one())
    rows = session.exec(select(RunRow).order_by(col(RunRow.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), total


def stored_report(session: Session) -> Report:
    """The inventory and active findings as stored, with the last run's stats (no re-analysis)."""
    devices, _ = list_devices(session, limit=10**9)
    rows = session.exec(select(FindingRow).where(FindingRow.active == True)  # noqa: E712
                        .order_by(col(FindingRow.severity_rank).desc(), col(FindingRow.id))).all()
    findings = [Finding.model_validate(stored_finding(r)) for r in rows]
    last = session.exec(select(RunRow).where(col(RunRow.finished).is_not(None))
                        .order_by(col(RunRow.id).desc())).first()
    stats = Stats.model_validate_json(last.stats) if last and last.stats not in ("", "{}") else Stats()
    return Report(stats=stats, devices=devices, findings=findings)


def counts(session: Session) -> dict[str, Any]:
    """Numbers for runs/stats and the dashboard."""
    by_sev = dict(session.exec(select(FindingRow.severity, func.count()).where(FindingRow.active == True)  # noqa: E712
                               .group_by(FindingRow.severity)).all())
    by_status = dict(session.exec(select(FindingRow.status, func.count()).where(FindingRow.active == True)  # noqa: E712
                                  .group_by(FindingRow.status)).all())
    by_kind = {kind: total for kind, (_, total) in count_facts(session).items()}
    devices = int(session.exec(select(func.count()).select_from(DeviceRow)).one())
    dms = int(session.exec(select(func.count()).select_from(DeviceRow).where(DeviceRow.is_dm == True)).one())  # noqa: E712
    return {"devices": devices, "medical_devices": dms, "findings": {k: int(v) for k, v in by_sev.items()},
            "statuses": {k: int(v) for k, v in by_status.items()},
            "observations": {k: int(v) for k, v in by_kind.items()}}
