"""Reconciliation outcomes per sheet: matched device and discrepancies (computed from stored data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlmodel import Session

from api.auth import Principal, require
from api.errors import errors_responses
from api.routes.deps import get_session
from store import service
from store.schemas import ReconciliationOut

router = APIRouter(tags=["reconciliation"], responses=errors_responses(401, 403))


@router.get("/reconciliation", response_model=list[ReconciliationOut],
            summary="Sheets against what was observed")
def reconciliation(session: Session = Depends(get_session),
                   _p: Principal = Depends(require("read"))) -> list[ReconciliationOut]:
    return service.reconciliation(session)
