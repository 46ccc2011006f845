"""RADIUS (RFC 2865 authentication, RFC 2866 accounting) from Wi-Fi access points or controllers.

An Access-Request (1) or Accounting-Request (4) whose NAS-Port-Type (61) is 19
(Wireless - IEEE 802.11, RFC 2865 section 5.41) is deterministic evidence that the
Calling-Station-Id (31) is a Wi-Fi client; the Called-Station-Id (30) is the AP radio MAC and
the SSID as `AA-BB-CC-DD-EE-FF:SSID` (RFC 3580 section 3.20/3.21).  Framed-IP-Address (8) in
accounting gives the client IP.  User-Name (1), User-Password (2), CHAP and EAP attributes
are never read.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, WifiObs

RADIUS_PORTS = frozenset({1812, 1813, 1645, 1646})
REQUESTS = {1: "access-request", 4: "accounting-request"}
ALL_CODES = frozenset({1, 2, 3, 4, 5, 11, 12, 13, 40, 41, 42, 43, 44, 45})
NAS_PORT_TYPE_WIRELESS = 19
_HEX = re.compile(r"[0-9a-fA-F]")
_CALLED = re.compile(
    r"((?:[0-9A-Fa-f]{2}[-:]){5}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{12}|(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4})"
    r"(?::(.*))?$",
    re.S,
)
"""Called-Station-Id: the AP MAC (dashes, colons, Cisco dots or bare hex), then ':SSID' (RFC 3580 3.20)."""


def normalise_mac(text: str) -> str | None:
    """'AA-BB-CC-DD-EE-FF', 'aabb.ccdd.eeff', 'AABBCCDDEEFF' or 'aa:bb:..' -> 'aa:bb:cc:dd:ee:ff'."""
    digits = "".join(_HEX.findall(text))
    stripped = re.sub(r"[-:.\s]", "", text)
    if len(digits) != 12 or len(stripped) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).lower()


def attributes(payload: bytes) -> tuple[int, dict[int, bytes]]:
    """(code, first value of each attribute type) of a RADIUS packet; raises when malformed."""
    code, _ident, length = struct.unpack_from("!BBH", payload, 0)
    if code not in ALL_CODES or length < 20 or length > len(payload):
        raise ValueError("not a RADIUS packet")
    attrs: dict[int, bytes] = {}
    pos = 20
    while pos < length:
        atype, alen = payload[pos], payload[pos + 1]
        if alen < 2 or pos + alen > length:
            raise ValueError("RADIUS attribute length out of range")
        attrs.setdefault(atype, payload[pos + 2 : pos + alen])
        pos += alen
    return code, attrs


def probe(payload: bytes) -> bool:
    try:
        attributes(payload)
    except (ValueError, IndexError, struct.error):
        return False
    return True


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    code, attrs = attributes(pkt.payload)
    if code not in REQUESTS:
        return []
    port_type = attrs.get(61)
    if port_type is None or len(port_type) != 4:
        return []
    if struct.unpack("!I", port_type)[0] != NAS_PORT_TYPE_WIRELESS:
        return []
    calling = attrs.get(31, b"").decode("ascii", "replace")
    called = attrs.get(30, b"").decode("utf-8", "replace")
    found = _CALLED.match(called)
    ap_part, ssid = (found.group(1), found.group(2) or "") if found else ("", "")
    framed = attrs.get(8)
    client_ip = str(ipaddress.IPv4Address(framed)) if framed is not None and len(framed) == 4 else None
    client_mac = normalise_mac(calling) if calling else None
    if client_mac is None:
        ctx.weird("radius_calling_station_not_mac")
    return [WifiObs(
        **pkt.envelope(), evidence="radius", client_mac=client_mac, client_ip=client_ip,
        ap_mac=normalise_mac(ap_part) if ap_part else None, ssid=ssid[:32] or None, confidence=1.0,
    )]


DETECTOR = Detector(
    name="radius",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=RADIUS_PORTS,
    bpf_hint="udp port 1812 or udp port 1813 or udp port 1645 or udp port 1646",
    description="RADIUS NAS-Port-Type 19: Wi-Fi client MAC, AP MAC and SSID (never user names)",
)
