"""What a service's referents are told: new and reopened findings, and changes of the devices of their
perimeter since the last digest (a new device, a version change, a new peer, a new service offered,
the verdict of an intervention: unchanged, changed with the list, or silent after).

Pure: `state()` is what a digest remembers of a service's perimeter (devices, findings, the verdicts
already told), and `digest_items()` compares the remembered state with the current one.  An
intervention's verdict is told once it is decided (not pending), and again if it changes (an
"unchanged" that becomes "changed" as more traffic after it is observed).  The store keeps the state per
service (store.referents), the central sends the digest (api.referents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER, Device, Finding

ReferentScope = Literal["biomedical", "it", "security"]
"""Whose digest: a service's perimeter (biomedical, it: the `service` of devices and findings), or
`security`, every service's perimeter at once (the security officer, told of both)."""
EVERY_SERVICE = "security"


def covers(scope: str, service: str) -> bool:
    """A device or finding of `service` is in the perimeter of the referents of `scope`."""
    return scope == EVERY_SERVICE or scope == service


VERSION_ATTRIBUTES = frozenset({"software", "http_server", "ssdp_server", "platform", "model",
                                "lldp_system_description"})
"""Device facts that name a software or firmware version: a new value is a version change."""


def _versions(d: Device) -> list[str]:
    values = {f"{f.attribute}={f.value}" for f in d.facts if f.attribute in VERSION_ATTRIBUTES}
    if d.os:
        values.add(f"os={d.os}")
    return sorted(values)


def state(devices: Sequence[Device], findings: Sequence[Finding], service: str,
          verdicts: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """What the digest of `service` remembers: its devices (name, versions, peers, services offered), the
    status of each of its findings and the verdict of each decided intervention on its devices
    (`verdicts`: intervention id -> {mac, verdict, ...}, see `verdict_items`)."""
    macs = {d.mac for d in devices if covers(service, d.service) and not d.is_router}
    return {
        "interventions": {i: v["verdict"] for i, v in (verdicts or {}).items() if v["mac"] in macs},
        "devices": {d.mac: {"name": d.hostname or (d.ips[0] if d.ips else d.mac), "versions": _versions(d),
                            "peers": sorted(d.peers),
                            "services": sorted(p for p in d.protocols if p.endswith("/server"))}
                    for d in devices if covers(service, d.service) and not d.is_router},
        "findings": {f.id: f.status for f in findings if covers(service, f.service)},
    }


def digest_items(before: dict[str, Any], now: dict[str, Any], findings: Sequence[Finding],
                 service: str, verdicts: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> dict[str, list[dict[str, Any]]]:
    """The changes of `service`'s perimeter from `before` to `now` (both from `state`; `verdicts` the
    details of the interventions `now` lists)."""
    by_id = {f.id: f for f in findings if covers(service, f.service)}
    new_findings, reopened = [], []
    for fid, status in sorted(now["findings"].items()):
        f = by_id.get(fid)
        if f is None or status in CLOSED_STATUSES or status == "risk-accepted":
            continue
        old = before["findings"].get(fid)
        item = {"id": fid, "rule": f.rule, "severity": f.severity, "title": f.title, "title_fr": f.title_fr,
                "subject": f.subject, "playbook": f.playbook, "playbook_fr": f.playbook_fr}
        if old is None:
            new_findings.append(item)
        elif old in CLOSED_STATUSES:
            reopened.append(item)
    new_devices: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for mac, dev in sorted(now["devices"].items()):
        old = before["devices"].get(mac)
        if old is None:
            new_devices.append({"mac": mac, "name": dev["name"]})
            continue
        for key, out in (("versions", versions), ("peers", peers), ("services", services)):
            added = sorted(set(dev[key]) - set(old[key]))
            if key == "versions":  # a changed version, not a first one (an OS guess that appears)
                known = {v.partition("=")[0] for v in old[key]}
                added = [v for v in added if v.partition("=")[0] in known]
            if added:
                out.append({"mac": mac, "name": dev["name"], "added": added})
    # a state saved before verdicts were told has none: the current ones become its reference
    told = before.get("interventions", now.get("interventions", {}))
    checked = []
    for iid, verdict in sorted(now.get("interventions", {}).items(), key=lambda kv: int(kv[0])):
        detail = (verdicts or {}).get(iid)
        if detail is None or told.get(iid) == verdict:
            continue
        dev = now["devices"].get(detail["mac"], {})
        checked.append({"id": int(iid), "mac": detail["mac"], "name": dev.get("name", detail["mac"]),
                        "kind": detail["kind"], "at": detail["at"], "verdict": verdict,
                        "changes": detail.get("changes", []), "diff": detail.get("diff")})
    new_findings.sort(key=lambda i: (-SEVERITY_ORDER[i["severity"]], i["id"]))
    reopened.sort(key=lambda i: (-SEVERITY_ORDER[i["severity"]], i["id"]))
    return {"new_findings": new_findings, "reopened_findings": reopened, "new_devices": new_devices,
            "version_changes": versions, "new_peers": peers, "new_services": services,
            "intervention_verdicts": checked}


def is_empty(items: dict[str, list[dict[str, Any]]]) -> bool:
    return not any(items.values())
