"""Device roles from a feature row and the data-driven heuristics in rules/classification.yaml.

Office and IT endpoints are recognised from their own evidence wherever they are plugged
(`office_evidence`, data in rules/endpoints.yaml): desktop DHCP clients (option 60, option 55),
browser and update-agent User-Agents, PC/laptop maker OUIs, NetBIOS/LLMNR name services, SMB
client sessions; a device showing medical evidence (medical protocol or vendor, remote-maintenance
target) is never an office endpoint.

Features are computed from the inventory and the observations (DICOM associations and their SOP
class hints, HL7 senders, IntelliVue/SDC/POCT/ASTM identity, LLDP/CDP capabilities, served ports,
zone kind, OS, vendor); the heuristics are `where` conditions in the rule vocabulary.  Also decides
`is_dm` and the responsible service (biomedical or IT, following the AFIB identification perimeter).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from analyzer.models import Device
from analyzer.paths import DataFileError
from analyzer.rules.match import Predicate, compile_where, fill
from analyzer.yamlload import load_file

DICOM_SERVICES = {"echo", "worklist", "storage-commitment", "mpps", "query-retrieve", "print"}
MEDICAL_ROLES = {"imaging-modality", "patient-monitor", "monitoring-gateway", "infusion-pump", "lab-analyzer",
                 "dm-workstation"}
MEDICAL_APPS = frozenset({"dicom", "dicom-tls", "hl7", "hl7-tls", "astm", "poct", "intellivue", "sdc"})
"""Application protocols that put a device in the biomedical perimeter (client or server side)."""
OFFICE_ROLES = frozenset({"office-workstation", "printer"})
"""Roles of office and IT endpoints (flat-network: such a device in a DM segment is out of place)."""
FEATURES: dict[str, str] = {
    "vendor": "manufacturer from the OUI alias table", "oui_vendor": "raw IEEE registry name",
    "vendor_medical": "the vendor is a medical manufacturer", "radio_module": "radio/serial module OUI",
    "protocols": "list of 'app/client' and 'app/server'",
    "dicom_store_client": "sent a DICOM storage association",
    "dicom_modalities": "modality hints it proposed", "dicom_store_clients": "distinct clients storing to it",
    "dicom_worklist_server": "receives worklist associations",
    "dicom_forwards": "stores to a DICOM peer that does not store to it (a PACS or router passes images on; "
                      "a modality retrieving priors exchanges with the same archive)",
    "hl7_senders": "distinct HL7 clients sending to it",
    "intellivue": "IntelliVue export seen from it", "sdc": "SDC/WS-Discovery provider",
    "poct": "POCT1-A identity",
    "astm": "ASTM header sender", "lldp_capabilities": "LLDP enabled capabilities",
    "cdp_capabilities": "CDP caps",
    "lldp_med_class": "LLDP-MED device class", "os_family": "OS family", "os": "OS text",
    "zone_kind": "site zone kind", "server_ports": "ports it serves", "server_clients": "distinct clients",
    "remote_target": "target of a remote-access session", "dhcp_vendor_class": "DHCP option 60",
    "wifi_ap": "Wi-Fi AP or tunnel endpoint", "is_router": "routed interface", "names": "names seen",
    "office_evidence": "what says it is an office/IT endpoint (rules/endpoints.yaml), one line per kind",
    "office_kinds": "number of distinct kinds of office/IT endpoint evidence",
    "medical_protocol": "speaks a medical protocol (DICOM, HL7, ASTM, POCT1-A, IntelliVue, SDC)",
}


@dataclass(frozen=True)
class EndpointTable:
    """rules/endpoints.yaml compiled."""

    desktop_os: frozenset[str]
    vendor_classes: tuple[tuple[re.Pattern[str], str], ...]
    user_agents: tuple[tuple[re.Pattern[str], str], ...]
    pc_vendors: tuple[re.Pattern[str], ...]
    name_services: frozenset[str]
    file_sharing: frozenset[str]


@lru_cache(maxsize=8)
def load_endpoints(path: Path) -> EndpointTable:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return EndpointTable(
        desktop_os=frozenset(str(x) for x in data.get("desktop_os", [])),
        vendor_classes=tuple((re.compile(str(e["match"])), str(e.get("os", "")))
                             for e in data.get("dhcp_vendor_classes", [])),
        user_agents=tuple((re.compile(str(e["match"])), str(e.get("what", "")))
                          for e in data.get("user_agents", [])),
        pc_vendors=tuple(re.compile(str(x)) for x in data.get("pc_vendors", [])),
        name_services=frozenset(str(x) for x in data.get("name_services", [])),
        file_sharing=frozenset(str(x) for x in data.get("file_sharing", [])),
    )


def office_evidence(device: Device, table: EndpointTable | None,
                    fingerprints: tuple[Any, ...] = ()) -> list[str]:
    """One line per kind of evidence that the device is an office/IT endpoint (its own traffic only)."""
    if table is None:
        return []
    out: list[str] = []
    dhcp: list[str] = []
    for vc in _fact_values(device, "vendor_class"):
        for pattern, os_name in table.vendor_classes:
            if pattern.search(vc):
                dhcp.append(f"DHCP vendor class {vc!r} ({os_name} DHCP client)")
                break
    families = {f.fingerprint: f.family for f in fingerprints}
    for fp in _fact_values(device, "dhcp_fingerprint"):
        family = families.get(fp)
        if family in table.desktop_os:
            dhcp.append(f"DHCP parameter list {fp} ({family})")
    if dhcp:
        out.append("; ".join(dhcp))
    agents = []
    for ua in _fact_values(device, "user_agent"):
        for pattern, what in table.user_agents:
            if pattern.search(ua):
                agents.append(f"{what} User-Agent {ua!r}")
                break
    if agents:
        out.append("; ".join(agents[:2]))
    registry = device.oui_vendor or ""
    if any(p.search(registry) for p in table.pc_vendors):
        out.append(f"PC/laptop maker OUI ({registry})")
    apps = {p.rsplit("/", 1)[0] for p in device.protocols if p.endswith("/client")}
    names = sorted(apps & table.name_services)
    if names:
        out.append(f"name service client ({', '.join(names)})")
    shares = sorted(apps & table.file_sharing)
    if shares:
        out.append(f"file-sharing client ({', '.join(shares)})")
    return out


def vendor_class_os(device: Device, table: EndpointTable) -> tuple[str, str | None] | None:
    """(family, version) a desktop DHCP client's option 60 names (`android-dhcp-13` -> Android 13)."""
    for vc in _fact_values(device, "vendor_class"):
        for pattern, os_name in table.vendor_classes:
            m = pattern.search(vc)
            if m and os_name:
                version = m.group("version") if "version" in pattern.groupindex else None
                return os_name, version or None
    return None


