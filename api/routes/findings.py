"""Findings: list with filters, one finding, and the review (PATCH status with justification)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from analyzer.models import Service, Severity, Status
from api.auth import Principal, require
from api.errors import NotFoundError, errors_responses
from api.routes.deps import Limit, Offset, get_notify, get_session
from store import service
from store.schemas import FindingOut, Page, StatusChange


class BulkStatusChange(BaseModel):
    """POST body of a bulk review: one status and one comment for many findings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ids": ["MT-0123456789ab", "MT-ba9876543210"], "status": "risk-accepted",
         "justification": "Flat imaging VLAN until the 2027 re-cabling; monitored",
         "expires": "2027-06-30"}]})

    ids: list[str] = Field(min_length=1, max_length=service.MAX_BULK_REVIEW,
                           description="Finding ids (all must exist: nothing changes otherwise).")
    status: Status
    justification: str | None = Field(default=None, max_length=4000)
    expires: dt.date | None = None


class BulkResult(BaseModel):
    changed: int = Field(description="Findings reviewed (one audited change each).")


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


@router.post("/findings/review", response_model=BulkResult,
             summary="Review many findings with one comment (all or none; audited per finding)",
             responses=errors_responses(404))
def review_findings(body: BulkStatusChange, session: Session = Depends(get_session),
                    principal: Principal = Depends(require("finding.status")),
                    notify: Callable[[dict[str, Any]], None] | None = Depends(get_notify)) -> BulkResult:
    changed = service.set_findings_status(session, body.ids, status=body.status,
                                          justification=body.justification, expires=body.expires,
                                          actor=principal.actor, notify=notify)
    return BulkResult(changed=changed)
