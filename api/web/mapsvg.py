"""Server-side SVG network map: zones as groups, devices as nodes, conversations as edges.

Layout is deterministic (same inventory -> same picture): zones are sorted by
name and packed left to right in rows; the devices of a zone sit on a grid in
MAC order.  Addresses that belong to no device of the inventory get a node
of their own: public ones in an "external" group, private ones with the unzoned;
broadcast, multicast and unspecified addresses are not peers and are left out.  An edge is red and links to
its
finding when a policy finding (cross-zone-flow, dm-internet,
remote-access-unapproved, cleartext-*) involves both of its ends.  Every node is
an <a> to the device page.  All text is escaped here, so the result is safe to
insert as markup (SVG 1.1, section 17 for links).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from analyzer.models import Device, Finding
from analyzer.site import is_public

POLICY_RULES = frozenset({"cross-zone-flow", "dm-internet", "remote-access-unapproved"})
POLICY_PREFIXES = ("cleartext-",)
EXTERNAL = "external"
UNZONED = "-"
CELL_W, CELL_H = 110, 78
PAD, HEADER = 16, 30
GAP = 70  # room between zone boxes for the edges to curve through
MAX_COLS = 6
LABEL_MAX = 16


@dataclass(frozen=True)
class Edge:
    """One conversation (as the map needs it): the two ends and what was spoken."""

    client_ip: str
    server_ip: str
    server_port: int | None = None
    transport: str | None = None
    app: str | None = None
    client_mac: str | None = None
    server_mac: str | None = None


@dataclass
class Node:
    key: str
    label: str
    href: str
    zone: str
    x: float = 0.0
    y: float = 0.0
    dm: bool = False
    wifi: bool = False
    external: bool = False
    title: str = ""
    addrs: set[str] = field(default_factory=set)


@dataclass
class MapEdge:
    a: str
    b: str
    services: set[str] = field(default_factory=set)
    finding_id: str | None = None
    finding_title: str = ""
    ends: str = ""


def is_policy_finding(finding: Finding) -> bool:
    return finding.rule in POLICY_RULES or finding.rule.startswith(POLICY_PREFIXES)


# Documentation ranges count as public, as in the site policy (contracts: tests use them as Internet peers).


def _not_a_host(ip: str) -> bool:
    """Unspecified, multicast or (IPv4 heuristic: .255) broadcast addresses are not drawn as peers."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return addr.is_unspecified or addr.is_multicast or (addr.version == 4 and ip.endswith(".255"))


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _nodes(devices: Sequence[Device], edges: Sequence[Edge]) -> tuple[dict[str, Node], dict[str, str]]:
    """Nodes by key and the address -> node key index (routers only own their private addresses)."""
    nodes: dict[str, Node] = {}
    by_addr: dict[str, str] = {}
    # Routers last, so an address a real device uses is never drawn behind the router's MAC.
    for dev in sorted(devices, key=lambda d: (d.is_router, d.mac)):
        label = dev.hostname or (dev.ips[0] if dev.ips else dev.mac)
        title = " · ".join(x for x in (dev.hostname, ", ".join(dev.ips[:4]), dev.mac, dev.vendor,
                                       dev.role) if x)
        node = Node(
            key=dev.mac, label=_short(label), href=f"/devices/{quote(dev.mac)}", zone=dev.zone or UNZONED,
            dm=dev.is_dm, wifi=dev.connection == "wifi", title=title, addrs={dev.mac},
        )
        nodes[dev.mac] = node
        by_addr.setdefault(dev.mac, dev.mac)
        for ip in dev.ips:
            if dev.is_router and is_public(ip):
                continue
            by_addr.setdefault(ip, dev.mac)
            node.addrs.add(ip)
    for edge in edges:
        ends = (edge.client_ip, edge.server_ip)
        if any(_not_a_host(ip) for ip in ends):
            continue
        for ip in ends:
            if ip not in by_addr:
                public = is_public(ip)
                nodes[ip] = Node(key=ip, label=_short(ip), href=f"/devices?q={quote(ip)}",
                                 zone=EXTERNAL if public else UNZONED,
                                 external=public, title=ip, addrs={ip})
                by_addr[ip] = ip
    return nodes, by_addr


