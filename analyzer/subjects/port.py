"""Subject `port`: switch ports learnt from LLDP/CDP pairing (key: 'switch port'), plus hub evidence.

mac_count is the number of distinct devices whose own LLDP-MED announcement was paired with that
switch port announcement; more than one means a hub or an unmanaged switch behind the port.
Devices announcing the LLDP/CDP `repeater` capability are hubs (rows with repeater = true).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.models import Evidence

SUBJECT = "port"
FIELDS: dict[str, str] = {
    "switch_port": "'switch port-id'", "switch": "switch name", "port": "port id",
    "mac_count": "devices behind it",
    "macs": "their MACs", "vlans": "their VLANs",
    "repeater": "a device announces the repeater (hub) capability",
    "any_dm": "a DM is behind it",
}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    ports: dict[str, list[Any]] = {}
    for d in ctx.devices.values():
        if d.switch_port:
            ports.setdefault(d.switch_port, []).append(d)
    for sp, devs in sorted(ports.items()):
        switch, _, port = sp.rpartition(" ")
        macs = sorted(d.mac for d in devs)
        yield {
            "switch_port": sp, "switch": switch, "port": port, "mac_count": len(macs), "macs": macs,
            "vlans": sorted({v for d in devs for v in d.vlans}), "repeater": False,
            "any_dm": any(d.is_dm for d in devs),
            "_key": sp, "_devices": macs, "_ips": sorted({ip for d in devs for ip in d.ips}),
            "_evidence": [Evidence(text=f"{len(macs)} devices announce themselves behind {sp}: "
                                        f"{', '.join(macs)}")],
            "_zone": devs[0].zone,
            "_first_seen": min((d.first_seen for d in devs if d.first_seen), default=None),
            "_last_seen": max((d.last_seen for d in devs if d.last_seen), default=None),
        }
    for mac, d in sorted(ctx.devices.items()):
        caps = {c for f in d.facts if f.attribute in ("lldp_capabilities", "cdp_capabilities")
                for c in f.value.split(",")}
        if "repeater" in caps:
            yield {
                "switch_port": d.switch_port, "switch": d.hostname, "port": None, "mac_count": 0,
                "macs": [mac],
                "vlans": d.vlans, "repeater": True, "any_dm": d.is_dm, "_key": f"hub:{mac}",
                "_devices": [mac],
                "_ips": d.ips,
                "_evidence": [Evidence(text=f"{mac} ({d.hostname or '-'}) announces the repeater "
                                            "capability")],
                "_zone": d.zone, "_first_seen": d.first_seen, "_last_seen": d.last_seen,
            }
