"""Audit log: who changed what, when, field by field (old and new values as JSON text).

Every change made through the service layer (finding status, sheets, imports)
writes rows here in the same transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from store.models import AuditRow, utcnow


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(session: Session, *, who: str, action: str, entity: str, entity_id: str,
           field: str | None = None, old: Any = None, new: Any = None,
           when: dt.datetime | None = None) -> AuditRow:
    """Add one audit row (committed by the caller with the change)."""
    row = AuditRow(who=who, action=action, entity=entity, entity_id=entity_id, field=field, old=_text(old),
                   new=_text(new), when=when or utcnow())
    session.add(row)
    return row


def record_diff(session: Session, *, who: str, action: str, entity: str, entity_id: str,
                old: dict[str, Any], new: dict[str, Any]) -> int:
    """One row per top-level field whose value changed, all with the same time (one change); returns how
    many."""
    count = 0
    when = utcnow()
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            record(session, who=who, action=action, entity=entity, entity_id=entity_id, field=key,
                   old=old.get(key), new=new.get(key), when=when)
            count += 1
    return count


def list_audit(session: Session, *, entity: str | None = None, entity_id: str | None = None,
               who: str | None = None,
               offset: int = 0, limit: int = 100) -> tuple[list[AuditRow], int]:
    """Newest first, with the total count for pagination."""
    query = select(AuditRow)
    count = select(func.count()).select_from(AuditRow)
    for column, value in ((AuditRow.entity, entity), (AuditRow.entity_id, entity_id), (AuditRow.who, who)):
        if value is not None:
            query = query.where(column == value)
            count = count.where(column == value)
    total = int(session.exec(count).one())
    rows = session.exec(query.order_by(col(AuditRow.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), total
