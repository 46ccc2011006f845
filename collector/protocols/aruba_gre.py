"""Aruba AP-to-controller GRE tunnels (RFC 2784/2890 GRE, protocol types 0x8200 / 0x8210) carrying 802.11.

GRE header: flags and version (C 0x8000 checksum present, K 0x2000 key present, S 0x1000
sequence present; version 0) and the protocol type; optional fields follow in that order.
Aruba campus APs tunnel the clients' native 802.11 frames with protocol type 0x8200
(0x8210 on newer releases): each is re-injected with `ctx.inner_frame(..., 105,
"aruba-gre", ...)` and a `WifiObs(evidence="aruba-gre")` names the station and the BSSID
(ap_mac).  Other GRE payloads (PPTP, ERSPAN, plain IP) are left to other detectors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols._wifi_inner import reinject_dot11
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation

ARUBA_TYPES = frozenset({0x8200, 0x8210})


def inner(payload: bytes) -> tuple[int, bytes]:
    """(GRE protocol type, GRE payload); type -1 for GRE version 1 (PPTP); raises on a short header."""
    flags, proto = struct.unpack_from("!HH", payload, 0)
    if flags & 0x0007:
        return -1, b""
    offset = 4 + 4 * sum(1 for bit in (0x8000, 0x2000, 0x1000) if flags & bit)
    if offset > len(payload):
        raise IndexError("GRE header truncated")
    return proto, payload[offset:]


def probe(payload: bytes) -> bool:
    try:
        return inner(payload)[0] in ARUBA_TYPES
    except (ValueError, IndexError, struct.error):
        return False


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    proto, frame = inner(pkt.payload)
    if proto not in ARUBA_TYPES:
        return []
    if not frame:
        return []  # Aruba heartbeat: empty GRE payload
    return reinject_dot11(pkt, ctx, frame, "aruba-gre")


DETECTOR = Detector(
    name="aruba-gre",
    layer="ip",
    decode=decode,
    probe=probe,
    ip_protos=frozenset({47}),
    bpf_hint="ip proto 47",
    description="Aruba GRE (0x8200/0x8210) 802.11 tunnel: inner frames re-injected, wireless stations",
)
