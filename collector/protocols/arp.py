"""ARP detector (RFC 826): who claims which IPv4 address, including gratuitous announcements.

Only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4) is decoded; other hardware or
protocol types are counted as the weird `arp_unsupported` and produce no record.
"""

from __future__ import annotations

import ipaddress
import struct

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import ArpObs

ETHERTYPE_ARP = 0x0806
OPS = {1: "request", 2: "reply"}


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def decode(pkt: Packet, ctx: DecodeContext) -> list[ArpObs]:
    """One ArpObs per Ethernet/IPv4 ARP frame."""
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", pkt.payload, 0)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        ctx.weird("arp_unsupported", f"htype={htype} ptype={ptype:#06x}")
        return []
    body = pkt.payload[8:28]
    if len(body) < 20:
        raise ValueError("arp: truncated")
    sender_ip = str(ipaddress.IPv4Address(body[6:10]))
    target_ip = str(ipaddress.IPv4Address(body[16:20]))
    return [
        ArpObs(
            **pkt.envelope(),
            op=OPS.get(op, "other"),  # type: ignore[arg-type]
            sender_mac=_mac(body[0:6]),
            sender_ip=sender_ip,
            target_mac=_mac(body[10:16]),
            target_ip=target_ip,
            gratuitous=sender_ip == target_ip,
        )
    ]


DETECTOR = Detector(
    name="arp",
    layer="ether",
    decode=decode,
    ethertypes=frozenset({ETHERTYPE_ARP}),
    bpf_hint="arp",
    description="ARP request/reply: MAC-IP bindings and gratuitous announcements (RFC 826).",
)
