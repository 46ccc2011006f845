"""Service layer shared by the API, the CLI and the web UI: sheets, finding reviews, re-analysis,
reconciliation.

Keyword-only functions over a SQLModel session.  Every change writes audit rows in
the same transaction and, when a `notify` callable is given (api.notify.Notifier.send),
queues a webhook event after the commit: notification never blocks a change.
The persistence helpers of store.records are re-exported here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from analyzer.models import REVIEW_STATUSES, Report
from analyzer.sheet_io import SheetError, dump_sheets, read_sheets
from analyzer.sheets import Sheet
from store import audit
from store.errors import ConflictError, InvalidError, NotFoundError
from store.facts import bump_generation, facts_generation, generation
from store.models import FindingRow, SheetRow, utcnow
from store.records import (  # noqa: F401  (re-exported: the service API)
    counts,
    finding_out,
    finish_run,
    get_device,
    get_finding,
    ingest_batch,
    iter_observations,
    like_pattern,
    list_devices,
    list_findings,
    list_runs,
    load_observations,
    save_devices,
    save_findings,
    start_run,
    store_observations,
    stored_report,
)
from store.schemas import FindingOut, ReconciliationOut, SheetOut

if TYPE_CHECKING:
    from analyzer.digest import Digest

Notify = Callable[[dict[str, Any]], None] | None


def init_db(engine: Engine) -> None:
    """Create or migrate the schema (alembic revisions in store/migrations) on `engine`."""
    from store.db import upgrade_engine

    upgrade_engine(engine)


def _emit(notify: Notify, kind: str, entity_id: str, actor: str, **extra: Any) -> None:
    if notify is not None:
        notify({"type": kind, "id": entity_id, "actor": actor, "at": utcnow().isoformat(), **extra})


# --------------------------------------------------------------------------- findings


RISK_ACCEPTANCE_MAX_DAYS = 365
"""Longest risk acceptance when there is no site policy (SitePolicy.risk_acceptance_max_days)."""
MAX_BULK_REVIEW = 20_000
"""Most findings one bulk review may change (a whole rule group of a large hospital fits)."""


def acceptance_limit(session: Session, today: dt.date | None = None) -> dt.date:
    """The latest expiry a risk acceptance given `today` may have: the stored site policy's maximum
    (`risk_acceptance_max_days`), one year when there is no policy."""
    from store.facts import stored_policy

    policy = stored_policy(session)
    days = int(getattr(policy, "risk_acceptance_max_days", 0) or RISK_ACCEPTANCE_MAX_DAYS)
    return (today or dt.date.today()) + dt.timedelta(days=days)


def _checked_review(session: Session, status: str, justification: str | None, expires: dt.date | None,
                    today: dt.date | None) -> tuple[str | None, dt.date | None]:
    """The review's justification and expiry once every rule holds, else InvalidError on the field."""
    if status not in REVIEW_STATUSES:
        raise InvalidError(f"unknown status {status!r} (one of {', '.join(REVIEW_STATUSES)})", "status")
    justification = (justification or "").strip() or None
    if status in ("risk-accepted", "false-positive") and not justification:
        raise InvalidError(f"{status} needs a justification", "justification")
    if status != "risk-accepted":
        return justification, None
    if expires is None:
        raise InvalidError("risk-accepted needs an expiry date", "expires")
    day = today or dt.date.today()
    if expires <= day:
        raise InvalidError("the expiry date must be in the future", "expires")
    limit = acceptance_limit(session, day)
    if expires > limit:
        raise InvalidError(f"the expiry date may be {limit.isoformat()} at the latest (the site policy's "
                           f"maximum risk acceptance is {(limit - day).days} days)", "expires")
    return justification, expires


