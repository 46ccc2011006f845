"""Observed beside declared: the rows of the device page, with differences flagged.

The same comparisons the reconciliation rules make (MAC, IP, host name, VLAN,
connection, OS, remote maintenance), shown side by side so a biomedical engineer
sees at a glance which line of the identification sheet disagrees with the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.models import Device
from analyzer.sheets import Sheet

REMOTE_PROTOCOLS = ("rdp", "vnc", "teamviewer", "anydesk", "ssh", "telnet", "remote")


@dataclass(frozen=True)
class Row:
    label: str
    observed: str
    declared: str
    differs: bool


def _host(name: str) -> str:
    return name.strip().lower().split(".")[0]


def compare_rows(device: Device, sheet: Sheet | None) -> list[Row]:
    """One row per attribute; `differs` only when both sides are known and disagree."""
    s = sheet
    rows: list[Row] = []
    rows.append(Row("compare.mac", device.mac, (s.mac or "") if s else "",
                    bool(s and s.mac and s.mac != device.mac)))
    rows.append(Row("compare.ip", ", ".join(device.ips), (s.ip or "") if s else "",
                    bool(s and s.ip and s.ip not in device.ips)))
    names = {_host(n) for n in [*device.names, device.hostname or ""] if n}
    declared_host = (s.workstation or "") if s else ""
    rows.append(Row("compare.hostname", device.hostname or "", declared_host,
                    bool(declared_host and names and _host(declared_host) not in names)))
    declared_vlan = "" if not s or s.vlan is None else str(s.vlan)
    rows.append(Row("compare.vlan", ", ".join(str(v) for v in device.vlans), declared_vlan,
                    bool(s and s.vlan is not None and device.vlans and s.vlan not in device.vlans)))
    declared_conn = s.connection if s else ""
    rows.append(Row("compare.connection", device.connection, declared_conn,
                    bool(s and "unknown" not in (s.connection,
                                                 device.connection) and s.connection != device.connection)))
    declared_os = " ".join(x for x in ((s.os_name or "") if s else "",
                                       (s.os_version or "") if s else "") if x)
    observed_os = device.os or ""
    rows.append(Row("compare.os", observed_os, declared_os,
                    bool(declared_os and observed_os and s and s.os_name
                         and s.os_name.split()[0].lower() not in observed_os.lower())))
    rows.append(Row("compare.vendor", device.vendor or "", (s.supplier or "") if s else "", False))
    rows.append(Row("compare.switch_port", device.switch_port or "", "", False))
    seen_remote = sorted({p.split("/")[0] for p in device.protocols if p.split("/")[0] in REMOTE_PROTOCOLS})
    rm = s.remote_maintenance if s else None
    declared_rm = "" if rm is None else "@".join(x for x in (rm.method, rm.gateway or "") if x)
    remote_differs = bool(rm
                          and ((rm.method == "none" and seen_remote)
                               or (rm.method != "none" and seen_remote and rm.method not in seen_remote)))
    rows.append(Row("compare.remote", ", ".join(seen_remote), declared_rm, remote_differs))
    return rows
