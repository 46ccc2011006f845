"""Audit log (newest first)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from api.auth import Principal, require
from api.errors import errors_responses
from api.routes.deps import Limit, Offset, get_session
from store import audit
from store.schemas import AuditOut, Page

router = APIRouter(tags=["audit"], responses=errors_responses(401, 403, 422))


@router.get("/audit", response_model=Page[AuditOut], summary="Who changed what, when")
def list_audit(entity: str | None = Query(None, max_length=32, examples=["sheet"]),
               entity_id: str | None = Query(None, max_length=128), offset: int = Offset, limit: int = Limit,
               session: Session = Depends(get_session),
               _p: Principal = Depends(require("audit.read"))) -> Page[AuditOut]:
    rows, total = audit.list_audit(session, entity=entity, entity_id=entity_id, offset=offset, limit=limit)
    return Page[AuditOut](items=[AuditOut.model_validate(r, from_attributes=True) for r in rows], total=total,
                          offset=offset, limit=limit)
