"""Identification sheets: CRUD with optimistic concurrency (version / If-Match), import and export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Header, Path, Query, Response, UploadFile
from sqlmodel import Session

from analyzer.sheets import Sheet
from api.auth import Principal, require
from api.errors import InvalidError, NotFoundError, errors_responses
from api.routes.deps import Limit, Offset, get_notify, get_session
from store import service
from store.schemas import ImportOut, Page, SheetOut, SheetUpdate

router = APIRouter(tags=["sheets"], responses=errors_responses(401, 403, 422))
SheetId = Path(max_length=64, examples=["SH-0001"])
SHEET_EXAMPLE = {
    "id": "SH-0001", "software_name": "Syngo CT", "software_version": "VB20",
    "supplier": "Siemens Healthineers",
    "workstation": "ct01", "workstation_owner": "supplier", "mac": "00:11:22:33:44:55", "ip": "10.10.110.5",
    "connection": "wired", "vlan": 110, "interfaces": [{"peer": "PACS", "protocol": "dicom", "port": 104}],
    "servers": [{"name": "10.50.0.20", "role": "pacs"}], "os_name": "Windows", "os_version": "10",
    "remote_maintenance": {"method": "rdp", "gateway": "bastion", "supplier": "Siemens Healthineers"},
    "responsibility": "biomedical", "biomedical_referent": "biomed@demo-hospital.example",
    "last_review": "2026-01-15",
    "ce_marking": "IIb",
}
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "yaml": "application/yaml"}
Notify = Callable[[dict[str, Any]], None] | None


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    text = text[2:] if text.startswith("W/") else text
    text = text.strip('"')
    if not text.isdigit() or len(text) > 9:
        raise InvalidError("If-Match must be the sheet version, e.g. \"3\"", "If-Match")
    return int(text)


@router.get("/sheets", response_model=Page[SheetOut], summary="List sheets")
def list_sheets(q: str | None = Query(None, max_length=200), offset: int = Offset, limit: int = Limit,
                session: Session = Depends(get_session),
                _p: Principal = Depends(require("read"))) -> Page[SheetOut]:
    items, total = service.list_sheets(session, q=q, offset=offset, limit=limit)
    return Page[SheetOut](items=items, total=total, offset=offset, limit=limit)


@router.post("/sheets", response_model=SheetOut, status_code=201, summary="Create a sheet",
             responses=errors_responses(409))
def create_sheet(response: Response,
                 sheet: Sheet = Body(openapi_examples={"ct": {"summary": "A CT scanner",
                                                              "value": SHEET_EXAMPLE}}),
                 session: Session = Depends(get_session),
                 principal: Principal = Depends(require("sheet.write")),
                 notify: Notify = Depends(get_notify)) -> SheetOut:
    out = service.create_sheet(session, sheet, actor=principal.actor, notify=notify)
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/sheets/export", summary="Export every sheet (csv, json or yaml)",
            responses={200: {"content": {"text/csv": {}, "application/json": {}, "application/yaml": {}},
                             "description": "The sheets file."}})
def export_sheets(format: Literal["csv", "json", "yaml"] = Query("csv"),
                  session: Session = Depends(get_session),
                  _p: Principal = Depends(require("export"))) -> Response:
    data = service.export_sheets(session, fmt=format)
    return Response(data, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="medtap-sheets.{format}"'})


@router.post("/sheets/import", response_model=ImportOut, summary="Import a sheets file (multipart)",
             description="A bad row refuses the whole file (422 listing every error) unless partial=true.")
async def import_sheets(file: UploadFile = File(..., description="CSV (; or ,), XLSX, JSON or YAML."),
                        format: Literal["csv", "xlsx", "json", "yaml"] | None = Form(
                            None, description="Default: from the file name."),
                        partial: bool = Form(False),
                        overwrite: bool = Form(False,
                                               description="Replace sheets edited since their last import."),
                        session: Session = Depends(get_session),
                        principal: Principal = Depends(require("sheet.write")),
                        notify: Notify = Depends(get_notify)) -> ImportOut:
    fmt = format or (file.filename or "").rsplit(".", 1)[-1].lower().replace("yml", "yaml")
    if fmt not in ("csv", "xlsx", "json", "yaml"):
        raise InvalidError("give format=csv|xlsx|json|yaml or a file name ending in .csv, .xlsx, .json or "
                           ".yaml", "format")
    data = await file.read()
    result = service.import_sheets(session, data, fmt=fmt, actor=principal.actor, partial=partial,
                                   notify=notify, overwrite=overwrite, name=file.filename)
    errors = [{"line": e.line, "field": e.field, "reason": e.reason, "code": e.code} for e in result.errors]
    if errors and not partial:
        raise InvalidError("file refused: " + "; ".join(str(e) for e in result.errors[:10]),
                           f"line {result.errors[0].line}: {result.errors[0].field}")
    return ImportOut(imported=result.imported, created=result.created, updated=result.updated,
                     unchanged=result.unchanged, errors=errors,
                     conflicts=[{"sheet_id": c.sheet_id, "fields": c.fields, "edited_by": c.edited_by,
                                 "edited_at": c.edited_at.isoformat() if c.edited_at else None}
                                for c in result.conflicts])


@router.get("/sheets/{sheet_id}", response_model=SheetOut, responses=errors_responses(404))
def get_sheet(response: Response, sheet_id: str = SheetId, session: Session = Depends(get_session),
              _p: Principal = Depends(require("read"))) -> SheetOut:
    out = service.get_sheet(session, sheet_id)
    if out is None:
        raise NotFoundError(f"no sheet {sheet_id!r}", "sheet_id")
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.put("/sheets/{sheet_id}", response_model=SheetOut, summary="Replace a sheet (send the version read)",
            responses=errors_responses(404, 409))
def update_sheet(response: Response,
                 body: SheetUpdate = Body(openapi_examples={"ct": {"summary": "New VLAN", "value": {
                     "sheet": {**SHEET_EXAMPLE, "vlan": 111}, "version": 1}}}), sheet_id: str = SheetId,
                 if_match: str | None = Header(None, max_length=64, description='Version read, e.g. "3".'),
                 session: Session = Depends(get_session),
                 principal: Principal = Depends(require("sheet.write")),
                 notify: Notify = Depends(get_notify)) -> SheetOut:
    version = _if_match(if_match)
    version = body.version if version is None else version
    out = service.update_sheet(session, sheet_id, body.sheet, version=version, actor=principal.actor,
                               notify=notify)
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.delete("/sheets/{sheet_id}", status_code=204, response_class=Response,
               responses=errors_responses(404, 409))
def delete_sheet(sheet_id: str = SheetId, if_match: str | None = Header(None, max_length=64),
                 session: Session = Depends(get_session),
                 principal: Principal = Depends(require("sheet.write")),
                 notify: Notify = Depends(get_notify)) -> Response:
    service.delete_sheet(session, sheet_id, version=_if_match(if_match), actor=principal.actor, notify=notify)
    return Response(status_code=204)