def _review(session: Session, row: FindingRow, *, status: str, justification: str | None,
            expires: dt.date | None, actor: str) -> dict[str, Any]:
    """Apply a checked review to one finding row with its audit rows (the caller commits)."""
    old = {"status": row.status, "justification": row.justification,
           "expires": row.expires.isoformat() if row.expires else None}
    new = {"status": status, "justification": justification,
           "expires": expires.isoformat() if expires else None}
    audit.record_diff(session, who=actor, action="review", entity="finding", entity_id=row.id, old=old,
                      new=new)
    row.status, row.justification, row.expires = status, justification, expires
    row.updated_by, row.updated_at = actor, utcnow()
    data = json.loads(row.data)
    data["status"] = status
    row.data = json.dumps(data)
    session.add(row)
    return new


def set_finding_status(session: Session, finding_id: str, *, status: str, justification: str | None = None,
                       expires: dt.date | None = None, actor: str, notify: Notify = None,
                       today: dt.date | None = None) -> FindingOut:
    """Review a finding; risk-accepted needs a justification and a future expiry no later than the site
    policy's maximum (acceptance_limit), false-positive a justification."""
    justification, expires = _checked_review(session, status, justification, expires, today)
    row = session.get(FindingRow, finding_id)
    if row is None:
        raise NotFoundError(f"no finding {finding_id!r}", "finding_id")
    new = _review(session, row, status=status, justification=justification, expires=expires, actor=actor)
    session.commit()
    session.refresh(row)
    _emit(notify, "finding.status", finding_id, actor, rule=row.rule, severity=row.severity, status=status,
          justification=justification, expires=new["expires"])
    return finding_out(row)


def set_findings_status(session: Session, finding_ids: Sequence[str], *, status: str,
                        justification: str | None = None, expires: dt.date | None = None, actor: str,
                        notify: Notify = None, today: dt.date | None = None) -> int:
    """Review many findings with one comment, all or none: the checks of set_finding_status, every id must
    exist, one audited change per finding, one commit.  Returns how many findings were reviewed."""
    justification, expires = _checked_review(session, status, justification, expires, today)
    ids = list(dict.fromkeys(finding_ids))
    if not ids:
        raise InvalidError("select at least one finding", "ids")
    if len(ids) > MAX_BULK_REVIEW:
        raise InvalidError(f"at most {MAX_BULK_REVIEW} findings at once", "ids")
    rows: list[FindingRow] = []
    for start in range(0, len(ids), 500):
        rows += session.exec(select(FindingRow).where(col(FindingRow.id).in_(ids[start:start + 500]))).all()
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise NotFoundError(f"no finding {missing[0]!r}" + (f" (and {len(missing) - 1} more)"
                                                           if len(missing) > 1 else ""), "ids")
    events = []
    for row in rows:
        new = _review(session, row, status=status, justification=justification, expires=expires, actor=actor)
        events.append((row.id, row.rule, row.severity, new["expires"]))
    session.commit()
    for finding_id, rule, severity, until in events:
        _emit(notify, "finding.status", finding_id, actor, rule=rule, severity=severity, status=status,
              justification=justification, expires=until)
    return len(rows)


# --------------------------------------------------------------------------- sheets


def _sheet_out(row: SheetRow) -> SheetOut:
    return SheetOut(sheet=Sheet.model_validate_json(row.data), version=row.version, updated_by=row.updated_by,
                    updated_at=row.updated_at)


def list_sheets(session: Session, *, q: str | None = None, offset: int = 0,
                limit: int = 100) -> tuple[list[SheetOut], int]:
    conds = []
    if q:
        like = like_pattern(q)
        conds.append(or_(func.lower(SheetRow.id).like(like, escape="\\"),
                         func.lower(SheetRow.software_name).like(like, escape="\\")))
    total = int(session.exec(select(func.count()).select_from(SheetRow).where(*conds)).one())
    rows = session.exec(select(SheetRow).where(*conds).order_by(col(SheetRow.id))
                        .offset(offset).limit(limit)).all()
    return [_sheet_out(r) for r in rows], total


