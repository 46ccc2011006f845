"""Subject `device`: one row per inventory device (key: MAC)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.models import Device, Evidence

SUBJECT = "device"
FIELDS: dict[str, str] = {
    "mac": "MAC address", "ips": "own IP addresses", "vlans": "VLAN ids (0 = untagged)",
    "vlan_count": "number of tagged VLANs (untagged/0 is not counted: native VLAN or a tunnel)", "vendor": "manufacturer", "hostname": "best name",
    "role": "classified role", "role_confidence": "0..1", "is_dm": "medical device or DM supervision",
    "is_router": "routed interface", "random_mac": "locally administered MAC", "radio_module": "radio OUI",
    "connection": "wired, wifi or unknown", "connection_evidence": "why", "wifi_strong": "deterministic Wi-Fi evidence",
    "zone": "zone name", "zone_kind": "zone kind", "os": "OS text", "os_eol": "OS past end of support",
    "smb1": "offered or negotiated SMBv1", "in_baseline": "known in the baseline", "has_baseline": "a baseline is loaded",
    "shares_segment_with_office": "shares its VLAN/subnet with non-DM endpoints",
    "segment_neighbours": "non-DM endpoints (outside a dm zone) in its VLAN/subnet", "switch_port": "switch and port",
    "service": "responsible service", "sheet_id": "matched identification sheet", "has_site": "a site policy is loaded",
}
INFRA_ROLES = ("router", "switch", "access-point")


def _subnet(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_network(f"{ip}/24", strict=False)) if ipaddress.ip_address(ip).version == 4 else None
    except ValueError:
        return None


def _segments(d: Device) -> set[str]:
    segs = {f"vlan:{v}" for v in d.vlans if v}
    if not segs:
        segs = {f"net:{s}" for s in (_subnet(ip) for ip in d.ips) if s}
    return segs


def smb1_macs(ctx: AnalysisContext) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for o in ctx.of_kind("smb"):
        if o.smb1:  # type: ignore[attr-defined]
            d = ctx.device_by_ip(o.src_ip)
            if d is not None:
                out.setdefault(d.mac, []).append(o)
    return out


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    by_segment: dict[str, list[Device]] = {}
    for d in ctx.devices.values():
        if not d.is_router and d.role not in INFRA_ROLES:
            for s in _segments(d):
                by_segment.setdefault(s, []).append(d)
    smb1 = smb1_macs(ctx)
    baseline = ctx.baseline
    for mac, d in sorted(ctx.devices.items()):
        neighbours = sorted({n.mac for s in _segments(d) for n in by_segment.get(s, [])
                             if n.mac != mac and not n.is_dm and n.zone_kind != "dm"})
        in_baseline = baseline is not None and baseline.knows_device(d)
        evidence = [Evidence(text=f"device {mac} ({d.hostname or '-'}), {d.vendor or 'unknown vendor'}, role {d.role}")]
        evidence += [Evidence(source=o.source or None, frame_no=o.frame_no or None, ts=o.ts,
                              text=f"SMB negotiate {o.src_ip} -> {o.dst_ip} dialects {', '.join(o.dialects_offered) or o.dialect_chosen}")  # type: ignore[attr-defined]
                     for o in smb1.get(mac, [])[:3]]
        yield {
            "mac": mac, "ips": d.ips, "vlans": d.vlans, "vlan_count": len([v for v in d.vlans if v]), "vendor": d.vendor,
            "hostname": d.hostname, "role": d.role, "role_confidence": d.role_confidence, "is_dm": d.is_dm,
            "is_router": d.is_router, "random_mac": d.random_mac, "radio_module": d.radio_module,
            "connection": d.connection, "connection_evidence": d.connection_evidence,
            "wifi_strong": d.connection == "wifi", "zone": d.zone, "zone_kind": d.zone_kind, "os": d.os,
            "os_eol": d.os_eol, "smb1": mac in smb1, "in_baseline": in_baseline, "has_baseline": baseline is not None,
            "shares_segment_with_office": bool(neighbours) and d.is_dm, "segment_neighbours": neighbours,
            "switch_port": d.switch_port, "service": d.service, "sheet_id": d.sheet_id,
            "has_site": ctx.site is not None,
            "_key": mac, "_devices": [mac], "_ips": d.ips, "_evidence": evidence, "_zone": d.zone,
            "_first_seen": d.first_seen, "_last_seen": d.last_seen,
        }
