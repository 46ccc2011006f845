"""NetBIOS name service detector (RFC 1001/1002, UDP 137): names hosts register, query or answer.

The question (or answer) name is first-level decoded (RFC 1001 section 14.1: each byte is two
letters 'A'+nibble); the 16th byte is the name type suffix (0x00 workstation, 0x20 file server,
0x1b/0x1c domain...).  The NB_FLAGS G bit marks a group name; the address comes from the NB
resource record of a registration or a positive response.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet, after_txid
from collector.schema import NetbiosObs

OPCODES = {0: "query", 5: "registration", 6: "release", 7: "wack", 8: "refresh", 9: "refresh"}


def decode_name(encoded: bytes) -> tuple[str, int]:
    """First-level decoding of a 32-byte encoded name -> (name without padding, suffix)."""
    if len(encoded) != 32:
        raise ValueError("netbios: encoded name is not 32 bytes")
    raw = bytearray()
    for i in range(0, 32, 2):
        hi, lo = encoded[i] - 0x41, encoded[i + 1] - 0x41
        if not (0 <= hi < 16 and 0 <= lo < 16):
            raise ValueError("netbios: name byte out of range")
        raw.append(hi << 4 | lo)
    return raw[:15].decode("latin-1").rstrip(" \x00"), raw[15]


def _read_name(msg: bytes, pos: int) -> tuple[bytes, int]:
    """Encoded first label of a name at pos (following one pointer), and the offset after it."""
    length = msg[pos]
    if length & 0xC0 == 0xC0:
        target = ((length & 0x3F) << 8) | msg[pos + 1]
        label, _ = _read_name_direct(msg, target)
        return label, pos + 2
    return _read_name_direct(msg, pos)


def _read_name_direct(msg: bytes, pos: int) -> tuple[bytes, int]:
    length = msg[pos]
    if length != 32:
        raise ValueError("netbios: first label is not 32 bytes")
    label = msg[pos + 1 : pos + 33]
    pos += 33
    for _ in range(16):  # scope id labels, then the root
        n = msg[pos]
        if n == 0:
            return label, pos + 1
        if n & 0xC0:
            return label, pos + 2
        pos += 1 + n
    raise ValueError("netbios: scope too long")


def probe(payload: bytes) -> bool:
    """Name service header with one question or one answer and a 32-byte encoded name."""
    if len(payload) < 50:
        return False
    flags, qd, an = struct.unpack_from("!HHH", payload, 2)
    return (flags >> 11) & 0xF in OPCODES and qd + an >= 1 and payload[12] == 32


# Validation skipped (collector.flows._fast): every field is built here with its schema type;
# tests/golden re-validates every record through the schema.
_netbios_obs = _fast_env(NetbiosObs)


def _envelope(pkt: Packet) -> dict[str, Any]:
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return envelope


def decode(pkt: Packet, ctx: DecodeContext) -> list[NetbiosObs]:
    """One NetbiosObs per name service packet (the first name and its first NB address)."""
    msg = pkt.payload
    _tid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
    response = bool(flags & 0x8000)
    opcode = (flags >> 11) & 0xF
    if opcode not in OPCODES:
        ctx.weird("netbios_unknown_opcode", str(opcode))
        return []
    pos = 12
    encoded = b""
    if qd:
        encoded, pos = _read_name(msg, pos)
        struct.unpack_from("!HH", msg, pos)
        pos += 4
    address: str | None = None
    group = False
    if an + ns + ar:
        rr_name, pos = _read_name(msg, pos)
        encoded = encoded or rr_name
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
        pos += 10
        if rtype == 0x20 and rdlen >= 6:
            nb_flags = struct.unpack_from("!H", msg, pos)[0]
            group = bool(nb_flags & 0x8000)
            address = str(ipaddress.IPv4Address(msg[pos + 2 : pos + 6]))
        elif rtype == 0x21 and rdlen >= 19:
            status = _node_status(msg[pos : pos + rdlen])
            if status is not None:
                name, suffix, group = status
                return [_netbios_obs(_envelope(pkt), op="status", name=name, suffix=suffix, group=group)]
    name, suffix = decode_name(encoded)
    op = "response" if response and opcode == 0 else OPCODES[opcode]
    return [_netbios_obs(_envelope(pkt), op=op, name=name, suffix=suffix, group=group, address=address)]


def _node_status(rdata: bytes) -> tuple[str, int, bool] | None:
    """The host's own name from a NODE STATUS response (RFC 1002 4.2.18): the first unique 0x00 name."""
    entries = [rdata[1 + 18 * i : 19 + 18 * i] for i in range(rdata[0])]
    entries = [e for e in entries if len(e) == 18]
    if not entries:
        return None
    unique = [e for e in entries if e[15] == 0x00 and not e[16] & 0x80]
    best = (unique or entries)[0]
    return best[:15].decode("latin-1").rstrip(" \x00"), best[15], bool(best[16] & 0x80)


DETECTOR = Detector(
    name="netbios-ns",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({137}),
    identity=after_txid,
    app="netbios-ns",
    bpf_hint="udp port 137",
    description="NetBIOS name service registrations and queries (RFC 1002).",
)
