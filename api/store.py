"""Persistence of observations, devices, findings and runs; the queries the API and the UI share.

Keyword-only functions over a SQLModel session.  Devices and findings are kept
whole as JSON with filter columns beside them; a finding's review status
(status, justification, expiry) survives re-analysis, and a finding the last
analysis did not produce again stays with `active=False`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from analyzer.models import SEVERITY_ORDER, Device, Finding, Report, Stats
from api.models import DeviceRow, FindingRow, IngestBatch, ObservationRow, RunRow, utcnow
from api.schemas import FindingOut
from collector.schema import Observation, parse_observation


def like_pattern(text: str) -> str:
    """A case-insensitive "contains" LIKE pattern in which the user's % _ and \\ are literal (ESCAPE '\\')."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def observation_json(o: Observation) -> str:
    """The stored JSON of an observation: fields that differ from their default, `kind` first.

    Serialised by pydantic's Rust serializer; `kind` is spliced in because exclude_defaults drops the
    discriminator (a Literal with a default).  Same text as json.dumps of model_dump(mode="json").
    """
    body = o.__pydantic_serializer__.to_json(o, exclude_defaults=True).decode()  # model_dump_json, less overhead
    return f'{{"kind":"{o.kind}",{body[1:]}' if len(body) > 2 else f'{{"kind":"{o.kind}"}}'


_INSERT_SQLITE = "INSERT INTO observation (sensor, batch_seq, kind, ts, json) VALUES (?, ?, ?, ?, ?)"


def _insert_observations(session: Session, observations: Sequence[Observation], sensor: str,
                         batch_seq: int | None = None) -> None:
    """One bulk insert in the session's transaction (SQLite: straight to the driver, no per-row SQLAlchemy work)."""
    if not observations:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(_INSERT_SQLITE, [(o.sensor or sensor, batch_seq, o.kind, o.ts, observation_json(o))
                                                for o in observations])
        finally:
            cursor.close()
        return
    rows = [{"sensor": o.sensor or sensor, "batch_seq": batch_seq, "kind": o.kind, "ts": o.ts,
             "json": observation_json(o)} for o in observations]
    session.execute(insert(ObservationRow.__table__), rows)  # type: ignore[attr-defined]


def store_observations(session: Session, observations: Sequence[Observation], *, sensor: str = "") -> int:
    """Append observations (one bulk insert, one transaction); returns how many were stored."""
    _insert_observations(session, observations, sensor)
    session.commit()
    return len(observations)


