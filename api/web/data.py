"""What the web UI reads and writes, over the service layer (store.service) and the tables (store.models).

Reads decode the stored report records (Device, Finding, Sheet JSON) so templates
get the analyzer's own types; every change goes through the service functions,
which audit it and notify, exactly as the API routes do.  Kept apart from the
page code so that a change of the storage touches one module.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from sqlalchemy import func
from sqlmodel import Session, select

from analyzer.models import Device, Finding
from analyzer.sheets import Sheet
from api.web.mapsvg import Edge
from api.web.session import WebSession
from collector.factblob import fields
from store.models import DeviceRow, FactRow, RunRow, SensorStatus, TokenRow, WebSessionRow, utcnow

Notify = Callable[[dict[str, Any]], None] | None
MAX_ROWS = 100_000  # the UI lists, sorts and counts in memory: plenty for one hospital's inventory


def settings_secret(settings: Any) -> bytes:
    """The settings secret, or a random one for this app when none is configured (sessions then end on
    restart)."""
    raw = str(getattr(settings, "secret_key", "") or "")
    return raw.encode("utf-8") if raw else secrets.token_bytes(32)


def notifier(request: Request) -> Notify:
    """The app's webhook notifier (api.notify), when create_app configured one."""
    found = getattr(request.app.state, "notifier", None)
    send = getattr(found, "send", None)
    return send if callable(send) else None


def db_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a session on the app's engine."""
    with Session(request.app.state.engine) as session:
        yield session


# ----------------------------------------------------------------------------- tokens


def verify_token(db: Session, token: str) -> tuple[str, str] | None:
    """(role, name) of a valid, unrevoked API token (api.auth), else None."""
    from api.auth import verify_token as _verify

    principal = _verify(db, token)
    return (principal.role, principal.name) if principal is not None else None


def open_session(db: Session, user: WebSession) -> None:
    """Record a new web session on the server (sign-in)."""
    db.add(WebSessionRow(id=user.record_id, token_hash=user.sub))
    db.commit()


def end_session(db: Session, user: WebSession) -> None:
    """Revoke a web session (sign-out): its cookie is refused from now on, even if kept."""
    row = db.get(WebSessionRow, user.record_id)
    if row is not None:
        row.revoked = True
        db.add(row)
        db.commit()


def session_alive(db: Session, user: WebSession, *, idle_timeout: int, max_age: int) -> bool:
    """The session's record exists, is not revoked, idle and absolute limits hold, and its token is still
    usable.

    A live session's `last_seen` is written at most every min(60 s, idle/4), not at every request.
    """
    from api.auth import token_usable

    row = db.get(WebSessionRow, user.record_id)
    now = utcnow()
    if row is None or row.revoked or row.token_hash != user.sub:
        return False
    if (now - row.last_seen > dt.timedelta(seconds=idle_timeout)
            or now - row.created > dt.timedelta(seconds=max_age)):
        return False
    if not token_usable(db.exec(select(TokenRow).where(TokenRow.hash == user.sub)).first(), now):
        return False
    if now - row.last_seen >= dt.timedelta(seconds=min(60.0, idle_timeout / 4)):
        row.last_seen = now
        db.add(row)
        db.commit()
    return True


def token_entries(db: Session) -> list[dict[str, Any]]:
    """Every API token for the admin page (never the hash), with its state: active, expired or revoked."""
    from api.auth import list_tokens, token_usable

    out = []
    for row in list_tokens(db):
        state = "revoked" if row.revoked else "active" if token_usable(row) else "expired"
        out.append({**row.model_dump(exclude={"hash"}), "state": state})
    return out


def revoke_token(db: Session, token_id: int, *, actor: str) -> bool:
    """Revoke a token (audited; its web sessions end); False when there is no such token."""
    from api.auth import revoke_token as _revoke

    return _revoke(db, token_id=token_id, actor=actor)


# ----------------------------------------------------------------------------- findings and devices


def all_findings(db: Session) -> list[Finding]:
    """Every finding the last analysis produced (with review fields: FindingOut)."""
    from store.records import list_findings

    return list(list_findings(db, limit=MAX_ROWS)[0])


def get_finding(db: Session, finding_id: str) -> tuple[Finding, dict[str, Any]] | None:
    """A finding (active or not) and its review fields."""
    from store.records import get_finding as _get

    found = _get(db, finding_id)
    if found is None:
        return None
    extra = {"justification": found.justification, "expires": found.expires, "updated_by": found.updated_by,
             "active": found.active}
    return found, extra


