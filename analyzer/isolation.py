""""If isolated": the clinical flows that depend on a device and would break if it were cut off.

From the stored conversations: every conversation in which one of the device's addresses is the
client or the server and whose application is a medical one identified by content (DICOM, HL7,
ASTM, POCT1-A, IntelliVue and SDC monitoring).  A flow is named by its peer, the application, and
which side the device is on (it serves the peer, or it depends on the peer); so an isolation decision
during an incident is taken knowing what stops: images no longer reach the PACS, results no longer
reach the LIS, a central station loses its beds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.models import Device
from collector.schema import Observation

CLINICAL_APPS: dict[str, str] = {
    "dicom": "imaging (DICOM)",
    "hl7": "HL7 messages",
    "astm": "laboratory results (ASTM)",
    "poct": "point-of-care results (POCT1-A)",
    "intellivue": "patient monitoring (IntelliVue)",
    "sdc": "patient monitoring (SDC)",
}
"""Application -> the clinical flow it carries (the one table of clinical applications)."""


def clinical_flows(device: Device, conversations: Iterable[Observation],
                   devices: Sequence[Device] = ()) -> list[dict[str, Any]]:
    """The device's clinical flows, one per (peer, application, side), busiest first."""
    mine = set(device.ips)
    names: dict[str, Device] = {}
    for d in devices:
        for ip in d.ips:
            names.setdefault(ip, d)
    flows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in conversations:
        app = getattr(c, "app", None)
        if app not in CLINICAL_APPS:
            continue
        client, server = getattr(c, "client_ip", None), getattr(c, "server_ip", None)
        if server in mine and client not in mine:
            peer, side = client, "server"
        elif client in mine and server not in mine:
            peer, side = server, "client"
        else:
            continue
        assert peer is not None
        key = (peer, app, side)
        packets = int(getattr(c, "packets_c2s", 0)) + int(getattr(c, "packets_s2c", 0))
        flow = flows.get(key)
        if flow is None:
            other = names.get(peer)
            flow = flows[key] = {
                "peer_ip": peer, "peer_mac": other.mac if other else None,
                "peer_name": (other.hostname if other else None) or peer,
                "peer_is_dm": bool(other and other.is_dm),
                "app": app, "flow": CLINICAL_APPS[app], "side": side,
                "ports": set(), "packets": 0, "last_seen": None,
            }
        flow["packets"] += packets
        if getattr(c, "server_port", None) is not None:
            flow["ports"].add(c.server_port)  # type: ignore[attr-defined]
        last = getattr(c, "last_ts", None)
        if last is not None and (flow["last_seen"] is None or last > flow["last_seen"]):
            flow["last_seen"] = last
    out = []
    for flow in flows.values():
        flow["ports"] = sorted(flow["ports"])
        out.append(flow)
    out.sort(key=lambda f: (-f["packets"], f["app"], f["peer_ip"]))
    return out
