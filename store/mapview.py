"""The network map's data at hospital scale: groups, devices of a group page by page, conversations on demand.

Devices are grouped by the site policy's zone; a device with no zone by its VLAN; one with neither by its
IPv4 /24 (IPv6 /64) subnet.  Each device carries its worst *open* finding (open or acknowledged: someone
still has to act) and how many of its findings are risk-accepted, so the map can colour it by the first
and show the second as such.  A filter (free text over device, vendor, role and finding; or exact role,
vendor, rule, minimum severity) keeps the matching devices and the groups that hold some.  Conversations
are read from the stored conversation facts only when asked for: one device's, or one group's summed by
peer group.  The API (/api/v1/map/...) and the web UI (/map/data/...) both answer with these functions.
"""

from __future__ import annotations

import ipaddress
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER
from analyzer.site import is_public
from collector.factblob import fields
from store.models import DeviceRow, FactRow, FindingRow

GroupKind = Literal["zone", "vlan", "subnet", "external", "none"]
POLICY_RULES = frozenset({"cross-zone-flow", "dm-internet", "remote-access-unapproved"})
"""Rules about a flow between two ends (plus every cleartext-*): what colours a conversation."""
MAX_EDGES = 5000
_VLANS = re.compile(r'"vlans":\[([0-9, ]*)\]')


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MapGroup(_Out):
    """One cluster of the map."""

    key: str = Field(description="zone:<name>, vlan:<id>, subnet:<cidr>, external or none.")
    kind: GroupKind = Field(description="How its devices were grouped.")
    label: str = Field(description="Zone name, VLAN id or subnet.")
    devices: int = Field(description="Devices of the group that match the filter.")
    dm: int = Field(description="Of which medical devices.")
    worst: str | None = Field(description="Worst severity of an open finding on these devices (None: none).")
    open_findings: int = Field(description="Open or acknowledged findings on these devices.")
    accepted: int = Field(description="Risk-accepted findings on these devices.")


class MapNode(_Out):
    """One device of the map."""

    mac: str
    label: str = Field(description="Hostname, else first IP, else MAC.")
    ips: list[str]
    vendor: str | None
    role: str
    dm: bool
    wifi: bool
    group: str = Field(description="Key of its group.")
    worst: str | None = Field(description="Worst severity of its open findings (None: none).")
    open_findings: int
    accepted: int = Field(description="Its risk-accepted findings.")


class MapGroups(_Out):
    groups: list[MapGroup]
    devices: int = Field(description="Devices in the inventory.")
    matched: int = Field(description="Devices that match the filter.")


class MapNodes(_Out):
    group: str
    items: list[MapNode]
    total: int
    offset: int
    limit: int


class MapEdge(_Out):
    """A conversation (or, for a group, every conversation to one peer group summed)."""

    a: str = Field(description="Device MAC, group key or address of one end.")
    b: str = Field(description="The other end.")
    a_group: str
    b_group: str
    b_label: str = Field(default="", description="Hostname, address or group key of the other end.")
    services: list[str] = Field(description="app or transport/port, sorted.")
    conversations: int = Field(default=1, description="Conversations merged into this edge.")
    finding: str | None = Field(default=None, description="A policy finding on both ends (worst first).")
    finding_title: str = ""
    finding_status: str | None = None
    bad: int = Field(default=0, description="Merged conversations with an open policy finding.")


class MapEdges(_Out):
    edges: list[MapEdge]
    truncated: bool = False


@dataclass
class MapFilter:
    """Which devices the map shows: `q` searches device, vendor, role and finding; the rest are exact."""

    q: str | None = None
    role: str | None = None
    vendor: str | None = None
    rule: str | None = None
    severity: str | None = None

    def active(self) -> bool:
        return any((self.q, self.role, self.vendor, self.rule, self.severity))


