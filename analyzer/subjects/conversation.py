"""Subject `conversation`: one row per aggregated conversation (key: client->server:port/transport).

Computed fields carry the mechanism (zones, conduit check, DM involvement, cleartext evidence from
the application observations of the same conversation); rules carry the policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext, ConvView
from analyzer.models import Evidence
from analyzer.subjects._common import conv_for, evidence_of, zone_kind, zone_name

SUBJECT = "conversation"
FIELDS: dict[str, str] = {
    "client_ip": "client address", "server_ip": "server address", "client_mac": "client device MAC",
    "server_mac": "server device MAC", "transport": "tcp, udp, ...", "server_port": "server port",
    "app": "main application protocol", "apps": "every application seen", "tls": "encrypted (TLS, DICOM-TLS, SSH)",
    "client_zone": "zone name", "client_zone_kind": "zone kind", "server_zone": "zone name",
    "server_zone_kind": "zone kind", "crosses_zone": "endpoints in different zones (or VLANs without a policy)",
    "conduit_allowed": "a conduit (or same zone) allows it", "has_site": "a site policy is loaded",
    "any_dm": "an endpoint is a DM", "client_is_dm": "client is a DM", "server_is_dm": "server is a DM",
    "client_is_public": "client is a public address", "server_is_public": "server is a public address",
    "dm_ip": "address of the DM side", "other_ip": "address of the other side",
    "other_zone_kind": "zone kind of the non-DM side (or of the server)",
    "cleartext_admin": "cleartext administration evidence (telnet, ftp, http-basic, snmp-v1/v2c)",
    "cleartext_medical": "DICOM or HL7 without TLS", "remote_method": "remote-access method seen on it",
    "via_approved_gateway": "an endpoint is an approved maintenance gateway", "in_window": "inside the gateway window",
    "in_baseline": "address pair known in the baseline", "has_baseline": "a baseline is loaded",
    "packets": "frames both ways", "bytes": "bytes both ways", "client_vlan": "client home VLAN",
    "server_vlan": "server home VLAN",
}
ADMIN_APPS = {"telnet": "telnet", "ftp": "ftp"}


def _admin_evidence(ctx: AnalysisContext) -> dict[int, list[tuple[str, Any]]]:
    out: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for o in ctx.of_kind("http"):
        if o.basic_auth:  # type: ignore[attr-defined]
            c = conv_for(ctx, o)
            if c is not None:
                out[id(c)].append(("http-basic", o))
    for o in ctx.of_kind("snmp"):
        if o.version in ("v1", "v2c"):  # type: ignore[attr-defined]
            c = conv_for(ctx, o)
            if c is not None:
                out[id(c)].append((f"snmp-{o.version}", o))  # type: ignore[attr-defined]
    for o in ctx.of_kind("remote_access"):
        if o.method in ADMIN_APPS:  # type: ignore[attr-defined]
            c = conv_for(ctx, o)
            if c is not None:
                out[id(c)].append((o.method, o))  # type: ignore[attr-defined]
    return out


def _remote(ctx: AnalysisContext) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for o in ctx.of_kind("remote_access"):
        c = conv_for(ctx, o)
        if c is not None and (id(c) not in out or o.confidence > out[id(c)].confidence):  # type: ignore[attr-defined]
            out[id(c)] = o
    return out


def row(ctx: AnalysisContext, c: ConvView, admin: list[tuple[str, Any]], remote: Any) -> dict[str, Any]:
    site = ctx.site
    cz, sz = c.client_zone, c.server_zone
    cvlan, svlan = ctx.home_vlan.get(c.client_ip), ctx.home_vlan.get(c.server_ip)
    if site is not None and (cz is not None or sz is not None):
        crosses = zone_name(cz) != zone_name(sz)
    else:
        crosses = cvlan is not None and svlan is not None and cvlan != svlan
    allowed = site is None or site.allowed(zone_name(cz), zone_name(sz), c.transport, c.server_port, c.app)
    cdm = bool(c.client and c.client.is_dm)
    sdm = bool(c.server and c.server.is_dm)
    if cdm:
        dm_ip, other_ip, other_kind = c.client_ip, c.server_ip, zone_kind(sz)
    elif sdm:
        dm_ip, other_ip, other_kind = c.server_ip, c.client_ip, zone_kind(cz)
    else:
        dm_ip, other_ip, other_kind = None, None, zone_kind(sz)
    gw = site.gateway_for(c.client_ip) or site.gateway_for(c.server_ip) if site else None
    apps = sorted(c.apps)
    cleartext_medical = any(a in ("dicom", "hl7") for a in apps) and not c.tls
    names = sorted({name for name, _ in admin} | ({c.app} if c.app in ADMIN_APPS else set()))
    evidence = [Evidence(source=e.source, frame_no=e.frame_no, ts=e.ts, text=e.text) for e in c.evidence[:3]]
    evidence += [evidence_of(o, f"{name}: {o.src_ip} -> {o.dst_ip}:{o.dst_port}") for name, o in admin[:3]]
    devices = sorted({d.mac for d in (c.client, c.server) if d is not None and not d.is_router})
    baseline = ctx.baseline
    return {
        "client_ip": c.client_ip, "server_ip": c.server_ip,
        "client_mac": c.client.mac if c.client else None, "server_mac": c.server.mac if c.server else None,
        "transport": c.transport, "server_port": c.server_port, "app": c.app, "apps": apps, "tls": c.tls,
        "client_zone": zone_name(cz), "client_zone_kind": zone_kind(cz), "server_zone": zone_name(sz),
        "server_zone_kind": zone_kind(sz), "crosses_zone": crosses, "conduit_allowed": allowed,
        "has_site": site is not None, "any_dm": cdm or sdm, "client_is_dm": cdm, "server_is_dm": sdm,
        "client_is_public": c.client_is_public, "server_is_public": c.server_is_public,
        "dm_ip": dm_ip, "other_ip": other_ip, "other_zone_kind": other_kind, "cleartext_admin": names,
        "cleartext_medical": cleartext_medical, "remote_method": remote.method if remote is not None else None,
        "via_approved_gateway": gw is not None,
        "in_window": gw is not None and gw.in_window(c.first_ts),
        "in_baseline": baseline is not None and baseline.knows_pair(c.client_ip, c.server_ip),
        "has_baseline": baseline is not None, "packets": c.packets, "bytes": c.bytes,
        "client_vlan": cvlan, "server_vlan": svlan,
        "_key": c.key, "_devices": devices, "_ips": sorted({c.client_ip, c.server_ip}), "_evidence": evidence,
        "_zone": zone_name(c.client_zone if cdm or not sdm else c.server_zone),
        "_first_seen": c.first_ts, "_last_seen": c.last_ts,
    }


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    admin = _admin_evidence(ctx)
    remote = _remote(ctx)
    for c in ctx.conversations:
        yield row(ctx, c, admin.get(id(c), []), remote.get(id(c)))
