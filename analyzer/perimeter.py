"""The yearly perimeter review: per service, its applications (sheets) and devices, what changed since
the last review, and its open findings.

Pure: it takes the stored sheets, devices and findings, the marks of the review campaign and the
snapshot kept at the last closed review, and returns plain data that the report templates (HTML, PDF)
and the JSON output print.  `snapshot()` is what a closed review keeps, so the next review can say
which devices and sheets were added, removed or moved between services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER, Device, Finding
from analyzer.sheets import Sheet
from analyzer.suppliers import SEVERITIES

SERVICES = ("biomedical", "it")
REVIEW_EVERY_DAYS = 365
"""A sheet is due for review a year after its last review (or at once if it was never reviewed)."""


def snapshot(sheets: Sequence[Sheet], devices: Sequence[Device]) -> dict[str, Any]:
    """What a review keeps to compare the next one with: each sheet's and device's service and name."""
    return {
        "sheets": {s.id: {"service": s.responsibility, "name": s.software_name} for s in sheets},
        "devices": {d.mac: {"service": d.service, "name": d.hostname or (d.ips[0] if d.ips else d.mac),
                            "sheet_id": d.sheet_id}
                    for d in devices if d.is_dm or d.sheet_id},
    }


def changes(before: dict[str, Any] | None, now: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per kind (sheets, devices): added, removed and moved (service changed) since `before`."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind in ("sheets", "devices"):
        old: dict[str, Any] = (before or {}).get(kind, {})
        new: dict[str, Any] = now[kind]
        out[kind] = {
            "added": [{"id": k, **new[k]} for k in sorted(set(new) - set(old))] if before is not None else [],
            "removed": [{"id": k, **old[k]} for k in sorted(set(old) - set(new))],
            "moved": [{"id": k, "name": new[k]["name"], "from": old[k]["service"], "to": new[k]["service"]}
                      for k in sorted(set(old) & set(new)) if old[k]["service"] != new[k]["service"]],
        }
    return out


def due(sheet: Sheet, today: dt.date) -> bool:
    return sheet.last_review is None or (today - sheet.last_review).days >= REVIEW_EVERY_DAYS


def _open(f: Finding) -> bool:
    return f.status not in CLOSED_STATUSES and f.status != "risk-accepted"


def perimeter(*, sheets: Sequence[Sheet], devices: Sequence[Device], findings: Sequence[Finding],
              today: dt.date, marks: dict[str, dict[str, Any]] | None = None,
              previous: dict[str, Any] | None = None, previous_at: str | None = None,
              site_name: str | None = None) -> dict[str, Any]:
    """The review's content.  `marks`: sheet id -> {by, at} for the sheets reviewed in the campaign;
    `previous`: the snapshot of the last closed review (None: the first review)."""
    marks = marks or {}
    by_sheet: dict[str, list[Device]] = {}
    for d in devices:
        if d.sheet_id:
            by_sheet.setdefault(d.sheet_id, []).append(d)
    services: list[dict[str, Any]] = []
    for service in SERVICES:
        apps = []
        for s in sorted((s for s in sheets if s.responsibility == service), key=lambda s: s.id):
            seen = sorted(by_sheet.get(s.id, []), key=lambda d: d.mac)
            apps.append({
                "id": s.id, "software_name": s.software_name, "version": s.software_version,
                "supplier": s.supplier, "criterion": s.perimeter_criterion,
                "owner": s.workstation_owner, "workstation": s.workstation,
                "status": "seen" if seen else "not-seen",
                "devices": [{"mac": d.mac, "name": d.hostname or (d.ips[0] if d.ips else d.mac),
                             "ips": d.ips, "zone": d.zone} for d in seen],
                "last_review": s.last_review.isoformat() if s.last_review else None,
                "due": due(s, today),
                "reviewed": marks.get(s.id),
                "referents": {"biomedical": s.biomedical_referent, "it": s.it_referent},
            })
        unsheeted = sorted((d for d in devices if d.service == service and d.is_dm and not d.sheet_id),
                           key=lambda d: d.mac)
        open_findings = sorted((f for f in findings if f.service == service and _open(f)),
                               key=lambda f: (-SEVERITY_ORDER[f.severity], f.rule, f.subject))
        by_sev = {sev: sum(1 for f in open_findings if f.severity == sev) for sev in SEVERITIES}
        services.append({
            "service": service,
            "applications": apps,
            "devices_without_sheet": [{"mac": d.mac, "name": d.hostname or (d.ips[0] if d.ips else d.mac),
                                       "vendor": d.vendor, "zone": d.zone, "role": d.role}
                                      for d in unsheeted],
            "findings_by_severity": by_sev,
            "open_findings": [{"id": f.id, "rule": f.rule, "severity": f.severity, "title": f.title,
                               "title_fr": f.title_fr, "subject": f.subject, "status": f.status}
                              for f in open_findings],
            "due": sum(1 for a in apps if a["due"]),
            "reviewed": sum(1 for a in apps if a["reviewed"]),
        })
    return {
        "site": site_name, "date": today.isoformat(), "review_every_days": REVIEW_EVERY_DAYS,
        "previous_review": previous_at,
        "services": services,
        "changes": changes(previous, snapshot(sheets, devices)),
    }