@dataclass
class _Dev:
    mac: str
    label: str
    ips: list[str]
    vendor: str | None
    role: str
    dm: bool
    wifi: bool
    group: tuple[GroupKind, str, str]
    text: str
    worst: int = -1
    open: int = 0
    accepted: int = 0
    rules: set[str] = field(default_factory=set)


@dataclass
class _Index:
    devices: dict[str, _Dev]
    by_ip: dict[str, str]
    policy: list[dict[str, object]]
    policy_by_addr: dict[str, list[int]] = field(default_factory=dict)


def group_of(zone: str | None, vlans: Iterable[int], ips: Iterable[str]) -> tuple[GroupKind, str, str]:
    """(kind, key, label): the zone; else the first tagged VLAN; else the first address's subnet."""
    if zone:
        return "zone", f"zone:{zone}", zone
    tagged = [v for v in vlans if v]
    if tagged:
        return "vlan", f"vlan:{tagged[0]}", str(tagged[0])
    for ip in ips:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if is_public(ip):
            return "external", "external", ""
        net = ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 64}", strict=False)
        return "subnet", f"subnet:{net}", str(net)
    return "none", "none", ""


def _words(*values: object) -> str:
    return " ".join(str(v) for v in values if v).lower()


def _index(session: Session) -> _Index:
    devices: dict[str, _Dev] = {}
    by_ip: dict[str, str] = {}
    # the indexed columns, plus the VLANs and the router flag cut out of the stored JSON (no full decode)
    rows = session.execute(sa_select(col(DeviceRow.mac), col(DeviceRow.hostname), col(DeviceRow.ips),
                                     col(DeviceRow.zone), col(DeviceRow.role), col(DeviceRow.vendor),
                                     col(DeviceRow.is_dm), col(DeviceRow.connection),
                                     col(DeviceRow.data))).all()
    for mac, hostname, ip_text, zone, role, vendor, is_dm, connection, text in rows:
        ips = ip_text.split()
        found = _VLANS.search(text)
        vlans = [int(v) for v in found.group(1).split(",") if v.strip()] if found else []
        router = '"is_router":true' in text
        dev = _Dev(mac=mac, label=hostname or (ips[0] if ips else mac), ips=ips, vendor=vendor, role=role,
                   dm=bool(is_dm), wifi=connection == "wifi", group=group_of(zone, vlans, ips),
                   text=_words(mac, hostname, ip_text, vendor, role))
        devices[mac] = dev
        for ip in ips:
            if not (router and is_public(ip)):
                by_ip.setdefault(ip, mac)
    policy: list[dict[str, object]] = []
    found_rows = session.execute(sa_select(col(FindingRow.id), col(FindingRow.rule), col(FindingRow.status),
                                           col(FindingRow.severity_rank), col(FindingRow.data))
                        .where(col(FindingRow.active).is_(True))
                        .where(col(FindingRow.status).not_in(sorted(CLOSED_STATUSES)))).all()
    for fid, rule, status, rank, text in found_rows:
        data = json.loads(text)
        words = f" {rule} {data.get('title', '')} {data.get('title_fr', '')}".lower()
        for mac in data.get("devices") or []:
            if (hit := devices.get(mac)) is None:
                continue
            hit.rules.add(rule)
            hit.text += words
            if status == "risk-accepted":
                hit.accepted += 1
            else:
                hit.open += 1
                hit.worst = max(hit.worst, rank)
        if rule in POLICY_RULES or rule.startswith("cleartext-"):
            policy.append({"id": fid, "rank": rank, "status": status, "title": data.get("title", ""),
                           "title_fr": data.get("title_fr", ""),
                           "ends": set(data.get("ips") or []) | set(data.get("devices") or [])})
    policy.sort(key=lambda p: (-int(str(p["rank"])), str(p["id"])))
    by_addr: dict[str, list[int]] = {}
    for i, p in enumerate(policy):
        for addr in p["ends"]:  # type: ignore[attr-defined]
            by_addr.setdefault(addr, []).append(i)
    return _Index(devices, by_ip, policy, by_addr)


