"""Dashboard page and the live progress JSON it polls every 2 s (findings, devices, coverage, capture
period)."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from analyzer.models import SEVERITY_ORDER
from analyzer.reconcile import review_due
from api.web import data
from api.web.i18n import Bound
from api.web.ui import CONNECTIONS, SERVICES, Ctx, needs
from store.dashboard import trend

router = APIRouter(include_in_schema=False)


def _counts(values: list[Any], order: list[str] | None = None) -> list[tuple[Any, int]]:
    counts = Counter(values)
    if order:
        return [(k, counts[k]) for k in order if counts.get(k)]
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))


def _progress(db: Session, t: Bound) -> dict[str, Any]:
    run = data.current_run(db)
    if run is None:
        return {"running": False, "packets": 0, "rate": 0, "text": ""}
    elapsed = max(time.time() - run["started"], 1e-3)
    rate = round(run["packets"] / elapsed) if run["running"] else 0
    return {**run, "rate": rate, "text": t("dashboard.progress_line", packets=run["packets"], rate=rate)}


@router.get("/", response_class=HTMLResponse)
def dashboard(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session)) -> Response:
    # "open" is status open, the list each count links to (findings?status=open&...): the two agree
    findings = [f for f in data.all_findings(db) if f.status == "open"]
    devices = data.all_devices(db)
    sheets = data.all_sheets(db)
    dms = [d for d in devices if d.is_dm]
    matched = {d.sheet_id for d in devices if d.sheet_id}
    summary = data.capture_summary(db)
    dash = {
        "findings_by": {
            "severity": _counts([f.severity for f in findings],
                                sorted(SEVERITY_ORDER, key=lambda s: -SEVERITY_ORDER[s])),
            "rule": _counts([f.rule for f in findings]),
            "zone": _counts([f.zone or "" for f in findings]),
            "service": _counts([f.service for f in findings], list(SERVICES)),
        },
        "devices_by": {
            "zone": _counts([d.zone or "" for d in devices]),
            "role": _counts([d.role for d in devices]),
            "connection": _counts([d.connection for d in devices], list(CONNECTIONS)),
        },
        "dm_total": len(dms),
        "dm_with_sheet": sum(1 for d in dms if d.sheet_id),
        "coverage_pct": round(100 * sum(1 for d in dms if d.sheet_id) / len(dms)) if dms else 0,
        "sheets_total": len(sheets),
        "sheets_unseen": sum(1 for s, _ in sheets if s.id not in matched),
        "devices_total": len(devices),
        "findings_open": len(findings),
        "dm_without_sheet": sum(1 for d in dms if not d.sheet_id),
        "sheets_review_due": sum(1 for s, _ in sheets if review_due(s.last_review, dt.date.today())),
        "trend": trend(db),
        "period": (summary["first_ts"], summary["last_ts"]),
        "sensors": summary["sensors"],
        "packets": summary["packets"],
        "live": _live(db, ctx),
    }
    return ctx.render("dashboard.html", active="dashboard", dash=dash, run=_progress(db, ctx.t))


@router.get("/progress.json")
def progress(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session)) -> JSONResponse:
    return JSONResponse(_progress(db, ctx.t), headers={"Cache-Control": "no-store"})




def _live(db: Session, ctx: Ctx) -> dict[str, Any]:
    """Last analysis and each sensor's last batch, epoch seconds for the `ts` macro; silent sensors
    flagged."""
    from store.facts import live_status

    status = live_status(db, silent_after=ctx.request.app.state.settings.sensor_silent_after)
    last = status["last_analysis"]
    return {"last_analysis": last.timestamp() if last is not None else None,
            "up_to_date": status["up_to_date"],
            "sensors": [{**s, "last_batch_at": s["last_batch_at"].timestamp()} for s in status["sensors"]],
            "silent": status["silent_sensors"]}
