"""Exports: findings as RFC 5424 syslog or ECS JSON lines, inventory as CSV (formula-safe)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from analyzer.models import Severity, Status
from api import exports
from api.auth import Principal, require
from api.errors import errors_responses
from api.routes.deps import get_session
from store import service

router = APIRouter(tags=["exports"], responses=errors_responses(401, 403, 422))


def _findings(session: Session, severity: str | None, status: str | None) -> list:
    return service.list_findings(session, severity=severity, status=status, limit=10**9)[0]


@router.get("/exports/findings.syslog", summary="Findings as RFC 5424 syslog lines",
            responses={200: {"content": {"text/plain": {}}, "description": "One line per finding."}})
def findings_syslog(severity: Severity | None = None, status: Status | None = None,
                    session: Session = Depends(get_session),
                    _p: Principal = Depends(require("export"))) -> Response:
    return Response(exports.findings_syslog(_findings(session, severity, status)),
                    media_type="text/plain; charset=utf-8")


@router.get("/exports/findings.ecs.jsonl", summary="Findings as ECS JSON lines",
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "One JSON object per line."}})
def findings_ecs(severity: Severity | None = None, status: Status | None = None,
                 session: Session = Depends(get_session),
                 _p: Principal = Depends(require("export"))) -> Response:
    return Response(exports.findings_ecs(_findings(session, severity, status)),
                    media_type="application/x-ndjson")


@router.get("/exports/inventory.csv", summary="Device inventory as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "Formula-neutralised CSV."}})
def inventory(zone: str | None = Query(None, max_length=128), session: Session = Depends(get_session),
              _p: Principal = Depends(require("export"))) -> Response:
    devices = service.list_devices(session, zone=zone, limit=10**9)[0]
    return Response(exports.inventory_csv(devices), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="medtap-inventory.csv"'})
