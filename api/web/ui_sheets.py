"""Identification-sheet pages: list, create, edit (optimistic concurrency), delete, import, export.

The form shows the sheet fields as the biomedical service names them (fr/en);
validation errors sit next to their field; an edit carries the version it read
and a stale one shows the conflict message with the current sheet (HTTP 409),
as the API does with If-Match.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.web import data
from api.web.forms import SHEET_GROUPS, parse_sheet_form, sheet_to_form
from api.web.ui import PAGE, Ctx, as_offset, needs, posted, qs as _qs, redirect

router = APIRouter(include_in_schema=False)
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "yaml": "application/yaml"}
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # a sheets file; content limits (rows, cell, nesting) are in
                                    # analyzer.sheet_io


def _form_page(ctx: Ctx, *, editing: bool, form: dict[str, Any], version: int,
               errors: dict[str, str] | None = None,
               conflict: str | None = None, status_code: int = 200) -> Response:
    action = f"/sheets/{form.get('id', '')}/edit" if editing else "/sheets/new"
    return ctx.render("sheet_form.html", status_code, active="sheets", groups=SHEET_GROUPS, form=form,
                      version=version,
                      errors=errors or {}, conflict=conflict, editing=editing, action=action)


@router.get("/sheets", response_class=HTMLResponse)
def sheets_page(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session),
                offset: str = "0", review: str = "") -> Response:
    from analyzer.reconcile import review_due

    params = {"review": "due" if review == "due" else ""}
    sheets = sorted((s for s, _ in data.all_sheets(db)), key=lambda s: s.id)
    if params["review"]:
        today = dt.date.today()
        sheets = [s for s in sheets if review_due(s.last_review, today)]
    matches = {d.sheet_id: d.mac for d in data.all_devices(db) if d.sheet_id}
    start = min(as_offset(offset), len(sheets))
    return ctx.render("sheets.html", active="sheets", sheets=sheets[start:start + PAGE], total=len(sheets),
                      offset=start,
                      limit=PAGE, params=params, matches=matches, import_errors=[])


@router.get("/sheets/new", response_class=HTMLResponse)
def new_sheet(ctx: Ctx = Depends(needs("read")), mac: str = "") -> Response:
    return _form_page(ctx, editing=False, form={"mac": mac[:64]}, version=0)


@router.post("/sheets/new", response_class=HTMLResponse)
async def create_sheet(request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                       db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    sheet, errors, values = parse_sheet_form(form, ctx.t)
    if sheet is None:
        return _form_page(ctx, editing=False, form=values, version=0, errors=errors, status_code=422)
    assert ctx.user is not None
    if not data.create_sheet(db, sheet, actor=ctx.user.actor, notify=data.notifier(request)):
        return _form_page(ctx, editing=False, form=values, version=0, errors={"id": ctx.t("sheets.exists")},
                          status_code=409)
    return redirect("/sheets?" + _qs(msg="sheets.saved", id=sheet.id))


@router.get("/sheets/export.{fmt}")
def export_sheets(fmt: str, ctx: Ctx = Depends(needs("export")),
                  db: Session = Depends(data.db_session)) -> Response:
    if fmt not in EXPORT_TYPES:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    return Response(data.export_sheets(db, fmt=fmt), media_type=EXPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="medtap-sheets.{fmt}"'})


@router.post("/sheets/import", response_class=HTMLResponse)
async def import_sheets(request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                        db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    upload = form.get("file")
    errors: list[str] = []
    content = b""
    if upload is None or not hasattr(upload, "read") or not getattr(upload, "filename", ""):
        errors = [ctx.t("sheets.import_empty")]
    else:
        content = await upload.read(MAX_IMPORT_BYTES + 1)
        name = str(upload.filename).lower()
        fmt = ("json" if name.endswith(".json") else "yaml" if name.endswith((".yaml", ".yml"))
               else "xlsx" if name.endswith(".xlsx") or content[:4] == b"PK\x03\x04" else "csv")
        if len(content) > MAX_IMPORT_BYTES:
            return _list_with_errors(ctx, db,
                                     [ctx.t("sheets.import_too_large", n=MAX_IMPORT_BYTES // (1024 * 1024))],
                                     None, status_code=413)
        if not content:
            errors = [ctx.t("sheets.import_empty")]
        else:
            assert ctx.user is not None
            partial = bool(form.get("partial"))
            outcome = data.import_sheets(db, content, fmt=fmt, partial=partial, actor=ctx.user.actor, t=ctx.t,
                                         notify=data.notifier(request), name=str(upload.filename))
            if not outcome.errors:
                return redirect("/sheets?" + _qs(msg="sheets.imported", n=outcome.imported))
            return _list_with_errors(ctx, db, outcome.errors, outcome.imported, outcome.refused,
                                     stored=partial)
    return _list_with_errors(ctx, db, errors, None)


def _list_with_errors(ctx: Ctx, db: Session, errors: list[str], imported: int | None, refused: int = 0, *,
                      stored: bool = False, status_code: int = 422) -> Response:
    """The list with the import's summary ("3 fiches importées, 1 refusée.") and its reasons, grouped."""
    sheets = sorted((s for s, _ in data.all_sheets(db)), key=lambda s: s.id)
    matches = {d.sheet_id: d.mac for d in data.all_devices(db) if d.sheet_id}
    lead = []
    if imported is not None:
        lead.append(ctx.t("sheets.import_summary", imported=ctx.t("sheets.import_count", n=imported),
                          refused=ctx.t("sheets.refused_count", n=refused)))
    if not stored:
        lead.append(ctx.t("sheets.import_refused"))
    return ctx.render("sheets.html", status_code, active="sheets", sheets=sheets[:PAGE], total=len(sheets),
                      offset=0, limit=PAGE,
                      params={}, matches=matches, import_errors=[" ".join(lead), *errors[:50]])


