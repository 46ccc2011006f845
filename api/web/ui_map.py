"""The network map pages: the interactive map (Cytoscape.js, data fetched as JSON pages), the JSON it reads
(the same functions as /api/v1/map, for the signed-in session) and the server-side SVG kept for browsers
without script (/map/svg, one group at a time on a large site)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER, Finding
from api.web import data
from api.web.i18n import Bound
from api.web.mapsvg import Edge, policy_edges, render_map
from api.web.ui import Ctx, needs
from store.mapview import MapFilter, MapGroup, group_of, map_choices, map_edges, map_groups, map_nodes

router = APIRouter(include_in_schema=False)
SVG_ALL_MAX = 300  # above this many devices the no-script map draws one group at a time
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _filter(q: str | None = Query(None, max_length=200), role: str | None = Query(None, max_length=64),
            vendor: str | None = Query(None, max_length=255), rule: str | None = Query(None, max_length=128),
            severity: str | None = Query(None, max_length=16)) -> MapFilter:
    return MapFilter(q=q or None, role=role or None, vendor=vendor or None, rule=rule or None,
                     severity=severity if severity in SEVERITY_ORDER else None)


def group_label(g: MapGroup, t: Bound) -> str:
    if g.kind == "zone":
        return t("map.group_zone", name=g.label)
    if g.kind == "vlan":
        return t("map.group_vlan", vlan=g.label)
    if g.kind == "subnet":
        return t("map.group_subnet", subnet=g.label)
    return t("map.external") if g.kind == "external" else t("map.unzoned")


@router.get("/map", response_class=HTMLResponse)
def map_page(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session),
             flt: MapFilter = Depends(_filter)) -> Response:
    found = map_groups(db, flt)
    groups = [(g, group_label(g, ctx.t)) for g in found.groups]
    choices = map_choices(db)
    params = {"q": flt.q, "role": flt.role, "vendor": flt.vendor, "rule": flt.rule, "severity": flt.severity}
    return ctx.render("map.html", active="map", groups=groups, found=found, params=params, choices=choices,
                      severities=sorted(SEVERITY_ORDER, key=lambda s: -SEVERITY_ORDER[s]))


@router.get("/map/data/groups")
def groups_json(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session),
                flt: MapFilter = Depends(_filter)) -> JSONResponse:
    found = map_groups(db, flt)
    body = found.model_dump(mode="json")
    for item, g in zip(body["groups"], found.groups, strict=True):
        item["title"] = group_label(g, ctx.t)
    return JSONResponse(body, headers=JSON_HEADERS)


@router.get("/map/data/devices")
def devices_json(group: str = Query(max_length=200), offset: int = Query(0, ge=0, le=2**31 - 1),
                 limit: int = Query(500, ge=1, le=2000), ctx: Ctx = Depends(needs("read")),
                 db: Session = Depends(data.db_session), flt: MapFilter = Depends(_filter)) -> JSONResponse:
    return JSONResponse(map_nodes(db, group, flt, offset=offset, limit=limit).model_dump(mode="json"),
                        headers=JSON_HEADERS)


@router.get("/map/data/edges")
def edges_json(mac: str | None = Query(None, max_length=64), group: str | None = Query(None, max_length=200),
               ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session)) -> JSONResponse:
    if (mac is None) == (group is None):
        return JSONResponse({"detail": "give either mac or group"}, status_code=422, headers=JSON_HEADERS)
    return JSONResponse(map_edges(db, mac=mac, group=group, lang=ctx.lang).model_dump(mode="json"),
                        headers=JSON_HEADERS)


@router.get("/map/svg", response_class=HTMLResponse)
def map_svg(ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session),
            group: str | None = Query(None, max_length=200)) -> Response:
    """The server-drawn SVG: the whole site when small, else the chosen group and the devices it talks to."""
    groups = [(g, group_label(g, ctx.t)) for g in map_groups(db).groups]
    if group is None and sum(g.devices for g, _ in groups) > SVG_ALL_MAX:
        return ctx.render("map_svg.html", active="map", svg=None, groups=groups, group=None, bad_edges=[])
    devices = data.all_devices(db)
    findings: list[Finding] = [f for f in data.all_findings(db) if f.status not in CLOSED_STATUSES]
    if ctx.lang == "fr":  # the red edges' titles in the page language
        findings = [f.model_copy(update={"title": f.title_fr}) if f.title_fr else f for f in findings]
    edges: list[Edge] = data.conversations(db)
    if group is not None:
        inside = {d.mac for d in devices if group_of(d.zone, d.vlans, d.ips)[1] == group}
        addrs = {ip for d in devices if d.mac in inside for ip in d.ips}
        edges = [e for e in edges if e.client_ip in addrs or e.server_ip in addrs]
        peers = {ip for e in edges for ip in (e.client_ip, e.server_ip)}
        devices = [d for d in devices if d.mac in inside or peers.intersection(d.ips)]
    labels = {k: ctx.t("map." + k) for k in ("external", "unzoned",
                                             "policy")} | {"title": ctx.t("map.svg_title")}
    svg = render_map(devices, edges, findings, labels=labels)
    return ctx.render("map_svg.html", active="map", svg=svg, groups=groups, group=group,
                      bad_edges=policy_edges(devices, edges, findings))
