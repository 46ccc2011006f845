"""Subject `dhcp_server`: DHCP servers seen answering (offer/ack), keyed by server identifier (opt 54).

declared = the site policy lists the address in dhcp_servers.  Relayed answers name the real
server in option 54, so a relay agent is not mistaken for a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.subjects._common import evidence_of

SUBJECT = "dhcp_server"
FIELDS: dict[str, str] = {
    "server_ip": "server identifier (opt 54) or source address", "server_mac": "MAC of the answering frame",
    "declared": "listed in the site policy", "has_site": "a site policy is loaded", "answers": "offers and acks",
    "clients": "distinct client MACs answered", "vlans": "VLANs it answered in", "relayed": "answers went through a relay",
}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    servers: dict[str, list[Any]] = {}
    for o in ctx.of_kind("dhcp"):
        if o.message_type not in ("offer", "ack", "nak"):  # type: ignore[attr-defined]
            continue
        ip = o.server_id or o.src_ip  # type: ignore[attr-defined]
        if ip:
            servers.setdefault(ip, []).append(o)
    declared = set(ctx.site.dhcp_servers) if ctx.site else set()
    for ip, obs in sorted(servers.items()):
        dev = ctx.device_by_ip(ip)
        macs = {o.src_mac for o in obs if o.src_ip == ip and o.src_mac}
        mac = dev.mac if dev else (sorted(macs)[0] if macs else None)
        yield {
            "server_ip": ip, "server_mac": mac, "declared": ip in declared, "has_site": ctx.site is not None,
            "answers": len(obs), "clients": len({o.client_mac for o in obs}), "vlans": sorted({o.vlan or 0 for o in obs}),
            "relayed": any(o.relay_ip not in (None, "0.0.0.0") for o in obs),
            "_key": ip, "_devices": [mac] if mac else [], "_ips": [ip],
            "_evidence": [evidence_of(o, f"DHCP {o.message_type} from {o.src_ip} (server id {o.server_id}) "
                                         f"to {o.client_mac} assigning {o.assigned_ip}") for o in obs[:3]],
            "_zone": dev.zone if dev else None, "_first_seen": min(o.ts for o in obs), "_last_seen": max(o.ts for o in obs),
        }
