"""RDP connection sequence start: TPKT (RFC 1006) + X.224 Connection Request / Confirm (MS-RDPBCGR 2.2.1.1-2).

The client's X.224 Connection Request may carry a routing cookie `Cookie: mstshash=USER\\r\\n`
(the user name typed in the client): it is kept only as present/absent and a keyed hash,
never the name.  The RDP Negotiation Request (type 0x01) lists the security protocols the
client accepts (standard RDP, TLS, CredSSP/NLA, RDSTLS, CredSSP-EX); the Negotiation
Response (0x02) from the server says which one it selected, and a Negotiation Failure
(0x03) why it refused.  Legacy "standard RDP security" (no TLS) is a finding the analyzer
can raise from `detail`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

X224_CR = 0xE0
X224_CC = 0xD0
PROTOCOLS = ((0x1, "ssl"), (0x2, "hybrid"), (0x4, "rdstls"), (0x8, "hybrid-ex"), (0x10, "rdsaad"))
FAILURES = {1: "ssl-required", 2: "ssl-not-allowed", 3: "ssl-cert-not-on-server", 4: "inconsistent-flags",
            5: "hybrid-required", 6: "ssl-with-user-auth-required"}
_COOKIE = b"Cookie: mstshash="
_ROUTING = b"Cookie: msts="


def _names(mask: int) -> str:
    names = [name for bit, name in PROTOCOLS if mask & bit]
    return ",".join(names) if names else "rdp"


def probe(payload: bytes) -> bool:
    """TPKT version 3 with a plausible length and an X.224 CR or CC TPDU."""
    if len(payload) < 11 or payload[0] != 0x03 or payload[1] != 0x00:
        return False
    length = (payload[2] << 8) | payload[3]
    return 11 <= length <= 4096 and payload[5] & 0xF0 in (X224_CR, X224_CC) and payload[4] + 5 <= length


def _tpdu(payload: bytes) -> tuple[int, bytes]:
    """(X.224 code, variable part after the 7-byte CR/CC header) of the first TPKT."""
    if not probe(payload):
        raise ValueError("not a TPKT X.224 CR/CC")
    (length,) = struct.unpack_from("!H", payload, 2)
    body = payload[4:length]
    if len(body) < 7:
        raise IndexError("X.224 TPDU truncated")
    return body[1] & 0xF0, body[7:]


def _negotiation(data: bytes) -> tuple[int, int] | None:
    """(type, value) of an RDP_NEG_REQ/RSP/FAILURE structure (8 bytes, little-endian) at `data`."""
    if len(data) < 8:
        return None
    neg_type, _flags, length, value = struct.unpack_from("<BBHI", data, 0)
    if neg_type not in (1, 2, 3) or length != 8:
        return None
    return neg_type, value


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    if not probe(pkt.payload):
        return []  # other traffic on 3389 (TLS after negotiation: see signature rdp-tls-3389)
    code, rest = _tpdu(pkt.payload)
    user_present, user_hash, parts = False, None, []
    if code == X224_CR:
        if rest.startswith(_COOKIE):
            end = rest.find(b"\r\n")
            if end < 0:
                raise ValueError("mstshash cookie without CRLF")
            user = rest[len(_COOKIE) : end].decode("utf-8", "replace")
            user_present, user_hash = bool(user), (ctx.pseudonymise(user) if user else None)
            rest = rest[end + 2 :]
        elif rest.startswith(_ROUTING):
            end = rest.find(b"\r\n")
            parts.append("routing-token")
            rest = rest[end + 2 :] if end >= 0 else b""
        neg = _negotiation(rest)
        if neg and neg[0] == 1:
            parts.append(f"requested={_names(neg[1])}")
        else:
            parts.append("requested=rdp")  # no negotiation request: standard RDP security only
    else:
        neg = _negotiation(rest)
        if neg and neg[0] == 2:
            parts.append(f"selected={_names(neg[1]) if neg[1] else 'rdp'}")
        elif neg and neg[0] == 3:
            parts.append(f"failure={FAILURES.get(neg[1], str(neg[1]))}")
        else:
            parts.append("selected=rdp")
    client_ip = pkt.client_ip or (pkt.src_ip if pkt.from_client else pkt.dst_ip)
    server_ip = pkt.server_ip or (pkt.dst_ip if pkt.from_client else pkt.src_ip)
    server_port = pkt.server_port or (pkt.dst_port if pkt.from_client else pkt.src_port)
    return [RemoteAccessObs(
        **pkt.envelope(), method="rdp", signature="rdp-x224" if code == X224_CR else "rdp-x224-confirm",
        evidence="content", confidence=1.0, client_ip=client_ip, server_ip=server_ip,
        server_port=server_port, detail=";".join(parts), user_present=user_present, user_hash=user_hash,
    )]


DETECTOR = Detector(
    name="rdp",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({3389}),
    app="rdp",
    bpf_hint="tcp port 3389",
    description="RDP X.224 connection request/confirm: mstshash user (hashed), security protocols",
)