def validate_batch(observations: list[dict[str, Any]]) -> list[Observation]:
    """Each item validated with collector.schema.parse_observation; the first bad one names index and field."""
    from pydantic import ValidationError

    from api.errors import InvalidError

    parsed = []
    for index, item in enumerate(observations):
        try:
            parsed.append(parse_observation(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"][1:] if p is not None) if len(err["loc"]) > 1 else ".".join(str(p) for p in err["loc"])
            raise InvalidError(f"observations[{index}]: {loc or 'kind'}: {err['msg']}", f"observations[{index}].{loc or 'kind'}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidError(f"observations[{index}]: {exc}", f"observations[{index}]") from None
    return parsed


def store_batch_once(session: Session, *, sensor: str, seq: int, observations: Sequence[Observation]) -> tuple[bool, int]:
    """Store one batch once per (sensor, seq): (stored_now, count); a repeat is acknowledged, not stored twice.

    Remote sensors use their id; a local replay uses "replay:<digest of its input files>", so replaying
    the same captures again, or re-running a replay that was killed, never stores a batch twice.
    """
    existing = session.exec(select(IngestBatch).where(IngestBatch.sensor == sensor, IngestBatch.seq == seq)).first()
    if existing is not None:
        return False, existing.count
    session.add(IngestBatch(sensor=sensor, seq=seq, count=len(observations)))
    session.flush()
    _insert_observations(session, observations, sensor, seq)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again = session.exec(select(IngestBatch).where(IngestBatch.sensor == sensor, IngestBatch.seq == seq)).one()
        return False, again.count
    return True, len(observations)


def ingest_batch(session: Session, *, sensor: str, seq: int, observations: list[dict[str, Any]]) -> tuple[bool, int]:
    """Validate then store one remote sensor batch once (see store_batch_once)."""
    existing = session.exec(select(IngestBatch).where(IngestBatch.sensor == sensor, IngestBatch.seq == seq)).first()
    if existing is not None:
        return False, existing.count
    return store_batch_once(session, sensor=sensor, seq=seq, observations=validate_batch(observations))


def load_observations(session: Session, *, kinds: Sequence[str] | None = None, batch: int = 5000) -> list[Observation]:
    """Every stored observation (optionally of some kinds), in storage order."""
    return list(iter_observations(session, kinds=kinds, batch=batch))


def iter_observations(session: Session, *, kinds: Sequence[str] | None = None, after: int = 0, upto: int | None = None,
                      batch: int = 5000) -> Iterator[Observation]:
    """Stored observations with after < id <= upto (optionally of some kinds), in storage order, by pages.

    Only one page is held at a time: a re-analysis streams them into analyzer.digest.
    """
    last = after
    while True:
        query = select(ObservationRow.id, ObservationRow.json_text).where(col(ObservationRow.id) > last)
        if upto is not None:
            query = query.where(col(ObservationRow.id) <= upto)
        if kinds:
            query = query.where(col(ObservationRow.kind).in_(list(kinds)))
        rows = session.exec(query.order_by(col(ObservationRow.id)).limit(batch)).all()
        if not rows:
            return
        last = rows[-1][0]
        for _, text in rows:
            yield parse_observation(text)


def observation_watermark(session: Session) -> int:
    """The highest observation row id (0 when none): rows stored later have higher ids."""
    return int(session.exec(select(func.max(ObservationRow.id))).one() or 0)


def count_observations(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(ObservationRow)).one())


def save_devices(session: Session, devices: Sequence[Device]) -> None:
    """Replace the inventory with `devices` (the analysis always covers every observation)."""
    session.exec(delete(DeviceRow))  # type: ignore[call-overload]
    rows = [{"mac": d.mac, "hostname": d.hostname, "ips": " ".join(d.ips)[:4000], "zone": d.zone, "role": d.role,
             "connection": d.connection, "vendor": d.vendor, "is_dm": d.is_dm, "service": d.service,
             "sheet_id": d.sheet_id, "sensors": json.dumps(d.sensors), "data": d.model_dump_json()} for d in devices]
    if rows:
        session.execute(insert(DeviceRow.__table__), rows)  # type: ignore[attr-defined]


def finding_out(row: FindingRow) -> FindingOut:
    data = json.loads(row.data)
    data["status"] = row.status
    return FindingOut(**data, justification=row.justification, expires=row.expires, updated_by=row.updated_by, active=row.active)


def save_findings(session: Session, findings: Sequence[Finding], *, today: dt.date) -> list[Finding]:
    """Upsert findings keeping their review status; absent ones become inactive; expired acceptances reopen."""
    from api.audit import record

    produced = {f.id for f in findings}
    existing = {r.id: r for r in session.exec(select(FindingRow)).all()}
    out = []
    new_rows: list[dict[str, Any]] = []
    for f in findings:
        row = existing.get(f.id)
        if row is None:
            # first seen: inserted in bulk below (no ORM object per finding), stored as produced
            new_rows.append({"id": f.id, "rule": f.rule, "severity": f.severity, "severity_rank": SEVERITY_ORDER[f.severity],
                             "status": f.status, "justification": None, "expires": None, "updated_by": None,
                             "updated_at": None, "active": True, "zone": f.zone, "service": f.service,
                             "first_seen": f.first_seen, "last_seen": f.last_seen, "data": f.model_dump_json()})
            out.append(f)
            continue
        if row.status == "risk-accepted" and row.expires is not None and row.expires < today:
            record(session, who="system", action="expire", entity="finding", entity_id=f.id, field="status",
                   old=row.status, new="open")
            row.status, row.updated_by, row.updated_at = "open", "system", utcnow()
        row.rule, row.severity, row.severity_rank = f.rule, f.severity, SEVERITY_ORDER[f.severity]
        row.zone, row.service, row.first_seen, row.last_seen, row.active = f.zone, f.service, f.first_seen, f.last_seen, True
        stored = f.model_copy(update={"status": row.status})
        row.data = stored.model_dump_json()
        session.add(row)
        out.append(stored)
    for fid, row in existing.items():
        if fid not in produced and row.active:
            row.active = False
            session.add(row)
    if new_rows:
        session.execute(insert(FindingRow.__table__), new_rows)  # type: ignore[attr-defined]
    return out


def list_devices(session: Session, *, zone: str | None = None, role: str | None = None, connection: str | None = None,
                 q: str | None = None, offset: int = 0, limit: int = 100) -> tuple[list[Device], int]:
    """Inventory page (sorted by MAC) and the total count; q searches MAC, hostname, IPs and vendor."""
    conds = []
    for column, value in ((DeviceRow.zone, zone), (DeviceRow.role, role), (DeviceRow.connection, connection)):
        if value is not None:
            conds.append(column == value)
    if q:
        like = like_pattern(q)
        conds.append(or_(func.lower(DeviceRow.mac).like(like, escape="\\"),
                         func.lower(func.coalesce(DeviceRow.hostname, "")).like(like, escape="\\"),
                         func.lower(DeviceRow.ips).like(like, escape="\\"),
                         func.lower(func.coalesce(DeviceRow.vendor, "")).like(like, escape="\\")))
    total = int(session.exec(select(func.count()).select_from(DeviceRow).where(*conds)).one())
    rows = session.exec(select(DeviceRow).where(*conds).order_by(col(DeviceRow.mac)).offset(offset).limit(limit)).all()
    return [Device.model_validate_json(r.data) for r in rows], total


def get_device(session: Session, mac: str) -> Device | None:
    from analyzer.macs import normalise_mac

    try:
        key = normalise_mac(mac)
    except (ValueError, TypeError):
        return None
    row = session.get(DeviceRow, key)
    return Device.model_validate_json(row.data) if row else None


def list_findings(session: Session, *, rule: str | None = None, severity: str | None = None, status: str | None = None,
                  zone: str | None = None, service: str | None = None, device: str | None = None, active: bool | None = True,
                  offset: int = 0, limit: int = 100) -> tuple[list[FindingOut], int]:
    """Findings page, most severe first, and the total count."""
    conds = []
    for column, value in ((FindingRow.rule, rule), (FindingRow.severity, severity), (FindingRow.status, status),
                          (FindingRow.zone, zone), (FindingRow.service, service), (FindingRow.active, active)):
        if value is not None:
            conds.append(column == value)
    if device:
        conds.append(col(FindingRow.data).contains(f'"{device.lower()}"'))
    total = int(session.exec(select(func.count()).select_from(FindingRow).where(*conds)).one())
    rows = session.exec(select(FindingRow).where(*conds)
                        .order_by(col(FindingRow.severity_rank).desc(), col(FindingRow.id)).offset(offset).limit(limit)).all()
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
    findings = [Finding.model_validate({**json.loads(r.data), "status": r.status}) for r in rows]
    last = session.exec(select(RunRow).where(col(RunRow.finished).is_not(None)).order_by(col(RunRow.id).desc())).first()
    stats = Stats.model_validate_json(last.stats) if last and last.stats not in ("", "{}") else Stats()
    return Report(stats=stats, devices=devices, findings=findings)


def counts(session: Session) -> dict[str, Any]:
    """Numbers for runs/stats and the dashboard."""
    by_sev = dict(session.exec(select(FindingRow.severity, func.count()).where(FindingRow.active == True)  # noqa: E712
                               .group_by(FindingRow.severity)).all())
    by_status = dict(session.exec(select(FindingRow.status, func.count()).where(FindingRow.active == True)  # noqa: E712
                                  .group_by(FindingRow.status)).all())
    by_kind = dict(session.exec(select(ObservationRow.kind, func.count()).group_by(ObservationRow.kind)).all())
    devices = int(session.exec(select(func.count()).select_from(DeviceRow)).one())
    dms = int(session.exec(select(func.count()).select_from(DeviceRow).where(DeviceRow.is_dm == True)).one())  # noqa: E712
    return {"devices": devices, "medical_devices": dms, "findings": {k: int(v) for k, v in by_sev.items()},
            "statuses": {k: int(v) for k, v in by_status.items()}, "observations": {k: int(v) for k, v in by_kind.items()}}
