"""Reports (perimeter review, supplier scorecards), the review campaign, and a device's "if isolated"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api import reports
from api.auth import Principal, require
from api.errors import NotFoundError, errors_responses
from api.routes.deps import get_notify, get_session
from store import reviews

router = APIRouter(tags=["reports"], responses=errors_responses(401, 403, 422))
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json",
         "csv": "text/csv; charset=utf-8"}


def _file(body: bytes, fmt: str, name: str) -> Response:
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/reports/perimeter", summary="The yearly perimeter review (HTML, PDF or JSON)")
def perimeter(fmt: Literal["html", "pdf", "json"] = Query("html", alias="format"),
              lang: Literal["en", "fr"] = "en", session: Session = Depends(get_session),
              _p: Principal = Depends(require("export"))) -> Response:
    body = reports.perimeter_report(reviews.perimeter_data(session), fmt=fmt, lang=lang)
    return _file(body, fmt, "medtap-perimeter-review")


@router.get("/reports/suppliers", summary="Supplier scorecards (JSON, CSV or HTML)")
def suppliers(fmt: Literal["json", "csv", "html"] = Query("json", alias="format"),
              lang: Literal["en", "fr"] = "en", session: Session = Depends(get_session),
              _p: Principal = Depends(require("export"))) -> Response:
    body = reports.supplier_report(reviews.supplier_data(session), fmt=fmt, lang=lang)
    return _file(body, fmt, "medtap-suppliers")


class ReviewMark(BaseModel):
    """POST body: mark one sheet reviewed in the open campaign."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000)


def _progress(session: Session) -> dict[str, Any]:
    return reviews.review_status(session)


@router.get("/reviews/current", summary="The open review campaign: sheets reviewed and left")
def current(session: Session = Depends(get_session),
            _p: Principal = Depends(require("read"))) -> dict[str, Any]:
    return _progress(session)


@router.post("/reviews", status_code=201, summary="Open a review campaign (audited)",
             responses=errors_responses(409))
def open_review(session: Session = Depends(get_session),
                principal: Principal = Depends(require("sheet.write"))) -> dict[str, Any]:
    reviews.open_review(session, actor=principal.actor)
    return _progress(session)


@router.post("/reviews/current/sheets/{sheet_id}", summary="Mark a sheet reviewed (audited)",
             responses=errors_responses(404, 409))
def mark(body: ReviewMark | None = None, sheet_id: str = Path(max_length=64),
         session: Session = Depends(get_session), principal: Principal = Depends(require("sheet.write")),
         notify: Callable[[dict[str, Any]], None] | None = Depends(get_notify)) -> dict[str, Any]:
    reviews.mark_reviewed(session, sheet_id, actor=principal.actor, note=body.note if body else None,
                          notify=notify)
    return _progress(session)


@router.post("/reviews/current/close", summary="Close the campaign, keeping its snapshot (audited)")
def close(session: Session = Depends(get_session),
          principal: Principal = Depends(require("sheet.write"))) -> dict[str, Any]:
    return reviews.closed_review_dict(reviews.close_review(session, actor=principal.actor))


@router.get("/devices/{mac}/isolation", summary="If isolated: the clinical flows that depend on a device",
            responses=errors_responses(404))
def isolation(mac: str = Path(max_length=64), session: Session = Depends(get_session),
              _p: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    flows = reviews.isolation_flows(session, mac)
    if flows is None:
        raise NotFoundError(f"no device {mac!r}", "mac")
    return flows
