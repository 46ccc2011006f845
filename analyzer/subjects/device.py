"""Subject `device`: one row per inventory device (key: MAC)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

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
    "shares_segment_with_office": "shares its VLAN/subnet with non-DM endpoints",
    "segment_neighbours": "non-DM endpoints (outside a dm zone) in its VLAN/subnet",
    "switch_port": "switch and port",
    "service": "responsible service", "sheet_id": "matched identification sheet",
    "has_site": "a site policy is loaded",
}
INFRA_ROLES = ("router", "switch", "access-point")


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
    """MAC -> evidence of its first three SMBv1 negotiations."""
    tops: dict[str, list[tuple[tuple[Any, ...], Top]]] = {}
    for (src_ip, dst_ip, offered, chosen), top in digest_of(ctx).smb1.items():
        d = ctx.device_by_ip(src_ip)
        if d is not None:
            tops.setdefault(d.mac, []).append(((src_ip, dst_ip, offered, chosen), top))
    out: dict[str, list[Evidence]] = {}
    for mac, groups in tops.items():
        items = sorted((item, g) for g, top in groups for item in top.items)[:3]
        out[mac] = [Evidence(source=source or None, frame_no=frame_no or None, ts=ts,
                             text=f"SMB negotiate {src_ip} -> {dst_ip} dialects "
                                  f"{', '.join(offered) or chosen}")
                    for (_, (source, frame_no, ts)), (src_ip, dst_ip, offered, chosen) in items]
    return out


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    segments = {mac: frozenset(_segments(d)) for mac, d in ctx.devices.items()}
    office: dict[str, set[str]] = {}  # segment -> MACs of its non-DM endpoints outside a dm zone
    for mac, d in ctx.devices.items():
        if not d.is_router and d.role not in INFRA_ROLES and not d.is_dm and d.zone_kind != "dm":
            for s in segments[mac]:
                office.setdefault(s, set()).add(mac)
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
        in_baseline = baseline is not None and baseline.knows_device(d)
        evidence = [Evidence(text=f"device {mac} ({d.hostname or '-'}), {d.vendor or 'unknown vendor'}, "
                                  f"role {d.role}")]
        evidence += smb1.get(mac, [])
        evidence += [Evidence(text=f"OS hint {d.os} -> {basis}") for basis in d.os_eol_evidence if d.os_eol]
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
            "switch_port": d.switch_port, "service": d.service, "sheet_id": d.sheet_id,
            "has_site": ctx.site is not None,
            "_key": mac, "_devices": [mac], "_ips": d.ips, "_evidence": evidence, "_zone": d.zone,
            "_first_seen": d.first_seen, "_last_seen": d.last_seen,
        }