def all_sheets(session: Session) -> list[Sheet]:
    return [Sheet.model_validate_json(r.data)
            for r in session.exec(select(SheetRow).order_by(col(SheetRow.id))).all()]


def sheet_origins(session: Session) -> dict[str, str]:
    """Sheet id -> the file and line it was last imported from (`sheets.csv:12`), for the findings."""
    rows = session.exec(select(SheetRow.id, SheetRow.origin).where(col(SheetRow.origin).is_not(None))).all()
    return {sheet_id: origin for sheet_id, origin in rows if origin}


def _origin(name: str | None, fmt: str, line: int | None) -> str | None:
    """`sheets.csv:12` for a CSV line, `sheets.json item 3` for a JSON or YAML item, `sheets.xlsx row 4`."""
    if line is None:
        return None
    where = name or "import"
    if fmt == "csv":
        return f"{where}:{line}"[:300]
    return f"{where} {'row' if fmt == 'xlsx' else 'item'} {line}"[:300]


def get_sheet(session: Session, sheet_id: str) -> SheetOut | None:
    row = session.get(SheetRow, sheet_id)
    return _sheet_out(row) if row else None


def _sheet_dict(sheet: Sheet) -> dict[str, Any]:
    return sheet.model_dump(mode="json")


def create_sheet(session: Session, sheet: Sheet, *, actor: str, notify: Notify = None) -> SheetOut:
    if session.get(SheetRow, sheet.id) is not None:
        raise ConflictError(f"sheet {sheet.id!r} already exists", "id")
    row = SheetRow(id=sheet.id, software_name=sheet.software_name, version=1, updated_by=actor,
                   data=sheet.model_dump_json())  # written by a person: no file line (origin None)
    session.add(row)
    audit.record(session, who=actor, action="create", entity="sheet", entity_id=sheet.id,
                 new=_sheet_dict(sheet))
    bump_generation(session)  # the sheets changed: the next analysis re-matches (store.autoanalyze)
    session.commit()
    session.refresh(row)
    _emit(notify, "sheet.created", sheet.id, actor, software_name=sheet.software_name)
    return _sheet_out(row)


def update_sheet(session: Session, sheet_id: str, sheet: Sheet, *, version: int | None, actor: str,
                 notify: Notify = None) -> SheetOut:
    """Replace a sheet; `version` must be the one read (409 when someone changed it since)."""
    if sheet.id != sheet_id:
        raise InvalidError(f"sheet id {sheet.id!r} does not match the URL ({sheet_id!r})", "id")
    row = session.get(SheetRow, sheet_id)
    if row is None:
        raise NotFoundError(f"no sheet {sheet_id!r}", "sheet_id")
    if version is None:
        raise InvalidError("send the version you read (If-Match header or `version`)", "version")
    old = Sheet.model_validate_json(row.data)
    result = session.execute(
        update(SheetRow).where(col(SheetRow.id) == sheet_id, col(SheetRow.version) == version)
        .values(version=SheetRow.version + 1, data=sheet.model_dump_json(), software_name=sheet.software_name,
                updated_by=actor, updated_at=utcnow(), origin=None))  # a person's edit: no file line any more
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ConflictError(f"sheet {sheet_id} was changed by someone else (version {row.version}, "
                                      f"you sent {version})", "version")
    changed = audit.record_diff(session, who=actor, action="update", entity="sheet", entity_id=sheet_id,
                                old=_sheet_dict(old), new=_sheet_dict(sheet))
    bump_generation(session)
    session.commit()
    session.expire_all()
    fresh = session.get(SheetRow, sheet_id)
    assert fresh is not None
    if changed:
        _emit(notify, "sheet.updated", sheet_id, actor, software_name=sheet.software_name, fields=changed)
    return _sheet_out(fresh)


