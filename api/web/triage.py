"""Findings triage: the filters, the text search and the groups (by rule, by subject) of the findings page.

Pure functions over the analyzer's Finding records (no database, no request), so
the page, its bulk action and the exports select exactly the same findings for
the same query string.  Dates of the first/last-seen filters are whole days in
UTC; the text search is case-insensitive and matches the id, rule, both titles,
subject, addresses, MACs (with or without separators), device names, zone,
recommendation and evidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER, STATUSES, Finding

SERVICES = ("biomedical", "it")
GROUPINGS = ("rule", "subject")
FILTER_KEYS = ("q", "rule", "severity", "status", "zone", "service", "subject",
               "first_from", "first_to", "last_from", "last_to")
DATE_KEYS = ("first_from", "first_to", "last_from", "last_to")
_HEX = re.compile(r"[^0-9a-f]")
_MAC_LIKE = re.compile(r"[0-9a-f]{2}([:.\- ]?[0-9a-f]{2})*")


def _text(value: str | None, allowed: Sequence[str] | None = None) -> str:
    value = (value or "").strip()[:200]
    return value if allowed is None or value in allowed else ""


def _day(value: str | None) -> str:
    try:
        return dt.date.fromisoformat((value or "").strip()[:10]).isoformat()
    except ValueError:
        return ""


def clean_params(raw: Mapping[str, str]) -> dict[str, str]:
    """The findings query, every value checked (unknown choices and bad dates become empty, never a 422)."""
    out = {"q": _text(raw.get("q")), "rule": _text(raw.get("rule")),
           "severity": _text(raw.get("severity"), tuple(SEVERITY_ORDER)),
           "status": _text(raw.get("status"), (*STATUSES, "unresolved")),
           "zone": _text(raw.get("zone")), "service": _text(raw.get("service"), SERVICES),
           "subject": _text(raw.get("subject"))}
    out |= {k: _day(raw.get(k)) for k in DATE_KEYS}
    return out


def mac_key(text: str) -> str:
    """Hex digits only, lower case: '00-1B-00-00-00-01', '001b.0000.0001' and '001b00000001' compare equal."""
    return _HEX.sub("", text.lower())


def is_mac_like(text: str) -> bool:
    """Hex digit pairs with or without separators (':', '-', '.', ' '): what a person types for a MAC."""
    return _MAC_LIKE.fullmatch(text.strip().lower()) is not None


def _epoch(day: str, end: bool = False) -> float:
    when = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    return (when + dt.timedelta(days=1) if end else when).timestamp()


def haystack(finding: Finding, names: Mapping[str, str]) -> str:
    """The searchable text of a finding (lower case), device names included."""
    parts = [finding.id, finding.rule, finding.title, finding.title_fr, finding.subject, finding.zone or "",
             finding.recommendation, finding.recommendation_fr, *finding.ips, *finding.devices,
             *(names.get(mac, "") for mac in finding.devices), *(e.text for e in finding.evidence)]
    return "\n".join(parts).lower()


def matches(finding: Finding, params: Mapping[str, str], names: Mapping[str, str] | None = None) -> bool:
    """The finding passes every filter of the (cleaned) query."""
    for key in ("rule", "severity", "zone", "service", "subject"):
        if params.get(key) and (getattr(finding, key) or "") != params[key]:
            return False
    status = params.get("status")
    if status == "unresolved" and finding.status in CLOSED_STATUSES:
        return False
    if status and status != "unresolved" and finding.status != status:
        return False
    for key, attr, end in (("first_from", "first_seen", False), ("first_to", "first_seen", True),
                           ("last_from", "last_seen", False), ("last_to", "last_seen", True)):
        if not params.get(key):
            continue
        value = getattr(finding, attr)
        if value is None:
            return False
        bound = _epoch(params[key], end)
        if (value < bound) if not end else (value >= bound):
            return False
    q = (params.get("q") or "").strip().lower()
    if q and not all(word in haystack(finding, names or {}) for word in q.split()):
        # a MAC typed without separators (or with other ones) still finds the device
        digits = mac_key(q)
        if not (is_mac_like(q) and len(digits) >= 4
                and any(digits in mac_key(m) for m in finding.devices)):
            return False
    return True


def select(findings: Iterable[Finding], params: Mapping[str, str],
           names: Mapping[str, str] | None = None) -> list[Finding]:
    return [f for f in findings if matches(f, params, names)]


@dataclass
class Group:
    """Findings sharing a rule or a subject, with their counts."""

    key: str
    label: str
    severity: str
    count: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    rules: set[str] = field(default_factory=set)
    ids: list[str] = field(default_factory=list)

    @property
    def unresolved(self) -> int:
        return sum(n for s, n in self.by_status.items() if s not in CLOSED_STATUSES)


def group(findings: Iterable[Finding], by: str, *, lang: str = "en",
          names: Mapping[str, str] | None = None) -> list[Group]:
    """Groups by `rule` or `subject`, worst severity then largest first."""
    if by not in GROUPINGS:
        raise ValueError(by)
    groups: dict[str, Group] = {}
    for f in findings:
        key = f.rule if by == "rule" else f.subject
        title = f.title_fr if lang == "fr" and f.title_fr else f.title
        label = title if by == "rule" else subject_label(f, names or {})
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key=key, label=label, severity=f.severity)
        elif SEVERITY_ORDER[f.severity] > SEVERITY_ORDER[g.severity]:
            g.severity = f.severity
        g.count += 1
        g.by_status[f.status] = g.by_status.get(f.status, 0) + 1
        g.rules.add(f.rule)
        g.ids.append(f.id)
    return sorted(groups.values(), key=lambda g: (-SEVERITY_ORDER[g.severity], -g.count, g.key))


def subject_label(finding: Finding, names: Mapping[str, str]) -> str:
    """A subject as people read it: the device name beside a MAC subject."""
    name = names.get(finding.subject)
    return f"{name} ({finding.subject})" if name and name != finding.subject else finding.subject


def expand(findings: Sequence[Finding], *, ids: Iterable[str], groups: Iterable[str], by: str,
           everything: bool) -> list[str]:
    """The finding ids a bulk action covers: the ticked findings, every finding of the ticked groups, or all
    (each among `findings`, the current filter's result: a group never reaches beyond what is shown)."""
    if everything:
        return [f.id for f in findings]
    wanted = set(ids)
    keys = set(groups)
    if keys and by in GROUPINGS:
        wanted |= {f.id for f in findings if (f.rule if by == "rule" else f.subject) in keys}
    return [f.id for f in findings if f.id in wanted]