def _layout(nodes: dict[str, Node]) -> tuple[list[tuple[str, float, float, float, float]], float, float]:
    """Zone boxes on a grid of about sqrt(zones) columns, nodes on a grid in each; returns boxes, width,
    height."""
    zones: dict[str, list[Node]] = {}
    for node in nodes.values():
        zones.setdefault(node.zone, []).append(node)
    order = sorted(zones, key=lambda z: (z == EXTERNAL, z == UNZONED, z))
    per_row = max(1, math.ceil(math.sqrt(len(order))))
    boxes: list[tuple[str, float, float, float, float]] = []
    x = y = float(PAD)
    row_h = width = 0.0
    for index, zone in enumerate(order):
        members = sorted(zones[zone], key=lambda n: n.key)
        cols = max(1, min(MAX_COLS, math.ceil(math.sqrt(len(members)))))
        rows = math.ceil(len(members) / cols)
        w = cols * CELL_W + 2 * PAD
        h = HEADER + rows * CELL_H + PAD
        if index and index % per_row == 0:
            x, y = float(PAD), y + row_h + GAP
            row_h = 0.0
        for i, node in enumerate(members):
            node.x = x + PAD + (i % cols) * CELL_W + CELL_W / 2
            node.y = y + HEADER + (i // cols) * CELL_H + 24
        boxes.append((zone, x, y, w, h))
        x += w + GAP
        row_h = max(row_h, h)
        width = max(width, x)
    return boxes, max(width, 400.0), y + row_h + PAD


def _edges(edges: Iterable[Edge], by_addr: dict[str, str], nodes: dict[str, Node],
           findings: Sequence[Finding]) -> list[MapEdge]:
    policy = sorted((f for f in findings if is_policy_finding(f)),
                    key=lambda f: (f.severity != "critical", f.id))
    merged: dict[tuple[str, str], MapEdge] = {}
    for edge in edges:
        a, b = by_addr.get(edge.client_ip), by_addr.get(edge.server_ip)
        if a is None or b is None or a == b:
            continue
        key = (a, b) if a < b else (b, a)
        item = merged.setdefault(key,
                                 MapEdge(a=key[0], b=key[1],
                                         ends=f"{nodes[key[0]].label} ↔ {nodes[key[1]].label}"))
        port = (f"{edge.transport or ''}/{edge.server_port}" if edge.server_port is not None
                else (edge.transport or ""))
        item.services.add(edge.app or port or "?")
    # Index the policy findings by the addresses they involve, so each edge only checks its candidates.
    involved = [set(f.ips) | set(f.devices) for f in policy]
    by_addr_f: dict[str, list[int]] = {}
    for index, addrs in enumerate(involved):
        for addr in addrs:
            by_addr_f.setdefault(addr, []).append(index)
    for item in merged.values():
        ends_a, ends_b = nodes[item.a].addrs, nodes[item.b].addrs
        candidates = sorted({i for addr in ends_a for i in by_addr_f.get(addr, ())})
        for index in candidates:  # policy order: critical first, then by id
            if involved[index] & ends_b:
                item.finding_id, item.finding_title = policy[index].id, policy[index].title
                break
    return sorted(merged.values(), key=lambda e: (e.finding_id is not None, e.a, e.b))


def _curve(a: Node, b: Node) -> str:
    """A quadratic curve bowed to one side (by 18 % of its length), so edges between aligned nodes do not
    overlap."""
    mx, my = (a.x + b.x) / 2, (a.y + b.y) / 2
    dx, dy = b.x - a.x, b.y - a.y
    cx, cy = mx - dy * 0.18, my + dx * 0.18
    return f"M{a.x:.0f},{a.y:.0f} Q{cx:.0f},{cy:.0f} {b.x:.0f},{b.y:.0f}"


def policy_edges(devices: Sequence[Device], edges: Sequence[Edge],
                 findings: Sequence[Finding]) -> list[MapEdge]:
    """The red edges only (one per finding), for the plain list of links under the map."""
    nodes, by_addr = _nodes(devices, edges)
    bad = [e for e in _edges(edges, by_addr, nodes, findings) if e.finding_id]
    return list({e.finding_id: e for e in bad}.values())


def render_map(
    devices: Sequence[Device],
    edges: Sequence[Edge],
    findings: Sequence[Finding] = (),
    *,
    labels: dict[str, str] | None = None,
) -> str:
    """The SVG document (a string of escaped markup). `labels` translates 'external', 'unzoned', 'policy'."""
    words = {"external": "Internet / external", "unzoned": "No zone", "policy": "Policy finding",
             **(labels or {})}
    nodes, by_addr = _nodes(devices, edges)
    boxes, width, height = _layout(nodes)
    map_edges = _edges(edges, by_addr, nodes, findings)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="netmap" class="netmap" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" aria-labelledby="netmap-title">',
        f'<title id="netmap-title">{escape(words.get("title", "Network map"))}</title>',
        '<g id="netmap-viewport">',
    ]
    for zone, x, y, w, h in boxes:
        name = words["external"] if zone == EXTERNAL else words["unzoned"] if zone == UNZONED else zone
        css = "zone zone-external" if zone == EXTERNAL else "zone"
        out.append(f'<g class="{css}" data-zone="{escape(zone)}"><rect x="{x:.0f}" y="{y:.0f}" '
                   f'width="{w:.0f}" height="{h:.0f}" rx="8"/>'
                   f'<text class="zone-label" x="{x + 10:.0f}" y="{y + 20:.0f}">'
                   f"{escape(name)}</text></g>")
    for e in map_edges:
        na, nb = nodes[e.a], nodes[e.b]
        services = ", ".join(sorted(e.services))
        coords = f'd="{_curve(na, nb)}"'
        if e.finding_id:
            tip = (f"{words['policy']}: {e.finding_title} ({na.title.split(' · ')[0]} ↔ "
                   f"{nb.title.split(' · ')[0]}: {services})")
            out.append(f'<a class="edge-link" href="/findings/{quote(e.finding_id)}" '
                       f'data-finding="{escape(e.finding_id)}">'
                       f"<title>{escape(tip)}</title>"
                       f'<path class="edge edge-bad" {coords}/><path class="edge-hit" {coords}/></a>')
        else:
            out.append(f'<path class="edge" {coords}><title>{escape(na.label)} ↔ {escape(nb.label)}: '
                       f"{escape(services)}</title></path>")
    for node in sorted(nodes.values(), key=lambda n: n.key):
        css = " ".join(c for c in ("node", "node-dm" if node.dm else "", "node-wifi" if node.wifi else "",
                                   "node-external" if node.external else "") if c)
        wifi_mark = (f'<text class="wifi-mark" x="{node.x + 12:.0f}" y="{node.y - 10:.0f}" '
                     'aria-hidden="true">'
                     "Wi-Fi</text>") if node.wifi else ""
        out.append(f'<a class="node-link" href="{escape(node.href)}" data-key="{escape(node.key)}">'
                   f"<title>{escape(node.title)}</title>"
                   f'<g class="{css}"><circle cx="{node.x:.0f}" cy="{node.y:.0f}" r="11"/>{wifi_mark}'
                   f'<text class="node-label" x="{node.x:.0f}" y="{node.y + 28:.0f}" text-anchor="middle">'
                   f"{escape(node.label)}</text></g></a>")
    out.append("</g></svg>")
    return "\n".join(out)