def delete_sheet(session: Session, sheet_id: str, *, version: int | None = None, actor: str,
                 notify: Notify = None) -> None:
    row = session.get(SheetRow, sheet_id)
    if row is None:
        raise NotFoundError(f"no sheet {sheet_id!r}", "sheet_id")
    if version is not None and version != row.version:
        raise ConflictError(f"sheet {sheet_id} was changed by someone else (version {row.version}, "
                                      f"you sent {version})", "version")
    audit.record(session, who=actor, action="delete", entity="sheet", entity_id=sheet_id,
                 old=json.loads(row.data))
    session.delete(row)
    bump_generation(session)
    session.commit()
    _emit(notify, "sheet.deleted", sheet_id, actor)


@dataclass
class SheetConflict:
    """A sheet of the file that differs from one edited since its last import (in the UI or the API)."""

    sheet_id: str
    fields: list[str]
    edited_by: str | None
    edited_at: dt.datetime | None

    def __str__(self) -> str:
        when = self.edited_at.isoformat(timespec="minutes") if self.edited_at else "?"
        return (f"sheet {self.sheet_id} was edited by {self.edited_by or '?'} at {when} "
                "since it was imported: kept; "
                f"the file differs on {', '.join(self.fields)} (import again with overwrite to replace it)")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)
    conflicts: list[SheetConflict] = field(default_factory=list)
    """Sheets kept because someone edited them since their last import (never overwritten silently)."""

    @property
    def imported(self) -> int:
        return self.created + self.updated


def import_sheets(session: Session, path_or_bytes: Path | bytes | str, *, fmt: str | None = None, actor: str,
                  partial: bool = False, notify: Notify = None, overwrite: bool = False,
                  name: str | None = None) -> ImportResult:
    """Create or update sheets from a file; with a bad row nothing is stored unless partial (good rows kept).

    One rule for every import (`replay --sheets`, `sheets import`, the API and the UI): a sheet the file
    changes is updated when its last change was an import; one edited since (in the UI or the API) is
    kept and reported as a conflict, unless `overwrite`.  Nothing is ever overwritten silently.
    Each sheet stored or kept unchanged remembers the file `name` and line it came from (its `origin`),
    which the findings on it cite.
    """
    if isinstance(path_or_bytes, Path):
        fmt = fmt or path_or_bytes.suffix.lstrip(".").lower()
        name = name or path_or_bytes.name
        data: bytes | str = path_or_bytes.read_bytes()
    else:
        data = path_or_bytes
    fmt = (fmt or "csv").lower().replace("yml", "yaml")
    name = name.replace("\\", "/").rsplit("/", 1)[-1] if name else None  # the file's name only, no folder
    # (a Windows browser may send C:\exports\sheets.csv)
    parsed = read_sheets(data, fmt=fmt)
    result = ImportResult(errors=parsed.errors)
    if parsed.errors and not partial:
        return result
    for sheet in parsed.sheets:
        row = session.get(SheetRow, sheet.id)
        origin = _origin(name, fmt, parsed.lines.get(sheet.id))
        if row is None:
            session.add(SheetRow(id=sheet.id, software_name=sheet.software_name, updated_by=actor,
                                 data=sheet.model_dump_json(), origin=origin))
            audit.record(session, who=actor, action="import", entity="sheet", entity_id=sheet.id,
                         new=_sheet_dict(sheet))
            result.created += 1
            continue
        old = Sheet.model_validate_json(row.data)
        if old == sheet:
            result.unchanged += 1
            if row.origin != origin and not _edited_since_import(session, sheet.id):
                row.origin = origin  # the same sheet, now at this line of this file
                session.add(row)
            continue
        if not overwrite and _edited_since_import(session, sheet.id):
            result.conflicts.append(SheetConflict(
                sheet.id, sorted(k for k, v in _sheet_dict(sheet).items() if _sheet_dict(old).get(k) != v),
                row.updated_by, row.updated_at))
            continue
        audit.record_diff(session, who=actor, action="import", entity="sheet", entity_id=sheet.id,
                          old=_sheet_dict(old), new=_sheet_dict(sheet))
        row.data, row.software_name, row.version = (sheet.model_dump_json(), sheet.software_name,
                                                    row.version + 1)
        row.updated_by, row.updated_at, row.origin = actor, utcnow(), origin
        session.add(row)
        result.updated += 1
    if result.imported:
        bump_generation(session)
    session.commit()
    if result.imported:
        _emit(notify, "sheets.imported", "-", actor, created=result.created, updated=result.updated)
    return result


