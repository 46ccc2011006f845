"""Subject `dhcp_server`: DHCP servers seen answering (offer/ack), keyed by server identifier (opt 54).

declared = the site policy lists the address in dhcp_servers.  Relayed answers name the real
server in option 54, so a relay agent is not mistaken for a server, and a declared server reached
through a relay is credited by that identifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.digest import digest_of

SUBJECT = "dhcp_server"
FIELDS: dict[str, str] = {
    "server_ip": "server identifier (opt 54) or source address", "server_mac": "MAC of the answering frame",
    "declared": "listed in the site policy", "has_site": "a site policy is loaded",
    "answers": "offers and acks",
    "clients": "distinct client MACs answered", "vlans": "VLANs it answered in",
    "relayed": "answers went through a relay",
}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    declared = set(ctx.site.dhcp_servers) if ctx.site else set()
    for ip, s in sorted(digest_of(ctx).dhcp_servers.items()):
        dev = ctx.device_by_ip(ip)
        mac = dev.mac if dev else (sorted(s.macs)[0] if s.macs else None)
        yield {
            "server_ip": ip, "server_mac": mac, "declared": ip in declared, "has_site": ctx.site is not None,
            "answers": s.answers, "clients": len(s.clients), "vlans": sorted(s.vlans), "relayed": s.relayed,
            "_key": ip, "_devices": [mac] if mac else [], "_ips": [ip],
            "_evidence": s.top.evidence(),
            "_zone": dev.zone if dev else None, "_first_seen": s.first_ts, "_last_seen": s.last_ts,
            "_policy": [ctx.site.dhcp_ref(ip)] if ctx.site is not None else [],
        }
