"""Exports: findings as RFC 5424 syslog, ECS JSON lines, CSV or XLSX; inventory as CSV or XLSX (formula-safe).

Every export accepts an API token (`Authorization: Bearer`) or the signed-in web UI session (its cookie):
a person who may export downloads from the browser with the rights of the role they signed in with.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from analyzer.models import Severity, Status
from api import exports
from api.auth import Principal, allowed, current_principal
from api.errors import ForbiddenError, errors_responses
from api.routes.deps import get_session
from store import service

router = APIRouter(tags=["exports"], responses=errors_responses(401, 403, 422))
_bearer = HTTPBearer(auto_error=False, description="API token created with `medtap token create --role ...`.")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def require_export(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                     session: Session = Depends(get_session)) -> Principal:
    """(Named like api.auth.require(...)'s dependencies: the role matrix test reads the name.) The bearer
    token's principal, else the web UI session's (when the UI is mounted); 403 unless the
    role may export."""
    principal: Principal | None = None
    if credentials is None and getattr(request.app.state, "web", None) is not None:
        from api.web.ui import context

        user = context(request, session).user
        if user is not None:
            principal = Principal(name=user.name, role=user.role, token_id=0)
    if principal is None:
        principal = current_principal(credentials, session)
    if not allowed(principal.role, "export"):
        raise ForbiddenError(f"role {principal.role!r} may not export", "Authorization")
    return principal


def _findings(session: Session, severity: str | None, status: str | None) -> list:
    return service.list_findings(session, severity=severity, status=status, limit=10**9)[0]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@router.get("/exports/findings.syslog", summary="Findings as RFC 5424 syslog lines",
            responses={200: {"content": {"text/plain": {}}, "description": "One line per finding."}})
def findings_syslog(severity: Severity | None = None, status: Status | None = None,
                    session: Session = Depends(get_session),
                    _p: Principal = Depends(require_export)) -> Response:
    return Response(exports.findings_syslog(_findings(session, severity, status)),
                    media_type="text/plain; charset=utf-8")


@router.get("/exports/findings.ecs.jsonl", summary="Findings as ECS JSON lines",
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "One JSON object per line."}})
def findings_ecs(severity: Severity | None = None, status: Status | None = None,
                 session: Session = Depends(get_session),
                 _p: Principal = Depends(require_export)) -> Response:
    return Response(exports.findings_ecs(_findings(session, severity, status)),
                    media_type="application/x-ndjson")


@router.get("/exports/findings.csv", summary="Findings as CSV (; and a UTF-8 BOM, for French Excel)",
            responses={200: {"content": {"text/csv": {}}, "description": "Formula-neutralised CSV."}})
def findings_csv(severity: Severity | None = None, status: Status | None = None,
                 session: Session = Depends(get_session),
                 _p: Principal = Depends(require_export)) -> Response:
    return Response(exports.findings_csv(_findings(session, severity, status)),
                    media_type="text/csv; charset=utf-8", headers=_attachment("medtap-findings.csv"))


@router.get("/exports/findings.xlsx", summary="Findings as an XLSX workbook",
            responses={200: {"content": {XLSX: {}}, "description": "Every cell is text."}})
def findings_xlsx(severity: Severity | None = None, status: Status | None = None,
                  session: Session = Depends(get_session),
                  _p: Principal = Depends(require_export)) -> Response:
    return Response(exports.findings_xlsx(_findings(session, severity, status)), media_type=XLSX,
                    headers=_attachment("medtap-findings.xlsx"))


@router.get("/exports/inventory.csv", summary="Device inventory as CSV (; and a UTF-8 BOM, for French Excel)",
            responses={200: {"content": {"text/csv": {}}, "description": "Formula-neutralised CSV."}})
def inventory(zone: str | None = Query(None, max_length=128), session: Session = Depends(get_session),
              _p: Principal = Depends(require_export)) -> Response:
    devices = service.list_devices(session, zone=zone, limit=10**9)[0]
    return Response(exports.inventory_csv(devices), media_type="text/csv; charset=utf-8",
                    headers=_attachment("medtap-inventory.csv"))


@router.get("/exports/inventory.xlsx", summary="Device inventory as an XLSX workbook",
            responses={200: {"content": {XLSX: {}}, "description": "Every cell is text."}})
def inventory_xlsx(zone: str | None = Query(None, max_length=128), session: Session = Depends(get_session),
                   _p: Principal = Depends(require_export)) -> Response:
    devices = service.list_devices(session, zone=zone, limit=10**9)[0]
    return Response(exports.inventory_xlsx(devices), media_type=XLSX,
                    headers=_attachment("medtap-inventory.xlsx"))