def _edited_since_import(session: Session, sheet_id: str) -> bool:
    """The sheet's last audited change is a person's edit (create or update), not an import."""
    from store.models import AuditRow

    last = session.exec(select(AuditRow.action).where(AuditRow.entity == "sheet",
                                                      AuditRow.entity_id == sheet_id)
                        .order_by(col(AuditRow.id).desc()).limit(1)).first()
    return last in ("create", "update")


def export_sheets(session: Session, *, fmt: str) -> bytes:
    if fmt not in ("csv", "json", "yaml"):
        raise InvalidError(f"unknown format {fmt!r} (csv, json or yaml)", "format")
    return dump_sheets(all_sheets(session), fmt=fmt)


# --------------------------------------------------------------------------- analysis


def stored_digest(session: Session, *, site: Any = None) -> Digest:
    """A digest (analyzer.digest) of every stored fact, read page by page: its cost follows facts, not
    frames."""
    return _digest_of_store(session, site)


def _digest_of_store(session: Session, site: Any) -> Digest:
    from analyzer.digest import Digest

    digest = Digest(site=site, raw=lambda: iter_observations(session))
    # the facts it holds: sheet and policy changes leave it current
    digest.generation = facts_generation(session)
    digest.add_many(iter_observations(session))
    return digest


def start_digest(session: Session, *, site: Any = None) -> Digest:
    """A digest of what is stored now, to be fed each batch stored next (`Digest.add_many`) by a replay or
    capture.

    `reanalyze(..., digest=)` then analyzes without reading the database again, as long as the
    store's generation is the one the digest was last brought to (no other writer meanwhile).
    """
    return _digest_of_store(session, site)


def reanalyze(session: Session, *, site: Any = None, rules_dir: Path | None = None, baseline: Any = None,
              now: dt.datetime | None = None, sources: Sequence[str] = (), digest: Digest | None = None,
              record_run: bool = True, notify: Notify = None, digest_lock: Any = None,
              generation_read: int | None = None) -> Report:
    """Analyze the stored facts with the stored sheets; store devices and findings (statuses kept).

    `digest` (from `start_digest`, fed every batch stored since) is used when it was brought to the
    store's current generation (no other writer meanwhile); otherwise every stored fact is read again,
    which costs in proportion to the stored facts.  `site`, when given, becomes the store's policy (saved,
    audited); without one, the store's policy is used.  The digest must have been built with that policy:
    a cost that follows the facts (devices, conversations, identity values), never the frames seen.
    Devices and findings are written only where they changed, so an analysis per flush period touches
    what moved.  `record_run` adds a run to the history (a replay, a manual analyze); the analyses of a
    running capture or of a central only mark the store as analyzed (`analysis_status`).  Findings
    that reopen are notified through `notify`.  `digest_lock`: the digest is kept current by its owner
    (a central folds each ingested batch into it under this lock): it is read under the lock, only for
    the evaluation, and not checked against the store; its owner passes the store generation it
    read when it brought the digest up to date (`generation_read`), which the analysis then reflects.
    """
    from analyzer.engine import analyze
    from collector.pipeline import relaxed_gc
    from store.dashboard import snapshot_counts
    from store.facts import lock_analysis, mark_analyzed, policy_in_force
    from store.records import Lifecycle

    with relaxed_gc():
        site = policy_in_force(session, site, source=", ".join(sources) or "analyze")
        # what this analysis reflects, read first: a later write is analyzed next time
        gen = generation(session) if generation_read is None else generation_read
        if digest is not None and same_policy(digest.site, site):
            site = digest.site  # the same policy, with the zone lookups it already cached
        if digest is None or digest.site is not site or (
                digest_lock is None and digest.generation != facts_generation(session)):
            digest = stored_digest(session, site=site)
            digest_lock = None
        run = start_run(session, sources=sources) if record_run else None
        sheets, origins = all_sheets(session), sheet_origins(session)
        from store.interventions import intervention_refs

        refs = intervention_refs(session)
        with digest_lock or contextlib.nullcontext():  # its owner folds batches into it under this lock
            digest.interventions = refs  # read by the `intervention` subject (post-intervention-change)
            report = analyze(digest, site=site, sheets=sheets, rules_dir=rules_dir, baseline=baseline,
                             now=now, sheet_origins=origins)
            newest = digest.max_ts
        lock_analysis(session)  # reads done: from here to the commit, one analysis writes at a time
        save_devices(session, report.devices)
        today = (now or dt.datetime.now(dt.UTC)).date()
        life = Lifecycle()
        findings = save_findings(session, report.findings, today=today, now_ts=newest, lifecycle=life)
        if run is not None:
            finish_run(session, run, report.stats)
        snapshot_counts(session, today=today)  # the dashboard's trend point of the day
        mark_analyzed(session, gen)
        session.commit()
    for f in life.reopened:
        _emit(notify, "finding.reopened", f.id, "system", rule=f.rule, severity=f.severity, service=f.service,
              subject=f.subject)
    return report.model_copy(update={"findings": findings})


