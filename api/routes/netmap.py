"""The network map at hospital scale, as JSON pages: groups (zone, else VLAN, else subnet), one group's
devices, and conversations on demand (store.mapview; the web UI answers the same under /map/data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from analyzer.models import Severity
from api.auth import Principal, require
from api.errors import InvalidError, errors_responses
from api.routes.deps import Offset, get_session
from store.mapview import MapEdges, MapFilter, MapGroups, MapNodes, map_edges, map_groups, map_nodes

router = APIRouter(tags=["map"], responses=errors_responses(401, 403, 422))


def map_filter(q: str | None = Query(None, max_length=200,
                                     description="Words to find in device, vendor, role or finding."),
               role: str | None = Query(None, max_length=64, description="Exact device role."),
               vendor: str | None = Query(None, max_length=255, description="Exact vendor (any case)."),
               rule: str | None = Query(None, max_length=128,
                                        description="Devices with an open or risk-accepted finding of it."),
               severity: Severity | None = Query(None,
                                                 description="Devices whose worst open finding is at least "
                                                             "this severe.")) -> MapFilter:
    return MapFilter(q=q or None, role=role or None, vendor=vendor or None, rule=rule or None,
                     severity=severity or None)


@router.get("/map/groups", response_model=MapGroups, summary="Map clusters with their counts")
def groups(flt: MapFilter = Depends(map_filter), session: Session = Depends(get_session),
           _p: Principal = Depends(require("read"))) -> MapGroups:
    return map_groups(session, flt)


@router.get("/map/devices", response_model=MapNodes, summary="A page of one cluster's devices")
def devices(group: str = Query(max_length=200, description="Group key from /map/groups."),
            flt: MapFilter = Depends(map_filter), offset: int = Offset,
            limit: int = Query(500, ge=1, le=2000, description="Page size (1..2000)."),
            session: Session = Depends(get_session), _p: Principal = Depends(require("read"))) -> MapNodes:
    return map_nodes(session, group, flt, offset=offset, limit=limit)


@router.get("/map/edges", response_model=MapEdges, summary="Conversations of one device or one cluster")
def edges(mac: str | None = Query(None, max_length=64), group: str | None = Query(None, max_length=200),
          session: Session = Depends(get_session), _p: Principal = Depends(require("read"))) -> MapEdges:
    if (mac is None) == (group is None):
        raise InvalidError("give either mac or group", "mac")
    return map_edges(session, mac=mac, group=group)