def set_status(db: Session, finding_id: str, *, status: str, justification: str | None,
               expires: dt.date | None,
               actor: str, notify: Notify = None) -> dict[str, str]:
    """Change a finding's status (audited by the service); returns the refusals by field (empty when done)."""
    from api.errors import InvalidError, NotFoundError
    from store.service import set_finding_status

    try:
        set_finding_status(db, finding_id, status=status, justification=justification, expires=expires,
                           actor=actor,
                           notify=notify)
    except (InvalidError, NotFoundError) as exc:
        db.rollback()
        return {exc.field or "status": exc.detail}
    return {}


def set_many_status(db: Session, finding_ids: list[str], *, status: str, justification: str | None,
                    expires: dt.date | None, actor: str, notify: Notify = None) -> tuple[int, dict[str, str]]:
    """Review many findings with one comment (store.service.set_findings_status: all or none, audited per
    finding); (how many changed, refusals by field)."""
    from api.errors import InvalidError, NotFoundError
    from store.service import set_findings_status

    try:
        return set_findings_status(db, finding_ids, status=status, justification=justification,
                                   expires=expires, actor=actor, notify=notify), {}
    except (InvalidError, NotFoundError) as exc:
        db.rollback()
        return 0, {exc.field or "status": exc.detail}


def acceptance_limit(db: Session, today: dt.date) -> dt.date:
    """Latest expiry of a risk acceptance given today (the site policy's maximum, one year by default)."""
    from store.service import acceptance_limit as _limit

    return _limit(db, today)


def device_names(db: Session) -> dict[str, str]:
    """MAC -> best name (hostname, else the MAC), read from the indexed columns only (no JSON decoding)."""
    return {mac: host or mac for mac, host in db.exec(select(DeviceRow.mac, DeviceRow.hostname))}


def finding_history(db: Session, finding_id: str) -> list[dict[str, Any]]:
    """The finding's review changes from the audit log, oldest first: when, who and each field's
    before/after."""
    from store.audit import list_audit

    rows, _ = list_audit(db, entity="finding", entity_id=finding_id, limit=1000)
    out: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r.when, r.id or 0)):
        last = out[-1] if out else None
        # one change writes one row per field, all with the same time (store.audit.record_diff)
        if last is not None and (last["who"], last["action"], last["when"]) == (r.who, r.action, r.when):
            last["changes"].append((r.field, _plain(r.old), _plain(r.new)))
            continue
        out.append({"when": r.when, "ts": _epoch(r.when), "who": r.who, "action": r.action,
                    "changes": [(r.field, _plain(r.old), _plain(r.new))]})
    return out


