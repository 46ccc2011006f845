"""Community ID v1 flow hash (https://github.com/corelight/community-id-spec).

sha1(seed(2, big-endian) | saddr | daddr | proto | 0 | sport(2) | dport(2)), base64, prefixed
"1:".  Endpoints are ordered so the smaller (address, port) comes first; ICMP/ICMPv6 use type
and code as ports, with the spec's request/response pairs mapped so both directions hash
alike, and one-way messages are not reordered.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct

TCP, UDP, SCTP, ICMP, ICMP6 = 6, 17, 132, 1, 58

ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130,
               139: 140, 140: 139, 144: 145, 145: 144}


def _addr(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else ipaddress.ip_address(value).packed


def community_id(
    saddr: str | bytes, daddr: str | bytes, proto: int, sport: int | None = None, dport: int | None = None,
    seed: int = 0,
) -> str:
    """Community ID v1 of a flow; for ICMP pass the type as `sport` and the code as `dport`."""
    src, dst = _addr(saddr), _addr(daddr)
    one_way = False
    if proto in (ICMP, ICMP6) and sport is not None:
        pairs = ICMP4_PAIRS if proto == ICMP else ICMP6_PAIRS
        if sport in pairs:
            dport = pairs[sport]
        else:
            one_way = True
            dport = dport or 0
    has_ports = proto in (TCP, UDP, SCTP, ICMP, ICMP6) and sport is not None and dport is not None
    if not one_way:
        if has_ports:
            if (src, sport) > (dst, dport):
                src, dst, sport, dport = dst, src, dport, sport
        elif src > dst:
            src, dst = dst, src
    data = struct.pack(">H", seed) + src + dst + struct.pack(">BB", proto, 0)
    if has_ports:
        data += struct.pack(">HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
