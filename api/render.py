"""Terminal rendering of the inventory, findings and run stats (rich tables): CLI output only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from analyzer.models import Device, Finding, Stats

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def devices_table(devices: Sequence[Device], title: str = "Inventory") -> Table:
    """One row per device: who and where (VLAN, switch port, connection, zone), what it is and runs."""
    table = Table(title=f"{title} ({len(devices)} devices)", show_lines=False, expand=False)
    for col in ("MAC", "IP", "VLAN", "Vendor", "Name", "Role", "Zone", "Conn.", "OS", "Switch port", "Sheet"):
        table.add_column(col, overflow="fold")
    for d in devices:
        table.add_row(
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
        table.add_row(
            f"[{_SEVERITY_STYLE.get(f.severity, '')}]{f.severity}[/]",
            f.rule,
            f.title,
            who or f.subject,
            f.service,
            f.status,
            f.id,
        )
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
    if stats.table_overflow:
        parts.append("table caps reached: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.table_overflow.items())))
    return " · ".join(parts)


def print_weirds(console: Console, stats: Stats) -> None:
    """The named weirds of a run (malformed input is reported, never fatal)."""
    if not stats.weirds:
        return
    table = Table(title="Weirds (malformed or unexpected input, counted)")
    table.add_column("Name")
    table.add_column("Count", justify="right")
    for name, count in sorted(stats.weirds.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(name, str(count))
    console.print(table)