def _plain(value: str | None) -> str | None:
    """An audit value as stored (JSON text for non-strings) shown as text."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


@functools.lru_cache(maxsize=4)
def _catalogue(folder: str | None) -> dict[str, Any]:
    from analyzer.rules import RuleError, load_rules

    try:
        return {r.id: r for r in load_rules(folder)}
    except (RuleError, OSError):
        return {}


def rule_texts(settings: Any, rule_id: str, lang: str) -> dict[str, Any] | None:
    """What the rule catalogue (rules/) says about a rule, in the reader's language where the rule has it:
    description, rationale, references, false positives (None for a rule the catalogue no longer has)."""
    folder = getattr(settings, "rules_dir", None)
    rule = _catalogue(str(folder) if folder else None).get(rule_id)
    if rule is None:
        return None

    def pick(name: str) -> str:
        text = getattr(rule, f"{name}_fr", "") if lang == "fr" else ""
        return str(text or getattr(rule, name) or "")

    return {"description": pick("description"), "rationale": pick("rationale"),
            "references": list(rule.references), "falsepositives": list(rule.falsepositives),
            "title": rule.title_fr if lang == "fr" and rule.title_fr else rule.title}


def all_devices(db: Session) -> list[Device]:
    from store.records import list_devices

    return list(list_devices(db, limit=MAX_ROWS)[0])


def get_device(db: Session, mac: str) -> Device | None:
    from store.records import get_device as _get

    return _get(db, mac)


def conversations(db: Session) -> list[Edge]:
    """Distinct conversations (client, server, port, transport) from the stored facts."""
    seen: dict[tuple[Any, ...], Edge] = {}
    query = select(FactRow.blob).where(FactRow.kind == "conversation").limit(MAX_ROWS * 5)
    for blob in db.exec(query):
        try:
            obs = fields(blob)  # the conversation's fields: client and server are not columns
            key = (obs["client_ip"], obs["server_ip"], obs.get("server_port"), obs.get("transport"))
        except (ValueError, KeyError, TypeError, zlib.error):
            continue
        if key not in seen or (obs.get("app") and not seen[key].app):
            seen[key] = Edge(client_ip=key[0], server_ip=key[1], server_port=key[2], transport=key[3],
                             app=obs.get("app"),
                             client_mac=obs.get("client_mac"), server_mac=obs.get("server_mac"))
    return list(seen.values())


# ----------------------------------------------------------------------------- sheets


def all_sheets(db: Session) -> list[tuple[Sheet, int]]:
    """Every sheet with its version (store.service.list_sheets)."""
    from store.service import list_sheets

    return [(out.sheet, out.version) for out in list_sheets(db, limit=MAX_ROWS)[0]]


def get_sheet(db: Session, sheet_id: str) -> tuple[Sheet, int] | None:
    from store.service import get_sheet as _get

    out = _get(db, sheet_id)
    return (out.sheet, out.version) if out is not None else None


def create_sheet(db: Session, sheet: Sheet, *, actor: str, notify: Notify = None) -> bool:
    """False when a sheet with this id already exists."""
    from api.errors import ConflictError
    from store import service

    try:
        service.create_sheet(db, sheet, actor=actor, notify=notify)
    except ConflictError:
        db.rollback()
        return False
    return True


def update_sheet(db: Session, sheet: Sheet, *, version: int, actor: str, notify: Notify = None) -> bool:
    """False when the version read is stale (someone saved in between): nothing is changed."""
    from api.errors import ConflictError
    from store import service

    try:
        service.update_sheet(db, sheet.id, sheet, version=version, actor=actor, notify=notify)
    except ConflictError:
        db.rollback()
        return False
    return True


def delete_sheet(db: Session, sheet_id: str, *, actor: str, notify: Notify = None) -> bool:
    from api.errors import NotFoundError
    from store import service

    try:
        service.delete_sheet(db, sheet_id, actor=actor, notify=notify)
    except NotFoundError:
        db.rollback()
        return False
    return True


@dataclass
class SheetImport:
    """What an import of the UI did: sheets stored, rows refused, why (in the reader's language)."""

    imported: int
    refused: int
    errors: list[str]


def import_sheets(db: Session, content: bytes, *, fmt: str, partial: bool, actor: str, t: Callable[..., str],
                  notify: Notify = None, name: str | None = None) -> SheetImport:
    """Import a file; nothing is stored when there are errors and not partial.  Every reason comes from
    the one catalogue (analyzer.sheet_reasons) through `t`, so a French reader reads French."""
    from analyzer.sheet_io import refused_rows
    from api.errors import ServiceError
    from store import service

    try:
        result = service.import_sheets(db, content, fmt=fmt, actor=actor, partial=partial, notify=notify,
                                       name=name)
    except (ServiceError, ValueError, UnicodeDecodeError) as exc:
        db.rollback()
        return SheetImport(0, 0, [getattr(exc, "detail", None) or str(exc)])
    conflicts = [t("sheets.conflict_kept", id=c.sheet_id, who=c.edited_by or "?", fields=", ".join(c.fields),
                   when=c.edited_at.isoformat(timespec="minutes") if c.edited_at else "?")
                 for c in result.conflicts]
    return SheetImport(result.imported, refused_rows(result.errors),
                       summarise_errors(result.errors, t) + conflicts)


def error_field(name: str, t: Callable[..., str]) -> str:
    """The field an import error sits on, as the reader calls it: the form's label of a sheet field
    (`sheet.vlan`), the catalogue's name of a pseudo-field (file, row), else the header as written."""
    head, _, rest = name.partition(".")
    for key in (f"sheet_error.field.{name}", f"sheet.{head}"):
        text = t(key)
        if text != key:
            return text + (f" ({rest})" if rest and key.startswith("sheet.") else "")
    return name


def error_reason(error: Any, t: Callable[..., str]) -> str:
    """An import error's reason in the reader's language (its English text when it carries no code)."""
    code = str(getattr(error, "code", "") or "")
    if not code:
        return str(getattr(error, "reason", error))
    return t(f"sheet_error.{code}", **dict(getattr(error, "params", {}) or {}))


def summarise_errors(errors: list[Any], t: Callable[..., str], *, lines_shown: int = 8) -> list[str]:
    """Import errors as one line per distinct (field, reason) with how many rows and which lines, most
    frequent first: 400 rows with the same bad VLAN are one line, not 400."""
    groups: dict[tuple[str, str], list[int]] = {}
    for e in errors:
        key = (error_field(str(getattr(e, "field", "")), t), error_reason(e, t))
        groups.setdefault(key, []).append(int(getattr(e, "line", 0) or 0))
    out = []
    for (field_, reason), lines in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(str(n) for n in sorted(lines)[:lines_shown])
        shown += " …" if len(lines) > lines_shown else ""
        out.append(t("sheets.error_group", n=len(lines), field=field_, reason=reason, lines=shown)
                   if len(lines) > 1 else t("sheets.error_line", line=lines[0], field=field_, reason=reason))
    return out


def export_sheets(db: Session, *, fmt: str) -> bytes:
    from store.service import export_sheets as _export

    return _export(db, fmt=fmt)


# ----------------------------------------------------------------------------- audit and runs


def _epoch(value: dt.datetime | None) -> float | None:
    return value.replace(tzinfo=dt.UTC).timestamp() if value is not None else None


AUDIT_FILTERS = ("who", "entity", "action", "q")


def audit_choices(db: Session) -> dict[str, list[str]]:
    """The distinct people, objects and actions of the audit log (the filter lists)."""
    from store.models import AuditRow

    out: dict[str, list[str]] = {}
    for name in ("who", "entity", "action"):
        column = getattr(AuditRow, name)
        out[name] = sorted(v for v in db.exec(select(column).distinct().limit(500)) if v)
    return out


def audit_entries(db: Session, *, offset: int, limit: int,
                  filters: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Newest first, filtered by person, object kind, action and object id (substring), with a link to the
    changed object when it still exists; old and new values decoded for reading."""
    from sqlmodel import col

    from store.models import AuditRow

    wanted = {k: v for k, v in (filters or {}).items() if v and k in AUDIT_FILTERS}
    conds = [col(getattr(AuditRow, k)) == v for k, v in wanted.items() if k != "q"]
    if wanted.get("q"):
        from store.records import like_pattern

        conds.append(func.lower(AuditRow.entity_id).like(like_pattern(wanted["q"]), escape="\\"))
    total = int(db.exec(select(func.count()).select_from(AuditRow).where(*conds)).one())
    rows = db.exec(select(AuditRow).where(*conds).order_by(col(AuditRow.id).desc())
                   .offset(offset).limit(limit)).all()
    links = {"finding": "/findings/{}", "sheet": "/sheets/{}/edit", "device": "/devices/{}"}
    out = []
    for r in rows:
        link = links.get(r.entity)
        out.append({"when": r.when, "who": r.who, "action": r.action, "entity": r.entity,
                    "entity_id": r.entity_id, "field": r.field, "old": _readable(r.old),
                    "new": _readable(r.new),
                    "link": link.format(quote(r.entity_id,
                                              safe="")) if link and r.action != "delete" else None})
    return out, total


def _readable(value: str | None) -> Any:
    """An audit value for reading: text as is, a JSON object as its (key, value) pairs, a list joined."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, dict):
        return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                for k, v in decoded.items() if v not in (None, "", [], {})]
    if isinstance(decoded, list):
        return ", ".join(str(v) for v in decoded)
    return str(decoded) if not isinstance(decoded, str) else decoded


def _stats(row: RunRow) -> dict[str, Any]:
    try:
        value = json.loads(row.stats or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def current_run(db: Session) -> dict[str, Any] | None:
    """The latest run: started (epoch), running (not finished), packets so far."""
    row = db.exec(select(RunRow).order_by(RunRow.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if row is None:
        return None
    return {"started": _epoch(row.started) or 0.0, "running": row.finished is None,
            "packets": int(_stats(row).get("packets") or 0)}


def capture_summary(db: Session) -> dict[str, Any]:
    """Capture period (packet times), frames analysed and sensors.

    Every analysis covers every stored observation, so the latest finished run's stats are already
    the totals: runs are not summed (a re-analysis after a sheet edit would count the frames again).
    """
    latest = db.exec(select(RunRow).where(RunRow.finished.is_not(None))  # type: ignore[union-attr]
                     .order_by(RunRow.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    stats = _stats(latest) if latest is not None else {}
    first, last = stats.get("first_ts"), stats.get("last_ts")
    if first is None or last is None:
        low, high = db.exec(select(func.min(FactRow.first_ts), func.max(FactRow.last_ts))).one()
        first, last = (first if first is not None else low), (last if last is not None else high)
    sensors = {s for s in db.exec(select(RunRow.sensor).distinct().limit(100)) if s}
    # every fact write records its sensor's status (store.facts): no scan of the facts for their sensors
    sensors |= {s for s in db.exec(select(SensorStatus.sensor).limit(100)) if s}
    return {"first_ts": float(first) if first is not None else None,
            "last_ts": float(last) if last is not None else None,
            "packets": int(stats.get("packets") or 0), "sensors": sorted(sensors)}
