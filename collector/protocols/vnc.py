"""VNC / RFB server handshake (RFC 6143 section 7.1): version banner and offered security types.

The server speaks first with `RFB xxx.yyy\\n` (12 bytes) on any port; the version goes into
`detail`.  When the server's next bytes are in the same direction prefix they say which
security it accepts (7.1.2): RFB 3.3 sends one u32 type chosen by the server, 3.7+ sends a
count and a list.  Security type 1 ("None") means no password at all: `detail` then
contains `security=none`, which the analyzer can flag.  Only the server direction emits
a record, so a session gives one record.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

_BANNER = re.compile(rb"RFB (\d{3})\.(\d{3})\n")
SECURITY_TYPES = {0: "invalid", 1: "none", 2: "vnc-auth", 5: "ra2", 6: "ra2ne", 16: "tight", 17: "ultra",
                  18: "tls", 19: "vencrypt", 20: "sasl", 21: "md5", 22: "xvp", 30: "apple-dh", 35: "apple-35"}


def probe(payload: bytes) -> bool:
    return _BANNER.match(payload[:12]) is not None


def _security(major: int, minor: int, rest: bytes) -> list[str]:
    if not rest:
        return []
    if major == 3 and minor < 7:  # RFB 3.3: the server decides, one u32
        if len(rest) < 4:
            return []
        (kind,) = struct.unpack_from("!I", rest, 0)
        return [SECURITY_TYPES.get(kind, str(kind))]
    count = rest[0]
    types = rest[1 : 1 + count]
    return [SECURITY_TYPES.get(t, str(t)) for t in types] if count else ["refused"]


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    found = _BANNER.match(pkt.payload[:12])
    if found is None or pkt.from_client:
        return []  # the client echoes a version too; one record per session, from the server
    major, minor = int(found.group(1)), int(found.group(2))
    detail = f"RFB {found.group(1).decode()}.{found.group(2).decode()}"
    security = _security(major, minor, pkt.payload[12:])
    if security:
        detail += ";security=" + ",".join(security)
    return [RemoteAccessObs(
        **pkt.envelope(), method="vnc", signature="vnc-rfb", evidence="content", confidence=1.0,
        client_ip=pkt.client_ip or pkt.dst_ip, server_ip=pkt.server_ip or pkt.src_ip,
        server_port=pkt.server_port or pkt.src_port, detail=detail,
    )]


DETECTOR = Detector(
    name="vnc",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({5900, 5901, 5800}),
    app="vnc",
    bpf_hint="tcp portrange 5900-5901 or tcp port 5800",
    description="VNC/RFB server version banner and security types (RFC 6143)",
)
