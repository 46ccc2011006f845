"""ARP detector (RFC 826): who claims which IPv4 address, including gratuitous announcements.

Only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4) is decoded; other hardware or
protocol types are counted as the weird `arp_unsupported` and produce no record.
"""

from __future__ import annotations

import struct

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import ArpObs

ETHERTYPE_ARP = 0x0806
OPS = {1: "request", 2: "reply"}
HEADER = struct.Struct("!HHBBH")
# Validation skipped: every field below is built here with its schema type (str/bool, MACs lower-case
# colon form, IPv4 dotted quad as ipaddress prints it); tests/golden re-validates every record.
_arp_obs = _fast_env(ArpObs)


def _ipv4(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def identity(payload: bytes) -> bytes | None:
    """An ARP record states its sender's binding (collector.facts leaves the target out of the fact):
    the header, the sender and whether it is gratuitous; whom it asks for is evidence.  None for a
    truncated frame (decoded, hence a weird)."""
    if len(payload) < 28:
        return None
    return payload[:18] + (b"\x01" if payload[14:18] == payload[24:28] else b"\x00")


def decode(pkt: Packet, ctx: DecodeContext) -> list[ArpObs]:
    """One ArpObs per Ethernet/IPv4 ARP frame."""
    htype, ptype, hlen, plen, op = HEADER.unpack_from(pkt.payload, 0)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        ctx.weird("arp_unsupported", f"htype={htype} ptype={ptype:#06x}")
        return []
    body = pkt.payload[8:28]
    if len(body) < 20:
        raise ValueError("arp: truncated")
    sender_ip = _ipv4(body[6:10])
    target_ip = _ipv4(body[16:20])
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return [
        _arp_obs(
            envelope,
            op=OPS.get(op, "other"),
            sender_mac=body[0:6].hex(":"),
            sender_ip=sender_ip,
            target_mac=body[10:16].hex(":"),
            target_ip=target_ip,
            gratuitous=sender_ip == target_ip,
        )
    ]


DETECTOR = Detector(
    name="arp",
    layer="ether",
    decode=decode,
    ethertypes=frozenset({ETHERTYPE_ARP}),
    identity=identity,
    bpf_hint="arp",
    description="ARP request/reply: MAC-IP bindings and gratuitous announcements (RFC 826).",
)
