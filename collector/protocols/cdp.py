"""Cisco Discovery Protocol detector (CDP v1/v2, LLC/SNAP OUI 00-00-0c PID 0x2000, dst 01:00:0c:cc:cc:cc).

CDP crossing a provider bridge by Cisco Layer 2 Protocol Tunneling (L2PT, the 802.1Q tunnel
ports of an 802.1ad/QinQ service) has its destination rewritten to 01:00:0c:cd:cd:d0 and is
usually seen tagged: that address is read too, the SNAP header deciding what is CDP.

The payload handed over is the 802.2 LLC/SNAP header then the CDP header (version, TTL,
checksum) and TLVs (2-byte type, 2-byte length including the 4-byte TLV header).  Kept: device
id (0x01), first address (0x02), port id (0x03), capabilities (0x04), first line of the software
version (0x05), platform (0x06), native VLAN (0x0a), duplex (0x0b).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import CdpObs

CDP_MAC = "01:00:0c:cc:cc:cc"
L2PT_MAC = "01:00:0c:cd:cd:d0"  # Cisco L2 protocol tunneling: CDP/STP/VTP carried across a QinQ core
SNAP = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"
CAPS = (
    "router",
    "trans-bridge",
    "source-route-bridge",
    "switch",
    "host",
    "igmp",
    "repeater",
    "phone",
    "remote",
    "cvta",
    "two-port-mac-relay",
)
MAX_TEXT = 256


def _text(raw: bytes) -> str | None:
    value = raw.decode("utf-8", "replace").rstrip("\x00").strip()[:MAX_TEXT]
    return value or None


def _first_address(value: bytes) -> str | None:
    """Address TLV: count, then (ptype, plen, proto, alen, addr); NLPID 0xcc = IPv4, 802.2 = IPv6."""
    count = struct.unpack_from("!I", value, 0)[0]
    pos = 4
    for _ in range(min(count, 8)):
        _ptype, plen = value[pos], value[pos + 1]
        proto = value[pos + 2 : pos + 2 + plen]
        pos += 2 + plen
        alen = struct.unpack_from("!H", value, pos)[0]
        addr = value[pos + 2 : pos + 2 + alen]
        pos += 2 + alen
        if proto == b"\xcc" and len(addr) == 4:
            return str(ipaddress.IPv4Address(addr))
        if proto.endswith(b"\x86\xdd") and len(addr) == 16:
            return str(ipaddress.IPv6Address(addr))
    return None


def decode(pkt: Packet, ctx: DecodeContext) -> list[CdpObs]:
    """One CdpObs per CDP frame; frames without the Cisco SNAP header or device id produce nothing."""
    data = pkt.payload
    if not data.startswith(SNAP):
        return []  # other Cisco LLC protocols to the same MAC (VTP 0x2003, DTP 0x2004, PAgP 0x0104)
    pos = len(SNAP) + 4
    fields: dict[str, Any] = {}
    while pos + 4 <= len(data):
        ttype, length = struct.unpack_from("!HH", data, pos)
        if length < 4:
            ctx.weird("cdp_bad_tlv_length")
            break
        value = data[pos + 4 : pos + length]
        if len(value) < length - 4:
            ctx.weird("cdp_truncated_tlv")
            break
        pos += length
        if ttype == 0x01:
            fields["device_id"] = _text(value)
        elif ttype == 0x02 and "mgmt_ip" not in fields:
            fields["mgmt_ip"] = _first_address(value)
        elif ttype == 0x03:
            fields["port_id"] = _text(value)
        elif ttype == 0x04 and len(value) >= 4:
            bits = struct.unpack_from("!I", value)[0]
            fields["capabilities"] = tuple(c for i, c in enumerate(CAPS) if bits & (1 << i))
        elif ttype == 0x05:
            fields["software_version"] = _text(value.strip().split(b"\n", 1)[0])
        elif ttype == 0x06:
            fields["platform"] = _text(value)
        elif ttype == 0x0A and len(value) >= 2:
            fields["native_vlan"] = struct.unpack_from("!H", value)[0]
        elif ttype == 0x0B and len(value) >= 1:
            fields["duplex"] = "full" if value[0] else "half"
    if not fields.get("device_id"):
        raise ValueError("cdp: no device id TLV")
    return [CdpObs(**pkt.envelope(), **fields)]


DETECTOR = Detector(
    name="cdp",
    layer="ether",
    decode=decode,
    dst_macs=frozenset({CDP_MAC, L2PT_MAC}),
    bpf_hint="ether dst 01:00:0c:cc:cc:cc or ether dst 01:00:0c:cd:cd:d0",
    description="Cisco Discovery Protocol: neighbour switch, port, platform, native VLAN.",
)
