"""Exports for the SIEM and spreadsheets: findings as RFC 5424 syslog or ECS JSON lines, findings and
inventory as CSV and XLSX.

Syslog lines follow RFC 5424 (PRI from facility local0 and the finding severity,
structured data `medtap@32473`, the IANA example enterprise number).  ECS lines
use Elastic Common Schema field names (event.*, rule.*, related.ip, observer.*).
The inventory CSV neutralises spreadsheet formulas (OWASP CSV injection): a cell
starting with = + - @ (or tab/CR) gets a leading `'`.  CSV is `;`-separated UTF-8 with a BOM, as the
sheets export: French Excel opens it as it is, accents and columns intact.  XLSX is written with openpyxl,
every text cell typed as a string, so no value is ever read as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from analyzer.models import Device, Finding

FACILITY_LOCAL0 = 16
SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}
ECS_SEVERITY = {"info": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
INVENTORY_COLUMNS = ["mac", "ips", "vlans", "hostname", "vendor", "role", "is_dm", "connection", "zone", "os",
                     "os_eol", "switch_port", "service", "sheet_id", "sheet_match", "first_seen", "last_seen",
                     "sensors"]


def _iso(ts: float | None) -> str:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC) if ts is not None else dt.datetime.now(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _clean(text: str) -> str:
    return " ".join(text.split())


def syslog_line(finding: Finding, *, hostname: str = "medtap", status: str | None = None) -> str:
    """One RFC 5424 line: <PRI>1 TIMESTAMP HOST medtap - MSGID [SD] MSG."""
    pri = FACILITY_LOCAL0 * 8 + SYSLOG_SEVERITY[finding.severity]
    params = {"id": finding.id, "rule": finding.rule, "severity": finding.severity,
              "status": status or finding.status,
              "service": finding.service, "zone": finding.zone or "", "subject": finding.subject,
              "ips": ",".join(finding.ips), "devices": ",".join(finding.devices)}
    sd = "[medtap@32473 " + " ".join(f'{k}="{_sd_escape(_clean(v))}"' for k, v in params.items()) + "]"
    host = (hostname or "-").replace(" ", "_")[:255]
    msgid = finding.rule[:32].replace(" ", "_") or "-"
    return (f"<{pri}>1 {_iso(finding.last_seen)} {host} medtap - {msgid} {sd} {_clean(finding.title)}: "
            f"{_clean(finding.subject)}")


def findings_syslog(findings: Iterable[Finding], *, hostname: str = "medtap") -> str:
    return "".join(syslog_line(f, hostname=hostname) + "\n" for f in findings)


def ecs_record(finding: Finding) -> dict[str, Any]:
    return {
        "@timestamp": _iso(finding.last_seen),
        "message": f"{finding.title}: {finding.subject}",
        "event": {"kind": "alert", "category": ["network"], "type": ["info"], "dataset": "medtap.findings",
                  "id": finding.id, "severity": ECS_SEVERITY[finding.severity],
                  "start": _iso(finding.first_seen) if finding.first_seen is not None else None},
        "rule": {"id": finding.rule, "name": finding.title, "category": finding.service},
        "observer": {"vendor": "medtap", "product": "medtap", "type": "ids"},
        "related": {"ip": finding.ips},
        "medtap": {"status": finding.status, "zone": finding.zone, "subject": finding.subject,
                   "devices": finding.devices,
                   "recommendation": finding.recommendation,
                   "evidence": [e.text for e in finding.evidence[:10]]},
    }


def findings_ecs(findings: Iterable[Finding]) -> str:
    return "".join(json.dumps(ecs_record(f), ensure_ascii=False, sort_keys=True) + "\n" for f in findings)


def neutralise(value: str) -> str:
    """Spreadsheet formula injection: prefix a `'` to cells a spreadsheet would evaluate."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


FINDING_COLUMNS = ["id", "rule", "severity", "status", "title", "service", "zone", "subject", "devices",
                   "ips", "first_seen", "last_seen", "justification", "expires", "updated_by",
                   "recommendation"]


def inventory_rows(devices: Iterable[Device]) -> Iterator[list[str]]:
    for device in devices:
        data = device.model_dump()
        yield [_cell(data.get(c)) for c in INVENTORY_COLUMNS]


def finding_rows(findings: Iterable[Finding], *, lang: str = "en") -> Iterator[list[str]]:
    """One row per finding (FINDING_COLUMNS); the title in `lang` when the rule has it."""
    for f in findings:
        data = f.model_dump()
        if lang == "fr" and f.title_fr:
            data["title"] = f.title_fr
        if lang == "fr" and f.recommendation_fr:
            data["recommendation"] = f.recommendation_fr
        yield [_cell(data.get(c)) for c in FINDING_COLUMNS]


def to_csv(header: list[str], rows: Iterable[list[str]]) -> str:
    """`;`-separated, CRLF, a UTF-8 BOM in front, formulas neutralised."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return "\ufeff" + buf.getvalue()


def to_xlsx(header: list[str], rows: Iterable[list[str]], *, title: str = "medtap") -> bytes:
    """One worksheet, a bold frozen header row; every cell a string (never a formula, whatever it starts
    with)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cells(values: list[str], font: Font | None = None) -> list[Any]:
        out = []
        for value in values:
            # control characters are not allowed in XLSX XML (a hostile DHCP name could carry them)
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
            cell.data_type = "s"  # openpyxl would store "=..." as a formula: typed text instead
            if font is not None:
                cell.font = font
            out.append(cell)
        return out

    sheet.append(cells(header, bold))
    for row in rows:
        sheet.append(cells(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def inventory_csv(devices: Iterable[Device]) -> str:
    return to_csv(INVENTORY_COLUMNS, inventory_rows(devices))


def inventory_xlsx(devices: Iterable[Device]) -> bytes:
    return to_xlsx(INVENTORY_COLUMNS, inventory_rows(devices), title="inventory")


def findings_csv(findings: Iterable[Finding], *, lang: str = "en") -> str:
    return to_csv(FINDING_COLUMNS, finding_rows(findings, lang=lang))


def findings_xlsx(findings: Iterable[Finding], *, lang: str = "en") -> bytes:
    return to_xlsx(FINDING_COLUMNS, finding_rows(findings, lang=lang), title="findings")