def speaks_medical(device: Device) -> bool:
    """A medical application protocol in its own conversations (client or server)."""
    return any(p.split("/", 1)[0] in MEDICAL_APPS for p in device.protocols)


@dataclass(frozen=True)
class RoleRule:
    role: str
    confidence: float
    evidence: str
    predicate: Predicate


@lru_cache(maxsize=8)
def load_roles(path: Path) -> tuple[RoleRule, ...]:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return tuple(
        RoleRule(str(r["role"]), float(r["confidence"]), str(r.get("evidence", "")),
                 compile_where(r.get("where"), FEATURES, ("roles", i)))
        for i, r in enumerate(data.get("roles", []))
    )


def _fact_values(device: Device, attribute: str) -> list[str]:
    return sorted({f.value for f in device.facts if f.attribute == attribute})


def _caps(device: Device, attribute: str) -> list[str]:
    return sorted({c for v in _fact_values(device, attribute) for c in v.split(",") if c})


def features(ctx: Any) -> dict[str, dict[str, Any]]:
    """Feature row per device MAC."""
    from analyzer.digest import digest_of

    digest = digest_of(ctx)
    store_clients: dict[str, set[str]] = defaultdict(set)
    worklist_srv: set[str] = set()
    store_client: dict[str, set[str]] = defaultdict(set)
    stores_to: dict[str, set[str]] = defaultdict(set)
    for src_ip, dst_ip, hints in digest.dicom_assoc:  # associate-rq records
        client, server = ctx.device_by_ip(src_ip), ctx.device_by_ip(dst_ip)
        storage = hints - DICOM_SERVICES
        if client is not None and storage:
            store_client[client.mac] |= storage
            stores_to[client.mac].add(dst_ip or "")
        if server is not None and storage:
            store_clients[server.mac].add(src_ip or "")
        if server is not None and "worklist" in hints:
            worklist_srv.add(server.mac)
    hl7: dict[str, set[str]] = defaultdict(set)
    served: dict[str, set[int]] = defaultdict(set)
    clients: dict[str, set[str]] = defaultdict(set)
    for c in ctx.conversations:
        if c.server is not None and not c.server.is_router:
            if c.server_port is not None and c.transport in ("tcp", "udp"):
                served[c.server.mac].add(c.server_port)
            clients[c.server.mac].add(c.client_ip)
            if "hl7" in c.apps:
                hl7[c.server.mac].add(c.client_ip)
    for dst_ip, src_ip in digest.hl7_pairs:
        srv = ctx.device_by_ip(dst_ip)
        if srv is not None and src_ip:
            hl7[srv.mac].add(src_ip)

    def macs_of(kind: str, *attrs: str) -> set[str]:
        out: set[str] = set()
        for attr in attrs:
            for value in digest.values.get((kind, attr), ()):
                if attr.endswith("_ip"):
                    d = ctx.device_by_ip(value)
                    value = d.mac if d else None
                if value:
                    out.add(value)
        return out

    intellivue = macs_of("intellivue", "monitor_mac", "src_mac")
    sdc = macs_of("sdc", "src_ip")  # hello, probe-match and resolve-match records
    poct = macs_of("poct", "src_ip")
    astm = macs_of("astm", "src_ip")  # records naming a sender
    remote = macs_of("remote_access", "server_ip")
    wifi_ap = macs_of("wifi", "ap_mac")
    rows: dict[str, dict[str, Any]] = {}
    endpoints = getattr(ctx.tables, "endpoints", None)
    for mac, d in ctx.devices.items():
        vendor_class = _fact_values(d, "vendor_class")
        office = office_evidence(d, endpoints, ctx.tables.fingerprints)
        rows[mac] = {
            "vendor": d.vendor, "oui_vendor": d.oui_vendor, "radio_module": d.radio_module,
            "vendor_medical": _is_medical(d, ctx.tables.vendors), "protocols": d.protocols,
            "dicom_store_client": mac in store_client, "dicom_modalities": sorted(store_client.get(mac, ())),
            "dicom_store_clients": len(store_clients.get(mac, ())),
            "dicom_worklist_server": mac in worklist_srv,
            "dicom_forwards": bool(stores_to.get(mac, set()) - store_clients.get(mac, set())),
            "hl7_senders": len(hl7.get(mac, ())), "intellivue": mac in intellivue, "sdc": mac in sdc,
            "poct": mac in poct, "astm": mac in astm, "lldp_capabilities": _caps(d, "lldp_capabilities"),
            "cdp_capabilities": _caps(d, "cdp_capabilities"),
            "lldp_med_class": next(iter(_fact_values(d, "lldp_med_class")), None),
            "os_family": d.os.split(" ")[0] if d.os else None, "os": d.os, "zone_kind": d.zone_kind,
            "server_ports": sorted(served.get(mac, ())), "server_clients": len(clients.get(mac, ())),
            "remote_target": mac in remote, "dhcp_vendor_class": vendor_class[0] if vendor_class else None,
            "wifi_ap": mac in wifi_ap, "is_router": d.is_router, "names": d.names,
            "office_evidence": office, "office_kinds": len(office),
            "medical_protocol": speaks_medical(d),
        }
    return rows


