"""Subject `write_path`: one row per operation that can change a device's settings (analyzer.writes):
SNMP SetRequest, HTTP POST/PUT/DELETE/PATCH, DICOM N-SET/N-CREATE/N-ACTION/N-DELETE, telnet, SSH,
desktop-sharing, FTP and vendor service sessions, per client, server, port, protocol and operation.

approved = the client is a maintenance gateway of the site policy; declared_peer = the client is a
declared interface, server or remote-maintenance gateway of the server's matched sheet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.digest import digest_of
from analyzer.writes import declared_ips, sheets_by_mac

SUBJECT = "write_path"
FIELDS: dict[str, str] = {
    "protocol": "snmp, http, dicom, or the remote-access method (telnet, ssh, rdp, vnc, ...)",
    "operation": "SetRequest, POST/PUT/DELETE/PATCH, N-SET-RQ/N-CREATE-RQ/..., or session",
    "client_ip": "the host that writes", "server_ip": "the device written to", "server_port": "port",
    "server_is_dm": "the device written to is a DM", "server_role": "its role",
    "server_hostname": "its name (its MAC when it has none, else its address)",
    "client_is_dm": "the writer is a DM", "via_gateway": "the writer is a maintenance gateway of the site",
    "gateway": "gateway name", "declared_peer": "the writer is declared in the device's sheet",
    "server_sheet_id": "sheet matched to the device written to", "count": "observations",
}


def rows(ctx: Any) -> Iterator[dict[str, Any]]:
    digest = digest_of(ctx)
    from analyzer.reconcile import _Resolver

    site = ctx.site
    sheets = sheets_by_mac(ctx)
    resolver = _Resolver(ctx.devices)
    declared: dict[str, set[str]] = {}
    for _, p in sorted(digest.writes.paths.items(), key=lambda kv: str(kv[0])):
        sdev, cdev = ctx.device_by_ip(p.server), ctx.device_by_ip(p.client)
        sheet = sheets.get(sdev.mac) if sdev is not None else None
        if sheet is not None and sheet.id not in declared:
            declared[sheet.id] = declared_ips(sheet, resolver)
        gateway = site.gateway_for(p.client) if site is not None else None
        yield {
            "protocol": p.protocol, "operation": p.operation, "client_ip": p.client, "server_ip": p.server,
            "server_port": p.port, "server_is_dm": bool(sdev and sdev.is_dm),
            "server_role": sdev.role if sdev else None,
            "server_hostname": (sdev.hostname or sdev.mac) if sdev else p.server,
            "client_is_dm": bool(cdev and cdev.is_dm), "via_gateway": gateway is not None,
            "gateway": gateway.name if gateway is not None else None,
            "declared_peer": sheet is not None and p.client in declared[sheet.id],
            "server_sheet_id": sheet.id if sheet is not None else None, "count": p.count,
            "_key": f"{p.client}->{p.server}:{p.port}/{p.protocol} {p.operation}",
            "_devices": sorted({d.mac for d in (sdev, cdev) if d is not None and not d.is_router}),
            "_ips": sorted({p.client, p.server}),
            "_evidence": p.top.evidence(),
            "_zone": sdev.zone if sdev else None, "_first_seen": p.first_ts, "_last_seen": p.last_ts,
        }
