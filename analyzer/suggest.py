"""`medtap policy suggest`: propose site zones (YAML) from the VLANs, subnets and roles seen.

Each VLAN (or, untagged, each /24) becomes a zone; its kind is guessed from the roles in it:
mostly medical roles -> dm, mostly Wi-Fi devices -> wifi, servers/PACS/HL7 -> servers, else office.
The output is a starting point for the hospital to edit, never applied automatically.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable

import yaml

from analyzer.classify import MEDICAL_ROLES
from analyzer.models import Device

SERVER_ROLES = {"pacs", "worklist", "hl7-engine", "server"}


def _net(ip: str) -> str | None:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if a.version != 4 or not a.is_private:
        return None
    return str(ipaddress.ip_network(f"{ip}/24", strict=False))


def _kind(devices: list[Device]) -> str:
    votes: Counter[str] = Counter()
    for d in devices:
        if d.role in MEDICAL_ROLES or d.is_dm:
            votes["dm"] += 1
        elif d.role in SERVER_ROLES:
            votes["servers"] += 1
        elif d.connection == "wifi":
            votes["wifi"] += 1
        else:
            votes["office"] += 1
    if not votes:
        return "office"
    return sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def suggest_zones(devices: Iterable[Device]) -> str:
    """YAML text with a `zones:` list proposed from the devices (routers and switches ignored)."""
    groups: dict[str, list[Device]] = defaultdict(list)
    nets: dict[str, set[str]] = defaultdict(set)
    vlans: dict[str, int | None] = {}
    for d in devices:
        if d.is_router or d.role in ("router", "switch"):
            continue
        own_nets = {n for n in (_net(ip) for ip in d.ips) if n}
        tagged = [v for v in d.vlans if v]
        keys: list[tuple[str, int | None]] = [(f"vlan-{v}", v) for v in tagged] or [
            (f"net-{n.split('/')[0]}", None) for n in sorted(own_nets)]
        for key, vlan in keys:
            groups[key].append(d)
            nets[key] |= own_nets
            vlans[key] = vlan
    zones = []
    for key in sorted(groups, key=lambda k: (vlans[k] is None, vlans[k] or 0, k)):
        devs = groups[key]
        roles = Counter(d.role for d in devs)
        zone: dict[str, object] = {"name": key, "kind": _kind(devs)}
        if vlans[key] is not None:
            zone["vlans"] = [vlans[key]]
        if nets[key]:
            zone["cidrs"] = sorted(nets[key])
        zone["description"] = f"{len(devs)} devices; roles: " + ", ".join(f"{r} {n}"
                                                                          for r, n in sorted(roles.items()))
        zones.append(zone)
    header = "# Proposed zones (medtap policy suggest): review names and kinds, then add conduits.\n"
    return header + yaml.safe_dump({"zones": zones}, sort_keys=False, allow_unicode=True)