def _is_medical(device: Device, vendors: tuple[Any, ...]) -> bool:
    return any(a.medical and a.name == device.vendor for a in vendors)


def classify(ctx: Any) -> None:
    """Set role, confidence, evidence, is_dm and service on every device of ctx (in place)."""
    roles = ctx.tables.roles
    for mac, row in features(ctx).items():
        d = ctx.devices[mac]
        if d.is_router:
            continue
        best: tuple[float, int, Any] | None = None
        for i, rule in enumerate(roles):
            if rule.predicate(row) and (best is None or rule.confidence > best[0]):
                best = (rule.confidence, i, rule)
        if best is not None:
            rule = best[2]
            d.role, d.role_confidence = rule.role, rule.confidence
            d.role_evidence = [fill(rule.evidence, row)]


def decide_service(device: Device, sheet_responsibility: str | None = None,
                   supplier_owned: bool = False) -> None:
    """is_dm and service from role and zone; a matched sheet's responsibility overrides."""
    # an office/IT endpoint recognised from its own evidence is not a DM, even inside a DM zone
    device.is_dm = device.role in MEDICAL_ROLES or (
        device.zone_kind == "dm" and device.role in ("unknown", "dm-workstation"))
    biomedical = device.is_dm or device.zone_kind == "dm" or supplier_owned or (
        device.zone_kind == "wifi" and device.role in MEDICAL_ROLES)
    device.service = "biomedical" if biomedical else "it"
    if sheet_responsibility in ("biomedical", "it"):
        device.service = sheet_responsibility  # type: ignore[assignment]
