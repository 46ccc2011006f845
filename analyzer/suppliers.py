"""Supplier scorecards for purchasing: per supplier, what its devices expose on the network, and one score.

A device's supplier is the `supplier` of its identification sheet, else its MAC vendor (OUI); a device
with neither is grouped under "unknown".  Only medical devices (DM) and devices with a sheet count: a
supplier's scorecard is about what it delivered, not the hospital's switches and office PCs.

The score is defined once, here (`WEIGHTS`, `score`, `FORMULA`): the README and the web UI print
`FORMULA`, so the number shown is never explained by a second, drifting text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER, Device, Finding
from analyzer.sheets import Sheet
from analyzer.site import is_public
from collector.schema import Observation

ADMIN_APPS = frozenset({"telnet", "ftp", "snmp", "http"})
"""Administration protocols that carry credentials in clear when a device serves them."""
MEDICAL_APPS = frozenset({"dicom", "hl7", "astm", "poct", "intellivue", "sdc"})
"""Medical protocols medtap identifies by content: seen decoded, so not inside TLS."""

WEIGHTS: dict[str, int] = {
    "obsolete_os": 20,
    "smb1": 15,
    "remote_unapproved": 15,
    "internet": 10,
    "cleartext_admin": 10,
    "cleartext_medical": 5,
}
"""Penalty points per device showing each property."""
SEVERITIES = tuple(sorted(SEVERITY_ORDER, key=lambda s: -SEVERITY_ORDER[s]))
"""Severities, most severe first."""
FINDING_WEIGHTS: dict[str, int] = {"critical": 8, "high": 4, "medium": 2, "low": 1, "info": 0}
"""Penalty points per open finding (open or acknowledged) on the supplier's devices, by severity."""

FORMULA = ("score = max(0, 100 - points / devices), where points = "
           + " + ".join(f"{w} x {name.replace('_', ' ')} devices" for name, w in WEIGHTS.items())
           + " + " + " + ".join(f"{w} x open {sev} findings" for sev, w in FINDING_WEIGHTS.items() if w)
           + "; 100 is best, comparable between suppliers of any fleet size.")


def score(counts: dict[str, int], findings_by_severity: dict[str, int], devices: int) -> float:
    """The score of one supplier from its device counts per property and its open findings by severity."""
    points = sum(WEIGHTS[k] * counts.get(k, 0) for k in WEIGHTS)
    points += sum(FINDING_WEIGHTS.get(sev, 0) * n for sev, n in findings_by_severity.items())
    return round(max(0.0, 100.0 - points / max(devices, 1)), 1)


def supplier_of(device: Device, sheets: dict[str, Sheet]) -> tuple[str, str]:
    """(supplier, where it came from: sheet, vendor or none)."""
    sheet = sheets.get(device.sheet_id or "")
    if sheet is not None and sheet.supplier:
        return sheet.supplier, "sheet"
    if device.vendor:
        return device.vendor, "vendor"
    return "unknown", "none"


def _apps(device: Device, role: str | None = None) -> set[str]:
    out = set()
    for proto in device.protocols:
        app, _, side = proto.rpartition("/")
        if role is None or side == role:
            out.add(app)
    return out


def scorecards(devices: Sequence[Device], findings: Sequence[Finding], sheets: Sequence[Sheet],
               remote: Iterable[Observation] = (), site: Any = None) -> list[dict[str, Any]]:
    """One scorecard per supplier, worst score first (then by name).

    `remote`: the stored `remote_access` records; a method counts as approved when its client is an
    approved maintenance gateway of the site policy (`site.gateway_for`).
    """
    by_id = {s.id: s for s in sheets}
    by_ip: dict[str, Device] = {}
    for d in devices:
        for ip in d.ips:
            by_ip.setdefault(ip, d)
    sessions: dict[str, dict[str, set[str]]] = {}
    for r in remote:
        server = by_ip.get(getattr(r, "server_ip", None) or "")
        if server is None:
            continue
        client = getattr(r, "client_ip", None)
        approved = site is not None and site.gateway_for(client) is not None
        method = str(getattr(r, "method", "") or "unknown")
        way = "approved" if approved else "direct"
        sessions.setdefault(server.mac, {}).setdefault(method, set()).add(way)
    open_by_mac: dict[str, list[Finding]] = {}
    smb1: set[str] = set()
    for f in findings:
        if f.rule == "legacy-smb1":
            smb1.update(f.devices)
        if f.status in CLOSED_STATUSES or f.status == "risk-accepted":
            continue
        for mac in f.devices:
            open_by_mac.setdefault(mac, []).append(f)
    cards: dict[str, dict[str, Any]] = {}
    for d in devices:
        if not d.is_dm and not d.sheet_id:
            continue
        name, source = supplier_of(d, by_id)
        card = cards.setdefault(name, {"supplier": name, "source": source, "devices": [],
                                       "counts": dict.fromkeys(WEIGHTS, 0), "remote_access": {},
                                       "findings": dict.fromkeys(SEVERITIES, 0), "_findings": set()})
        if source == "sheet":
            card["source"] = "sheet"
        methods = sessions.get(d.mac, {})
        props = {
            "obsolete_os": d.os_eol,
            "smb1": d.mac in smb1,
            "remote_unapproved": any("direct" in ways for ways in methods.values()),
            "internet": any(is_public(p) for p in d.peers),
            "cleartext_admin": bool(_apps(d, "server") & ADMIN_APPS),
            "cleartext_medical": bool(_apps(d) & MEDICAL_APPS),
        }
        for key, value in props.items():
            card["counts"][key] += int(bool(value))
        for method, ways in methods.items():
            seen = card["remote_access"].setdefault(method, {"approved": 0, "direct": 0})
            for way in ways:
                seen[way] += 1
        card["_findings"].update((f.id, f.severity) for f in open_by_mac.get(d.mac, ()))
        card["devices"].append({"mac": d.mac, "hostname": d.hostname, "sheet_id": d.sheet_id, "os": d.os,
                                **{k: bool(v) for k, v in props.items()},
                                "remote_access": sorted(methods)})
    out = []
    for card in cards.values():
        for _, severity in card.pop("_findings"):  # a finding on two of its devices counts once
            card["findings"][severity] += 1
        card["devices"].sort(key=lambda item: item["mac"])
        card["device_count"] = len(card["devices"])
        card["remote_access"] = dict(sorted(card["remote_access"].items()))
        card["score"] = score(card["counts"], card["findings"], card["device_count"])
        out.append(card)
    out.sort(key=lambda c: (c["score"], c["supplier"].lower()))
    return out


CSV_COLUMNS = ("supplier", "source", "score", "device_count", *WEIGHTS, "remote_access",
               *(f"findings_{s}" for s in SEVERITIES))


def csv_rows(cards: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per supplier, in CSV_COLUMNS order (remote access as `method:approved/direct`)."""
    rows = []
    for c in cards:
        row: dict[str, Any] = {"supplier": c["supplier"], "source": c["source"], "score": c["score"],
                               "device_count": c["device_count"], **c["counts"],
                               "remote_access": " ".join(f"{m}:{v['approved']}/{v['direct']}"
                                                         for m, v in c["remote_access"].items())}
        for sev, n in c["findings"].items():
            row[f"findings_{sev}"] = n
        rows.append(row)
    return rows