def same_policy(a: Any, b: Any) -> bool:
    """The same site policy, whatever the object (a policy read again from the store equals the one used)."""
    return a is b or (a is not None and b is not None and a.model_dump_json() == b.model_dump_json())


def reconciliation(session: Session, *, now: dt.datetime | None = None) -> list[ReconciliationOut]:
    """Per sheet: the device it matches and its discrepancies, computed now from the stored inventory."""
    from analyzer.reconcile import check_rows, match_sheets

    devices = {d.mac: d for d in list_devices(session, limit=10**9)[0]}
    sheets = all_sheets(session)
    matches = match_sheets(devices, sheets)
    from analyzer.subjects.sheet import min_window
    from store.facts import stored_policy

    rows = check_rows(devices=devices, sheets=sheets, matches=matches,
                      conversations=load_observations(session, kinds=["conversation"]),
                      remote=load_observations(session, kinds=["remote_access"]), now=now,
                      min_window=min_window(stored_policy(session)))
    out = {s.id: ReconciliationOut(sheet_id=s.id, software_name=s.software_name,
                                   mac=matches.get(s.id, (None, None))[0],
                                   match=matches.get(s.id, (None, None))[1]) for s in sheets}
    for row in rows:
        if row["sheet_id"] in out:
            out[row["sheet_id"]].issues.append({k: row[k] for k in ("check", "declared", "observed", "peer",
                                                                    "detail")})
    return list(out.values())


@dataclass
class SheetImport:
    imported: int
    errors: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    """Sheets kept because they were edited since their last import (store.service.import_sheets)."""


def import_sheets_path(session: Session, path: Path, *, actor: str, partial: bool,
                   overwrite: bool = False) -> SheetImport:
    """Import a sheets file (format from its suffix); every error refuses it unless `partial`."""
    fmt = path.suffix.lower().lstrip(".").replace("yml", "yaml")
    result = import_sheets(session, path.read_bytes(), fmt=fmt, actor=actor, partial=partial,
                           overwrite=overwrite, name=path.name)
    errors = [str(e) for e in result.errors]
    if errors and not partial:
        raise InvalidError(f"{path}: sheets refused:\n  " + "\n  ".join(errors))
    return SheetImport(imported=result.imported, errors=errors, conflicts=[str(c) for c in result.conflicts])
