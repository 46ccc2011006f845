"""Interventions on the device page: the list with each verdict, and the form that records one.

The form posts to /devices/{mac}/interventions (permission intervention.write, as the API); the
intervention is recorded and audited by store.interventions, exactly as `medtap intervention add`
and POST /api/v1/devices/{device}/interventions do.  Errors come back next to their field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from analyzer.interventions import KINDS
from api.web import data
from api.web.ui import Ctx, needs, posted, qs, redirect, render_device
from store import interventions as store
from store.errors import ServiceError
from store.facts import stored_policy

router = APIRouter(include_in_schema=False)


def device_interventions(db: Session, mac: str) -> list[dict[str, Any]]:
    """The device's interventions, newest first, each with its check (store.interventions)."""
    site = stored_policy(db)
    rows = list(reversed(store.list_interventions(db, mac=mac)))
    checks = store.check_interventions(db, rows, site=site)
    return [dict(store.intervention_dict(row), check=check.as_dict()) for row, check in zip(rows, checks,
                                                                                              strict=True)]


def _parse(form: dict[str, Any], t: Any) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    kind = str(form.get("kind") or "")
    if kind not in KINDS:
        errors["kind"] = t("intervention.need_kind")
    at: dt.datetime | None = None
    try:
        at = dt.datetime.fromisoformat(str(form.get("at") or "").strip())
        at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    except ValueError:
        errors["at"] = t("intervention.need_at")
    by = str(form.get("by") or "").strip()[:255]
    if not by:
        errors["by"] = t("intervention.need_by")
    note = str(form.get("note") or "").strip()[:4000]
    return {"kind": kind, "at": at, "by": by, "note": note}, errors


@router.post("/devices/{mac}/interventions", response_class=HTMLResponse)
async def add_intervention(mac: str, request: Request, ctx: Ctx = Depends(needs("intervention.write")),
                           db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    values, errors = _parse(form, ctx.t)
    device = data.get_device(db, mac)
    if device is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    if not errors:
        assert ctx.user is not None and values["at"] is not None
        try:
            store.add_intervention(db, device=device.mac, kind=values["kind"], at=values["at"],
                                   by=values["by"], note=values["note"], actor=ctx.user.actor)
        except ServiceError as exc:
            errors[exc.field or "note"] = exc.detail
    if errors:
        return render_device(ctx, db, device.mac, status_code=422, intervention_errors=errors,
                             intervention_form=form)
    return redirect(f"/devices/{device.mac}?" + qs(msg="intervention.recorded") + "#interventions")