_SEVERITIES = sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__)


def _severity(rank: int) -> str | None:
    return _SEVERITIES[rank] if rank >= 0 else None


def _matches(dev: _Dev, f: MapFilter) -> bool:
    if f.role and dev.role != f.role:
        return False
    if f.vendor and (dev.vendor or "").lower() != f.vendor.lower():
        return False
    if f.rule and f.rule not in dev.rules:
        return False
    if f.severity and dev.worst < SEVERITY_ORDER.get(f.severity, 99):
        return False
    if f.q:
        words = f.q.lower().split()
        # a MAC typed without separators still finds the device
        compact = dev.mac.replace(":", "")
        return all(w in dev.text or w.replace(":", "").replace("-", "") in compact for w in words)
    return True


def _kind_order(kind: str) -> int:
    return ("zone", "vlan", "subnet", "external", "none").index(kind)


def map_groups(session: Session, flt: MapFilter | None = None) -> MapGroups:
    """Every group holding a device that matches `flt` (zones first, then VLANs, subnets), with counts."""
    flt = flt or MapFilter()
    index = _index(session)
    acc: dict[str, list[int]] = {}  # key -> [devices, dm, open, accepted, worst rank]
    kinds: dict[str, tuple[GroupKind, str]] = {}
    matched = 0
    for dev in index.devices.values():
        if not _matches(dev, flt):
            continue
        matched += 1
        kind, key, label = dev.group
        if key not in acc:
            acc[key], kinds[key] = [0, 0, 0, 0, -1], (kind, label)
        a = acc[key]
        a[0] += 1
        a[1] += dev.dm
        a[2] += dev.open
        a[3] += dev.accepted
        a[4] = max(a[4], dev.worst)
    groups = {key: MapGroup(key=key, kind=kinds[key][0], label=kinds[key][1], devices=a[0], dm=a[1],
                            worst=_severity(a[4]), open_findings=a[2], accepted=a[3])
              for key, a in acc.items()}
    ordered = sorted(groups.values(), key=lambda g: (_kind_order(g.kind), _sort_label(g)))
    return MapGroups(groups=ordered, devices=len(index.devices), matched=matched)


def _sort_label(g: MapGroup) -> tuple[int, str]:
    if g.kind == "vlan":
        return int(g.label), ""
    if g.kind == "subnet":
        net = ipaddress.ip_network(g.label)
        return net.version, f"{int(net.network_address):040d}"
    return 0, g.label.lower()


def map_nodes(session: Session, group: str, flt: MapFilter | None = None, *, offset: int = 0,
              limit: int = 500) -> MapNodes:
    """A page of the matching devices of one group (worst open finding first, then label)."""
    flt = flt or MapFilter()
    index = _index(session)
    members = [d for d in index.devices.values() if d.group[1] == group and _matches(d, flt)]
    members.sort(key=lambda d: (-d.worst, d.label.lower(), d.mac))
    page = members[offset:offset + limit]
    return MapNodes(group=group, total=len(members), offset=offset, limit=limit,
                    items=[MapNode(mac=d.mac, label=d.label, ips=d.ips[:8], vendor=d.vendor, role=d.role,
                                   dm=d.dm, wifi=d.wifi, group=d.group[1], worst=_severity(d.worst),
                                   open_findings=d.open, accepted=d.accepted) for d in page])


def _conversations(session: Session) -> Iterable[dict[str, object]]:
    query = select(FactRow.blob).where(FactRow.kind == "conversation")
    for blob in session.exec(query):
        try:
            obs = fields(blob)
        except (ValueError, zlib.error):
            continue
        if isinstance(obs, dict) and obs.get("client_ip") and obs.get("server_ip"):
            yield obs


