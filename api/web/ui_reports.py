"""Report pages: the yearly perimeter review campaign (mark each sheet reviewed, see what is left,
download the review) and the supplier scorecards (with the score's formula)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from analyzer.suppliers import FINDING_WEIGHTS, FORMULA, WEIGHTS
from api import reports
from api.web import data
from api.web.ui import Ctx, needs, posted, redirect
from store import reviews
from store.errors import ServiceError

router = APIRouter(include_in_schema=False)
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json",
         "csv": "text/csv; charset=utf-8"}


def _campaign_page(ctx: Ctx, db: Session, *, error: str | None = None, status_code: int = 200) -> Response:
    state = reviews.progress(db)
    by_service: dict[str, list] = {"biomedical": [], "it": []}
    for sheet in state["sheets"]:
        by_service.setdefault(sheet.responsibility, []).append(sheet)
    return ctx.render("reviews.html", status_code, active="reviews", state=state, by_service=by_service,
                      error=error)


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session)) -> Response:
    return _campaign_page(ctx, db)


async def _act(request: Request, ctx: Ctx, db: Session, action: str, sheet_id: str | None = None) -> Response:
    form = await posted(request, ctx)
    assert ctx.user is not None
    try:
        if action == "open":
            reviews.open_review(db, actor=ctx.user.actor)
        elif action == "close":
            reviews.close_review(db, actor=ctx.user.actor)
        else:
            assert sheet_id is not None
            reviews.mark_reviewed(db, sheet_id, actor=ctx.user.actor, note=str(form.get("note") or "")[:4000],
                                  notify=data.notifier(request))
    except ServiceError as exc:
        db.rollback()
        return _campaign_page(ctx, db, error=exc.detail, status_code=409)
    return redirect("/reviews")


@router.post("/reviews/open", response_class=HTMLResponse)
async def open_campaign(request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                        db: Session = Depends(data.db_session)) -> Response:
    return await _act(request, ctx, db, "open")


@router.post("/reviews/close", response_class=HTMLResponse)
async def close_campaign(request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                         db: Session = Depends(data.db_session)) -> Response:
    return await _act(request, ctx, db, "close")


@router.post("/reviews/sheets/{sheet_id}", response_class=HTMLResponse)
async def mark_sheet(sheet_id: str, request: Request, ctx: Ctx = Depends(needs("sheet.write")),
                     db: Session = Depends(data.db_session)) -> Response:
    return await _act(request, ctx, db, "mark", sheet_id[:64])


@router.get("/reviews/report.{fmt}")
def perimeter_file(fmt: str, ctx: Ctx = Depends(needs("export")),
                   db: Session = Depends(data.db_session)) -> Response:
    if fmt not in reports.PERIMETER_FORMATS:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    body = reports.perimeter_report(reviews.perimeter_data(db), fmt=fmt, lang=ctx.lang)
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="medtap-perimeter-review.{fmt}"'})


@router.get("/suppliers", response_class=HTMLResponse)
def suppliers_page(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session)) -> Response:
    return ctx.render("suppliers.html", active="suppliers", cards=reviews.supplier_data(db), formula=FORMULA,
                      weights=WEIGHTS, finding_weights=FINDING_WEIGHTS)


@router.get("/suppliers/report.{fmt}")
def suppliers_file(fmt: str, ctx: Ctx = Depends(needs("export")),
                   db: Session = Depends(data.db_session)) -> Response:
    if fmt not in reports.SUPPLIER_FORMATS:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    body = reports.supplier_report(reviews.supplier_data(db), fmt=fmt, lang=ctx.lang)
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="medtap-suppliers.{fmt}"'})
