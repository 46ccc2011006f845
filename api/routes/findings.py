"""Findings: list with filters, one finding, and the review (PATCH status with justification)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session

from analyzer.models import Service, Severity, Status
from api.auth import Principal, require
from api.errors import NotFoundError, errors_responses
from api.routes.deps import Limit, Offset, get_notify, get_session
from store import service
from store.schemas import FindingOut, Page, StatusChange

router = APIRouter(tags=["findings"], responses=errors_responses(401, 403, 422))
FindingId = Path(max_length=64, examples=["MT-0123456789ab"])


@router.get("/findings", response_model=Page[FindingOut], summary="List findings, most severe first")
def list_findings(
    rule: str | None = Query(None, max_length=128), severity: Severity | None = None,
    status: Status | None = None,
    zone: str | None = Query(None, max_length=128), service_: Service | None = Query(None, alias="service"),
    include_inactive: bool = Query(False,
                                   description="Also findings the last analysis did not produce again."),
    offset: int = Offset, limit: int = Limit,
    session: Session = Depends(get_session), _p: Principal = Depends(require("read")),
) -> Page[FindingOut]:
    items, total = service.list_findings(session, rule=rule, severity=severity, status=status, zone=zone,
                                         service=service_,
                                         active=None if include_inactive else True, offset=offset,
                                         limit=limit)
    return Page[FindingOut](items=items, total=total, offset=offset, limit=limit)


@router.get("/findings/{finding_id}", response_model=FindingOut, responses=errors_responses(404))
def get_finding(finding_id: str = FindingId, session: Session = Depends(get_session),
                _p: Principal = Depends(require("read"))) -> FindingOut:
    found = service.get_finding(session, finding_id)
    if found is None:
        raise NotFoundError(f"no finding {finding_id!r}", "finding_id")
    return found


@router.patch("/findings/{finding_id}", response_model=FindingOut,
              summary="Review a finding (audited, notified)",
              responses=errors_responses(404))
def patch_finding(body: StatusChange, finding_id: str = FindingId, session: Session = Depends(get_session),
                  principal: Principal = Depends(require("finding.status")),
                  notify: Callable[[dict[str, Any]], None] | None = Depends(get_notify)) -> FindingOut:
    return service.set_finding_status(session, finding_id, status=body.status,
                                      justification=body.justification,
                                      expires=body.expires, actor=principal.actor, notify=notify)
