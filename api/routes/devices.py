"""Device inventory: list with filters and pagination; one device with its observed facts beside its sheet."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session

from analyzer.models import Connection, Device
from api.auth import Principal, require
from api.errors import NotFoundError, errors_responses
from api.routes.deps import Limit, Offset, get_session
from store import service
from store.schemas import DeviceDetail, Page

router = APIRouter(tags=["devices"], responses=errors_responses(401, 403, 422))


@router.get("/devices", response_model=Page[Device], summary="List devices")
def list_devices(
    zone: str | None = Query(None, max_length=128, description="Site policy zone name."),
    role: str | None = Query(None, max_length=64, description="Role, e.g. imaging-modality."),
    connection: Connection | None = Query(None, description="wired, wifi or unknown."),
    q: str | None = Query(None, max_length=200, description="Search MAC, hostname, IP or vendor."),
    offset: int = Offset, limit: int = Limit,
    session: Session = Depends(get_session), _p: Principal = Depends(require("read")),
) -> Page[Device]:
    items, total = service.list_devices(session, zone=zone, role=role, connection=connection, q=q,
                                        offset=offset, limit=limit)
    return Page[Device](items=items, total=total, offset=offset, limit=limit)


@router.get("/devices/{mac}", response_model=DeviceDetail, summary="One device, its sheet and its findings",
            responses=errors_responses(404))
def get_device(mac: str = Path(max_length=64, examples=["00:11:22:33:44:55"]),
               session: Session = Depends(get_session),
               _p: Principal = Depends(require("read"))) -> DeviceDetail:
    device = service.get_device(session, mac)
    if device is None:
        raise NotFoundError(f"no device {mac!r}", "mac")
    sheet = service.get_sheet(session, device.sheet_id) if device.sheet_id else None
    findings, _ = service.list_findings(session, device=device.mac, limit=1000)
    return DeviceDetail(device=device, sheet=sheet.sheet if sheet else None, findings=findings)