@router.get("/sheets/{sheet_id}/edit", response_class=HTMLResponse)
def edit_sheet(sheet_id: str, ctx: Ctx = Depends(needs("read")),
               db: Session = Depends(data.db_session)) -> Response:
    found = data.get_sheet(db, sheet_id)
    if found is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    sheet, version = found
    return _form_page(ctx, editing=True, form=sheet_to_form(sheet), version=version)


@router.post("/sheets/{sheet_id}/edit", response_class=HTMLResponse)
async def update_sheet(sheet_id: str, request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                       db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    current = data.get_sheet(db, sheet_id)
    if current is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    form = {**form, "id": sheet_id}
    try:
        version = int(str(form.get("version") or "-1"))
    except ValueError:
        version = -1
    sheet, errors, values = parse_sheet_form(form, ctx.t)
    if sheet is None:
        return _form_page(ctx, editing=True, form=values, version=version, errors=errors, status_code=422)
    assert ctx.user is not None
    if not data.update_sheet(db, sheet, version=version, actor=ctx.user.actor, notify=data.notifier(request)):
        fresh, fresh_version = data.get_sheet(db, sheet_id) or current
        return _form_page(ctx, editing=True, form=sheet_to_form(fresh), version=fresh_version,
                          conflict=ctx.t("sheets.conflict"), status_code=409)
    return redirect("/sheets?" + _qs(msg="sheets.saved", id=sheet_id))


@router.post("/sheets/{sheet_id}/delete")
async def delete_sheet(sheet_id: str, request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                       db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    assert ctx.user is not None
    if form.get("confirm") != "1":  # the list's button asks first: a page that says what will go
        found = data.get_sheet(db, sheet_id)
        if found is None:
            return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
        return ctx.render("confirm_delete.html", active="sheets", sheet=found[0])
    if not data.delete_sheet(db, sheet_id, actor=ctx.user.actor, notify=data.notifier(request)):
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    return redirect("/sheets?" + _qs(msg="sheets.deleted", id=sheet_id))