def _not_a_host(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return addr.is_unspecified or addr.is_multicast or (addr.version == 4 and ip.endswith(".255"))


def map_edges(session: Session, *, mac: str | None = None, group: str | None = None,
              lang: str = "en") -> MapEdges:
    """The conversations of one device (peer devices by MAC, other peers by address), or of one group summed
    by peer group.  Each edge names the worst policy finding (open before risk-accepted) on both its ends."""
    index = _index(session)
    if mac is not None:
        mac = mac.lower()
    edges: dict[tuple[str, str], MapEdge] = {}
    ends_of: dict[tuple[str, str], tuple[set[str], set[str]]] = {}

    def end(ip: str) -> tuple[str, str, set[str]]:
        owner = index.by_ip.get(ip)
        if owner is not None:
            dev = index.devices[owner]
            return owner, dev.group[1], {owner, *dev.ips}
        return ip, group_of(None, (), [ip])[1], {ip}

    for obs in _conversations(session):
        client, server = str(obs["client_ip"]), str(obs["server_ip"])
        if _not_a_host(client) or _not_a_host(server):
            continue
        (ca, cg, cset), (sa, sg, sset) = end(client), end(server)
        if ca == sa:
            continue
        if mac is not None:
            if mac not in (ca, sa):
                continue
            (a, ag, aset), (b, bg, bset) = ((ca, cg, cset), (sa, sg, sset)) if ca == mac else (
                (sa, sg, sset), (ca, cg, cset))
        elif group is not None:
            if group not in (cg, sg):
                continue
            (a, ag, aset), (b, bg, bset) = ((cg, cg, cset), (sg, sg, sset)) if cg == group else (
                (sg, sg, sset), (cg, cg, cset))
        else:
            continue
        port = obs.get("server_port")
        service = str(obs.get("app") or (f"{obs.get('transport') or ''}/{port}" if port is not None
                                         else obs.get("transport") or "?"))
        edge = edges.get((a, b))
        if edge is None:
            if len(edges) >= MAX_EDGES:
                return MapEdges(edges=list(edges.values()), truncated=True)
            peer = index.devices.get(b)
            edge = edges[(a, b)] = MapEdge(a=a, b=b, a_group=ag, b_group=bg, services=[], conversations=0,
                                           b_label=peer.label if peer is not None else b)
            ends_of[(a, b)] = (set(), set())
        edge.conversations += 1
        if service not in edge.services:
            edge.services.append(service)
        found = _policy_finding(index, aset, bset)
        if found is not None:
            if found["status"] != "risk-accepted":
                edge.bad += 1
            if edge.finding is None or (edge.finding_status == "risk-accepted"
                                        and found["status"] != "risk-accepted"):
                edge.finding, edge.finding_status = str(found["id"]), str(found["status"])
                title = found["title_fr"] if lang == "fr" and found["title_fr"] else found["title"]
                edge.finding_title = str(title)
    out = sorted(edges.values(), key=lambda e: (e.a, e.b))
    for e in out:
        e.services.sort()
    return MapEdges(edges=out)


def _policy_finding(index: _Index, a: set[str], b: set[str]) -> dict[str, object] | None:
    """The worst policy finding involving both ends; an open one before a risk-accepted one."""
    accepted = None
    candidates = sorted({i for addr in a for i in index.policy_by_addr.get(addr, ())})
    for p in (index.policy[i] for i in candidates):
        ends = p["ends"]
        assert isinstance(ends, set)
        if ends & a and ends & b:
            if p["status"] != "risk-accepted":
                return p
            accepted = accepted or p
    return accepted


def map_choices(session: Session) -> dict[str, list[str]]:
    """The values the map's filter offers: roles, vendors, and rules of active findings (distinct, sorted)."""
    roles = session.exec(select(DeviceRow.role).distinct()).all()
    vendors = session.exec(select(DeviceRow.vendor).distinct()).all()
    rules = session.exec(select(FindingRow.rule).where(col(FindingRow.active).is_(True)).distinct()).all()
    return {"roles": sorted(r for r in roles if r), "vendors": sorted(v for v in vendors if v),
            "rules": sorted(r for r in rules if r)}
