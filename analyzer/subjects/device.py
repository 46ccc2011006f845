"""Subject `device`: one row per inventory device (key: MAC)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from analyzer.classify import office_evidence
from analyzer.context import AnalysisContext
from analyzer.digest import Top, digest_of
from analyzer.models import Device, Evidence

SUBJECT = "device"
FIELDS: dict[str, str] = {
    "mac": "MAC address", "ips": "own IP addresses", "vlans": "VLAN ids (0 = untagged)",
    "vlan_count": "number of tagged VLANs (untagged/0 is not counted: native VLAN or a tunnel)",
    "vendor": "manufacturer", "hostname": "best name",
    "role": "classified role", "role_confidence": "0..1", "is_dm": "medical device or DM supervision",
    "is_router": "routed interface", "random_mac": "locally administered MAC", "radio_module": "radio OUI",
    "connection": "wired, wifi or unknown", "connection_evidence": "why",
    "wifi_strong": "deterministic Wi-Fi evidence",
    "zone": "zone name", "zone_kind": "zone kind", "os": "OS text", "os_eol": "OS past end of support",
    "smb1": "offered or negotiated SMBv1", "in_baseline": "known in the baseline",
    "has_baseline": "a baseline is loaded",
    "shares_segment_with_office": "a DM sharing a VLAN/subnet that is not a DM zone with non-DM endpoints",
    "segment_neighbours": "the devices it should be separated from: non-DM endpoints (for a DM), or the DMs "
                          "of the DM segment it sits in (for an office/IT endpoint)",
    "office_endpoint": "office/IT endpoint (office workstation or printer) from its own evidence",
    "in_dm_segment": "one of its VLANs/subnets belongs to a dm zone of the site policy",
    "office_evidence": "what made it an office/IT endpoint",
    "switch_port": "switch and port",
    "service": "responsible service", "sheet_id": "matched identification sheet",
    "has_site": "a site policy is loaded",
}
INFRA_ROLES = ("router", "switch", "access-point")
OFFICE_ROLES = ("office-workstation", "printer")


@lru_cache(maxsize=1 << 16)
def _subnet(ip: str) -> str | None:
    try:
        return (str(ipaddress.ip_network(f"{ip}/24", strict=False)) if ipaddress.ip_address(ip).version == 4
                else None)
    except ValueError:
        return None


def _segments(d: Device) -> set[str]:
    segs = {f"vlan:{v}" for v in d.vlans if v}
    if not segs:
        segs = {f"net:{s}" for s in (_subnet(ip) for ip in d.ips) if s}
    return segs


def smb1_macs(ctx: AnalysisContext) -> dict[str, list[Evidence]]:
    """MAC -> evidence of its first three SMBv1 negotiations or messages.

    A negotiate names its dialects; an SMB1 message without one (NetBIOS datagram service,
    NetBEUI, a session seen after its negotiate) is named as such.  NetBEUI senders have no IP:
    the digest keys them by MAC.
    """
    tops: dict[str, list[tuple[tuple[Any, ...], Top]]] = {}
    for (src_ip, dst_ip, offered, chosen), top in digest_of(ctx).smb1.items():
        d = ctx.device_by_ip(src_ip) or ctx.device_by_mac(src_ip)
        if d is not None:
            tops.setdefault(d.mac, []).append(((src_ip, dst_ip, offered, chosen), top))
    out: dict[str, list[Evidence]] = {}
    for mac, groups in tops.items():
        items = sorted((item, g) for g, top in groups for item in top.items)[:3]
        out[mac] = [Evidence(source=source or None, frame_no=frame_no or None, ts=ts,
                             text=(f"SMB negotiate {src_ip} -> {dst_ip} dialects "
                                   f"{', '.join(offered) or chosen}") if offered or chosen
                             else f"SMB1 message {src_ip} -> {dst_ip}")
                    for (_, (source, frame_no, ts)), (src_ip, dst_ip, offered, chosen) in items]
    return out


def _segment_kind(ctx: AnalysisContext, segment: str) -> str | None:
    """Zone kind of a segment ("vlan:120" or "net:10.10.120.0/24") in the site policy."""
    if ctx.site is None:
        return None
    what, value = segment.split(":", 1)
    zone = (ctx.site.zone_of(None, int(value)) if what == "vlan"
            else ctx.site.zone_of(value.split("/", 1)[0]))
    return zone.kind if zone is not None else None


def _segment_ref(ctx: AnalysisContext, segment: str) -> str | None:
    if ctx.site is None:
        return None
    what, value = segment.split(":", 1)
    zone = (ctx.site.zone_of(None, int(value)) if what == "vlan"
            else ctx.site.zone_of(value.split("/", 1)[0]))
    ref = ctx.site.zone_ref(zone.name) if zone is not None else None
    return f"{ref}: {segment.replace(':', ' ', 1)}" if ref else None


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    segments = {mac: frozenset(_segments(d)) for mac, d in ctx.devices.items()}
    kinds = {s: _segment_kind(ctx, s) for segs in segments.values() for s in segs}
    office: dict[str, set[str]] = {}  # segment (not a DM zone) -> its non-DM endpoints outside a dm zone
    dms: dict[str, set[str]] = {}  # DM segment -> MACs of its DMs
    for mac, d in ctx.devices.items():
        if d.is_router or d.role in INFRA_ROLES:
            continue
        for s in segments[mac]:
            if d.is_dm and kinds[s] == "dm":
                dms.setdefault(s, set()).add(mac)
            elif not d.is_dm and kinds[s] != "dm" and (d.zone_kind != "dm" or d.role in OFFICE_ROLES):
                office.setdefault(s, set()).add(mac)
    endpoints = getattr(ctx.tables, "endpoints", None)
    around: dict[frozenset[str], tuple[set[str], list[str]]] = {}
    smb1 = smb1_macs(ctx)
    baseline = ctx.baseline
    for mac, d in sorted(ctx.devices.items()):
        segs = segments[mac]
        if segs not in around:
            union = set().union(*(office.get(s, ()) for s in segs))
            around[segs] = (union, sorted(union))
        union, ordered = around[segs]
        neighbours = [m for m in ordered if m != mac] if mac in union else list(ordered)
        office_endpoint = d.role in OFFICE_ROLES and not d.is_dm and not d.is_router
        dm_segments = sorted(s for s in segs if kinds[s] == "dm")
        office_why: list[str] = []
        policy: list[str] = []
        if office_endpoint and dm_segments:
            office_why = office_evidence(d, endpoints, ctx.tables.fingerprints) or list(d.role_evidence)
            neighbours = sorted({m for s in dm_segments for m in dms.get(s, ())} - {mac})
            policy = [r for r in (_segment_ref(ctx, s) for s in dm_segments) if r]
        elif d.is_dm and neighbours:
            policy = [r for r in (_segment_ref(ctx, s) for s in sorted(segs)) if r]
        in_baseline = baseline is not None and baseline.knows_device(d)
        evidence = [Evidence(text=f"device {mac} ({d.hostname or '-'}), {d.vendor or 'unknown vendor'}, "
                                  f"role {d.role}")]
        evidence += smb1.get(mac, [])
        evidence += [Evidence(text=f"OS {d.os} (confidence {d.os_confidence:g}): {basis}")
                     for basis in d.os_eol_evidence if d.os_eol]
        evidence += [Evidence(text=f"{d.role}: {why}") for why in office_why]
        yield {
            "mac": mac, "ips": d.ips, "vlans": d.vlans, "vlan_count": len([v for v in d.vlans if v]),
            "vendor": d.vendor,
            "hostname": d.hostname, "role": d.role, "role_confidence": d.role_confidence, "is_dm": d.is_dm,
            "is_router": d.is_router, "random_mac": d.random_mac, "radio_module": d.radio_module,
            "connection": d.connection, "connection_evidence": d.connection_evidence,
            "wifi_strong": d.connection == "wifi", "zone": d.zone, "zone_kind": d.zone_kind, "os": d.os,
            "os_eol": d.os_eol, "smb1": mac in smb1, "in_baseline": in_baseline,
            "has_baseline": baseline is not None,
            "shares_segment_with_office": bool(neighbours) and d.is_dm, "segment_neighbours": neighbours,
            "office_endpoint": office_endpoint, "in_dm_segment": bool(dm_segments),
            "office_evidence": office_why, "_policy": policy,
            "switch_port": d.switch_port, "service": d.service, "sheet_id": d.sheet_id,
            "has_site": ctx.site is not None,
            "_key": mac, "_devices": [mac], "_ips": d.ips, "_evidence": evidence, "_zone": d.zone,
            "_first_seen": d.first_seen, "_last_seen": d.last_seen,
        }
