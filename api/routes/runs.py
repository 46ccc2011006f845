"""Analysis runs, summary statistics, and re-analysis of the stored observations."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlmodel import Session

from api.auth import Principal, require
from api.errors import ServiceError, errors_responses
from api.routes.deps import Limit, Offset, get_session
from store import service
from store.models import RunRow
from store.schemas import Page, RunOut, StatsOut, StatusOut

router = APIRouter(tags=["runs"], responses=errors_responses(401, 403, 422))


class AnalyzeOut(BaseModel):
    devices: int
    findings: int


def run_out(row: RunRow) -> RunOut:
    return RunOut(id=int(row.id or 0), started=row.started, finished=row.finished,
                  sources=json.loads(row.sources or "[]"),
                  stats=json.loads(row.stats or "{}"), sensor=row.sensor)


@router.get("/runs", response_model=Page[RunOut], summary="Analysis runs, newest first")
def list_runs(offset: int = Offset, limit: int = Limit, session: Session = Depends(get_session),
              _p: Principal = Depends(require("read"))) -> Page[RunOut]:
    rows, total = service.list_runs(session, offset=offset, limit=limit)
    return Page[RunOut](items=[run_out(r) for r in rows], total=total, offset=offset, limit=limit)


@router.get("/stats", response_model=StatsOut, summary="Counts: devices, findings, observations, sheets")
def stats(session: Session = Depends(get_session), _p: Principal = Depends(require("read"))) -> StatsOut:
    numbers = service.counts(session)
    rows, _ = service.list_runs(session, limit=1)
    return StatsOut(**numbers, sheets=service.list_sheets(session, limit=1)[1],
                    last_run=run_out(rows[0]) if rows else None)


@router.post("/analyze", response_model=AnalyzeOut, summary="Re-analyze the stored observations",
             responses=errors_responses(503))
def analyze(request: Request, session: Session = Depends(get_session),
            _p: Principal = Depends(require("analyze"))) -> AnalyzeOut:
    settings = request.app.state.settings
    site = None
    if settings.site_file is not None:
        from analyzer.site import load_site

        site = load_site(settings.site_file)
    try:
        report = service.reanalyze(session, site=site, rules_dir=settings.rules_dir)
    except ImportError as exc:
        err = ServiceError(f"analyzer unavailable: {exc}")
        err.status = 503
        raise err from None
    return AnalyzeOut(devices=len(report.devices), findings=len(report.findings))


@router.get("/status", response_model=StatusOut,
            summary="When the inventory was last updated; sensors' last batches")
def status(request: Request, session: Session = Depends(get_session),
           _p: Principal = Depends(require("read"))) -> StatusOut:
    from store.facts import live_status

    return StatusOut(**live_status(session, silent_after=request.app.state.settings.sensor_silent_after))
