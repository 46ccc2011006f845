"""Downloads from the web UI: the findings of the current filter and the inventory, as CSV or XLSX.

The findings export takes the findings page's query string (api.web.triage), so the file holds exactly
what the page lists; titles are in the page language.  Same formats as the API's exports (api.exports).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from api import exports
from api.web import data, triage
from api.web.ui import PAGE_HEADERS, Ctx, needs

router = APIRouter(include_in_schema=False)
TYPES = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _download(body: str | bytes, fmt: str, name: str) -> Response:
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return Response(body, media_type=TYPES[fmt], headers=headers)


@router.get("/findings/export.{fmt}")
def export_findings(fmt: str, request: Request, ctx: Ctx = Depends(needs("export")),
                    db: Session = Depends(data.db_session)) -> Response:
    if fmt not in TYPES:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    chosen = triage.select(data.all_findings(db), triage.clean_params(request.query_params),
                           data.device_names(db))
    body = exports.findings_csv(chosen, lang=ctx.lang) if fmt == "csv" else exports.findings_xlsx(chosen,
                                                                                                 lang=ctx.lang)
    return _download(body, fmt, "medtap-findings")


@router.get("/devices/export.{fmt}")
def export_devices(fmt: str, ctx: Ctx = Depends(needs("export")),
                   db: Session = Depends(data.db_session)) -> Response:
    if fmt not in TYPES:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    devices = data.all_devices(db)
    body = exports.inventory_csv(devices) if fmt == "csv" else exports.inventory_xlsx(devices)
    return _download(body, fmt, "medtap-inventory")
