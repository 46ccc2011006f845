"""Subject `conversation`: one row per aggregated conversation (key: client->server:port/transport).

Computed fields carry the mechanism (zones, conduit check, DM involvement, cleartext evidence from
the application observations of the same conversation); rules carry the policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext, ConvView
from analyzer.digest import digest_of
from analyzer.models import Evidence
from analyzer.subjects._common import conv_for, zone_kind, zone_name

SUBJECT = "conversation"
FIELDS: dict[str, str] = {
    "client_ip": "client address", "server_ip": "server address", "client_mac": "client device MAC",
    "server_mac": "server device MAC", "transport": "tcp, udp, ...", "server_port": "server port",
    "app": "main application protocol", "apps": "every application seen",
    "tls": "encrypted (TLS, DICOM-TLS, SSH)",
    "client_zone": "zone name", "client_zone_kind": "zone kind", "server_zone": "zone name",
    "server_zone_kind": "zone kind",
    "crosses_zone": "endpoints in different zones (or VLANs without a policy)",
    "conduit_allowed": "a conduit (or same zone) allows it", "has_site": "a site policy is loaded",
    "any_dm": "an endpoint is a DM", "client_is_dm": "client is a DM", "server_is_dm": "server is a DM",
    "client_is_public": "client is a public address", "server_is_public": "server is a public address",
    "dm_ip": "address of the DM side", "other_ip": "address of the other side",
    "other_zone_kind": "zone kind of the non-DM side (or of the server)",
    "cleartext_admin": "cleartext administration evidence (telnet, ftp, http-basic, snmp-v1/v2c)",
    "cleartext_medical": "DICOM or HL7 without TLS", "remote_method": "remote-access method seen on it",
    "via_approved_gateway": "an endpoint is an approved maintenance gateway",
    "in_window": "inside the gateway window",
    "in_baseline": "address pair known in the baseline", "has_baseline": "a baseline is loaded",
    "packets": "frames both ways", "bytes": "bytes both ways", "client_vlan": "client home VLAN",
    "server_vlan": "server home VLAN",
    "dhcp_relay": "DHCP between a relay agent and a server (giaddr, UDP 67 both sides): DHCP service, "
                  "not a flow of the relaying router",
}
ADMIN_APPS = {"telnet": "telnet", "ftp": "ftp"}
NO_ADMIN: tuple[set[str], list[Evidence]] = (set(), [])


def _admin_evidence(ctx: AnalysisContext) -> dict[int, tuple[set[str], list[Evidence]]]:
    """Per conversation: cleartext administration names and the evidence of the first three records
    (HTTP basic auth records first, then SNMP v1/v2c, then telnet/FTP, each in analysis order)."""
    found: dict[int, tuple[set[str], list[tuple[Any, ...]]]] = {}
    for (src_ip, dst_ip, dst_port, src_port, name, rank), top in digest_of(ctx).admin.items():
        c = conv_for(ctx, _Addr(src_ip, dst_ip, src_port, dst_port))
        if c is None:
            continue
        names, items = found.setdefault(id(c), (set(), []))
        names.add(name)
        items.extend(((rank, key), name, src_ip, dst_ip, dst_port, ptr) for key, ptr in top.items)
    out: dict[int, tuple[set[str], list[Evidence]]] = {}
    for cid, (names, items) in found.items():
        items.sort(key=lambda item: item[0])
        out[cid] = (names, [Evidence(source=source or None, frame_no=frame_no or None, ts=ts,
                                     text=f"{name}: {src_ip} -> {dst_ip}:{dst_port}")
                            for _, name, src_ip, dst_ip, dst_port, (source, frame_no, ts) in items[:3]])
    return out


class _Addr:
    __slots__ = ("dst_ip", "dst_port", "src_ip", "src_port")

    def __init__(self, src_ip: Any, dst_ip: Any, src_port: Any, dst_port: Any) -> None:
        self.src_ip, self.dst_ip, self.src_port, self.dst_port = src_ip, dst_ip, src_port, dst_port


def _remote(ctx: AnalysisContext) -> dict[int, str]:
    """Per conversation: the method of its first remote-access record with the highest confidence."""
    best: dict[int, tuple[float, Any, str]] = {}
    for (src_ip, dst_ip, dst_port, src_port), (confidence, key, method) in digest_of(ctx).remote_best.items():
        c = conv_for(ctx, _Addr(src_ip, dst_ip, src_port, dst_port))
        if c is None:
            continue
        cur = best.get(id(c))
        if cur is None or confidence > cur[0] or (confidence == cur[0] and key < cur[1]):
            best[id(c)] = (confidence, key, method)
    return {cid: method for cid, (_, _, method) in best.items()}


def row(ctx: AnalysisContext, c: ConvView, admin: tuple[set[str], list[Evidence]],
        remote: str | None, relays: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
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
    names = sorted(admin[0] | ({c.app} if c.app in ADMIN_APPS else set()))
    evidence = c.evidence[:3] + admin[1]  # Evidence records are immutable in practice: shared, not copied
    devices = sorted({d.mac for d in (c.client, c.server) if d is not None and not d.is_router})
    baseline = ctx.baseline
    relay = c.transport == "udp" and c.server_port == 67 and (
        (c.client_ip, c.server_ip) in relays or (c.server_ip, c.client_ip) in relays)
    policy: list[str] = []
    if site is not None and crosses:
        policy = [r for r in (site.zone_ref(zone_name(cz)), site.zone_ref(zone_name(sz))) if r]
        policy.append(site.conduit_ref(zone_name(cz), zone_name(sz), c.transport, c.server_port, c.app))
    if relay:
        evidence = [*evidence, Evidence(text=f"relayed DHCP: {c.client_ip} and {c.server_ip} exchange BOOTP "
                                             "with giaddr set, UDP 67 on both sides")]
    return {
        "client_ip": c.client_ip, "server_ip": c.server_ip,
        "client_mac": c.client.mac if c.client else None, "server_mac": c.server.mac if c.server else None,
        "transport": c.transport, "server_port": c.server_port, "app": c.app, "apps": apps, "tls": c.tls,
        "client_zone": zone_name(cz), "client_zone_kind": zone_kind(cz), "server_zone": zone_name(sz),
        "server_zone_kind": zone_kind(sz), "crosses_zone": crosses, "conduit_allowed": allowed,
        "has_site": site is not None, "any_dm": cdm or sdm, "client_is_dm": cdm, "server_is_dm": sdm,
        "client_is_public": c.client_is_public, "server_is_public": c.server_is_public,
        "dm_ip": dm_ip, "other_ip": other_ip, "other_zone_kind": other_kind, "cleartext_admin": names,
        "cleartext_medical": cleartext_medical, "remote_method": remote,
        "via_approved_gateway": gw is not None,
        "in_window": gw is not None and gw.in_window(c.first_ts),
        "in_baseline": baseline is not None and baseline.knows_pair(c.client_ip, c.server_ip),
        "has_baseline": baseline is not None, "packets": c.packets, "bytes": c.bytes,
        "client_vlan": cvlan, "server_vlan": svlan, "dhcp_relay": relay, "_policy": policy,
        "_key": c.key, "_devices": devices, "_ips": sorted({c.client_ip, c.server_ip}), "_evidence": evidence,
        "_zone": zone_name(c.client_zone if cdm or not sdm else c.server_zone),
        "_first_seen": c.first_ts, "_last_seen": c.last_ts,
    }


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    admin = _admin_evidence(ctx)
    remote = _remote(ctx)
    relays = frozenset(digest_of(ctx).dhcp_relays)
    for c in ctx.conversations:
        yield row(ctx, c, admin.get(id(c), NO_ADMIN), remote.get(id(c)), relays)
