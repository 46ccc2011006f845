"""Terminal rendering of the inventory, findings and run stats (rich tables): CLI output only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from analyzer.models import Device, Finding, Stats

# C0 and C1 controls, DEL, and the Unicode bidi/format characters that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def safe_text(value: object) -> str:
    """Any text that may come from the wire (or a file), ready to print through rich.

    Names seen on the network (DHCP hostname, SNI, AE title, vendor...) are attacker-chosen:
    `[/]` would crash rich's markup parser, `[link=...]` would render as a link, and an ESC, BEL
    or C1 byte would reach the terminal as a control sequence.  Controls become visible
    escapes (`\\x1b`, `\\u202e`) and markup is escaped, so the name prints literally.
    """
    return escape(visible(value))


def cell(value: object) -> Text:
    """A table cell that is never parsed as markup, controls made visible (see safe_text)."""
    return Text(visible(value))


def visible(value: object) -> str:
    """`value` as text with every control or bidi character replaced by a visible escape."""
    return _UNSAFE.sub(_visible, str(value))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def devices_table(devices: Sequence[Device], title: str = "Inventory") -> Table:
    """One row per device: who and where (VLAN, switch port, connection, zone), what it is and runs."""
    table = Table(title=f"{title} ({len(devices)} devices)", show_lines=False, expand=False)
    for col in ("MAC", "IP", "VLAN", "Vendor", "Name", "Role", "Zone", "Conn.", "OS", "Switch port", "Sheet"):
        table.add_column(col, overflow="fold")
    for d in devices:
        cells = (
            d.mac,
            ", ".join(d.ips[:3]) + (" …" if len(d.ips) > 3 else ""),
            ",".join(str(v) for v in d.vlans) or "-",
            d.vendor or "-",
            d.hostname or "-",
            d.role + (" (DM)" if d.is_dm and "dm" not in d.role else ""),
            d.zone or "-",
            d.connection,
            d.os or "-",
            d.switch_port or "-",
            d.sheet_id or "-",
        )
        table.add_row(*map(cell, cells))
    return table


def findings_table(findings: Sequence[Finding], title: str = "Findings") -> Table:
    """One row per finding, most severe first, with the service that must act."""
    table = Table(title=f"{title} ({len(findings)})", expand=False)
    for col in ("Severity", "Rule", "Title", "Subject", "Service", "Status", "Id"):
        table.add_column(col, overflow="fold")
    for f in findings:
        if "->" in f.subject:  # a conversation or remote session says more than its addresses
            who = f.subject
        else:
            who = ", ".join((f.ips or f.devices)[:3]) + (" …" if len(f.ips or f.devices) > 3 else "")
        style = _SEVERITY_STYLE.get(f.severity, "")
        severity = f"[{style}]{safe_text(f.severity)}[/]" if style else safe_text(f.severity)
        table.add_row(severity, *map(cell, (f.rule, f.title, who or f.subject, f.service, f.status, f.id)))
    return table


def stats_line(stats: Stats) -> str:
    """One line summary of a run: frames, malformed, period, damage."""
    parts = [
        f"{stats.packets} frames",
        f"{stats.malformed} malformed",
        f"{_ts(stats.first_ts)} → {_ts(stats.last_ts)} UTC",
    ]
    if stats.truncated:
        parts.append("capture TRUNCATED (kept what it held)")
    if stats.kernel_drops:
        parts.append(f"{stats.kernel_drops} kernel drops")
    if stats.queue_drops:
        parts.append(f"{stats.queue_drops} queue drops")
    if len(stats.workers) > 1:
        parts.append(f"{len(stats.workers)} workers (" + " + ".join(map(str, stats.workers)) + " frames)")
    if stats.table_overflow:
        parts.append("table caps reached: " + ", ".join(f"{k}={v}"
                                                        for k, v in sorted(stats.table_overflow.items())))
    return " · ".join(parts)


def print_weirds(console: Console, stats: Stats) -> None:
    """The named weirds of a run (malformed input is reported, never fatal)."""
    if not stats.weirds:
        return
    table = Table(title="Weirds (malformed or unexpected input, counted)")
    table.add_column("Name")
    table.add_column("Count", justify="right")
    for name, count in sorted(stats.weirds.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(cell(name), str(count))
    console.print(table)
