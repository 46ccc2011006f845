"""Interventions on a device (update, maintenance, interface change) and their check: before/after
comparison of the device's behaviour from the facts store (store.interventions)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Principal, require
from api.errors import errors_responses
from api.routes.deps import get_session
from store import interventions as store
from store.facts import stored_policy

router = APIRouter(tags=["interventions"], responses=errors_responses(401, 403, 422))
DeviceRef = Path(max_length=255, description="Device MAC, IP or name.", examples=["00:21:b7:10:00:21"])


class InterventionIn(BaseModel):
    """POST body: what was done to the device, when and by whom."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "update", "at": "2026-03-02T14:30:00Z", "by": "Supplier field engineer",
         "note": "Console software 2.1 installed"}]})
    kind: Literal["update", "maintenance", "interface"] = Field(description="What was done.")
    at: dt.datetime = Field(description="When (ISO 8601; UTC when no offset is given).")
    by: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00]*$", description="Who performed it.")
    note: str = Field(default="", max_length=4000, pattern=r"^[^\x00]*$",
                      description="What was done, free text.")


class CheckOut(BaseModel):
    verdict: Literal["pending", "unchanged", "changed", "silent-after"] = Field(
        description="pending until the configured window of traffic after it was observed.")
    before: list[float] = Field(description="Compared window before it (epoch seconds, start and end).")
    after: list[float] = Field(description="Compared window after it.")
    observed_after: float = Field(description="Seconds of traffic observed after it.")
    changes: list[str] = Field(default_factory=list, description="What changed, one line each.")
    diff: dict[str, Any] | None = Field(default=None,
                                        description="The comparison (`medtap diff` JSON fields).")


class InterventionOut(BaseModel):
    id: int
    mac: str = Field(description="Device MAC.")
    kind: str
    at: dt.datetime
    by: str
    note: str
    recorded_by: str = Field(description="Who recorded it (token name).")
    check: CheckOut


def _out(session: Session, row: Any, site: Any, check: Any = None) -> InterventionOut:
    check = check or store.check_intervention(session, row, site=site)
    return InterventionOut(**store.intervention_dict(row), check=CheckOut(**check.as_dict()))


@router.post("/devices/{device}/interventions", status_code=201, response_model=InterventionOut,
             summary="Record an intervention on a device", responses=errors_responses(404))
def add_intervention(body: InterventionIn, response: Response, device: str = DeviceRef,
                     session: Session = Depends(get_session),
                     principal: Principal = Depends(require("intervention.write"))) -> InterventionOut:
    row = store.add_intervention(session, device=device, kind=body.kind, at=body.at, by=body.by,
                                 note=body.note, actor=principal.actor)
    response.headers["Location"] = f"/api/v1/interventions/{row.id}"
    return _out(session, row, stored_policy(session))


@router.get("/devices/{device}/interventions", response_model=list[InterventionOut],
            summary="A device's interventions with their verdict", responses=errors_responses(404))
def device_interventions(device: str = DeviceRef, session: Session = Depends(get_session),
                         _p: Principal = Depends(require("read"))) -> list[InterventionOut]:
    mac = store.resolve_device(session, device)
    site = stored_policy(session)
    rows = store.list_interventions(session, mac=mac)
    checks = store.check_interventions(session, rows, site=site)
    return [_out(session, r, site, c) for r, c in zip(rows, checks, strict=True)]


@router.get("/interventions/{intervention_id}", response_model=InterventionOut,
            summary="One intervention with its verdict", responses=errors_responses(404))
def get_intervention(intervention_id: int = Path(ge=1, le=2**31 - 1), session: Session = Depends(get_session),
                     _p: Principal = Depends(require("read"))) -> InterventionOut:
    return _out(session, store.get_intervention(session, intervention_id), stored_policy(session))
