"""Decapsulation of VXLAN, GRE, ERSPAN (types I, II, III) and MPLS: the inner frames re-enter the fast path.

A SPAN or TAP often delivers traffic inside one of these (a remote SPAN, a data-centre overlay, an
operator's MPLS core).  Each inner frame goes back into the pipeline through `ctx.inner_frame`
with its tunnel name, so its hosts, conversations and identity protocols are read as if it had
been captured bare; the tunnel endpoints themselves stay the outer frame's hosts.  No record is
emitted for the tunnel itself.

- VXLAN (RFC 7348), UDP 4789 (and 8472, the Linux kernel's historical port): an 8-byte header
  whose flags byte has the I bit (0x08, VNI valid), then an Ethernet frame.
- GRE (RFC 2784, RFC 2890 key and sequence number; header parsed by collector.protocols.aruba_gre),
  IP protocol 47, by protocol type: 0x6558 transparent Ethernet bridging (an Ethernet frame),
  0x0800 / 0x86DD (an IP packet), 0x8847 / 0x8848 (an MPLS label stack), 0x88BE ERSPAN type I
  (no sequence number: the Ethernet frame follows the GRE header) or type II (sequence number
  present: an 8-byte ERSPAN header, version 1), 0x22EB ERSPAN type III (a 12-byte header,
  version 2, plus an 8-byte platform-specific subheader when its O bit is set).  ERSPAN II's En
  field 2 (802.1Q source port, tag carried in the header) puts the header's VLAN back into the
  inner frame as an 802.1Q tag, so the mirrored device keeps its VLAN.  ERSPAN headers follow
  draft-foschiano-erspan.  Aruba's 0x8200/0x8210 belong to aruba_gre, PPTP (version 1) to none.
- MPLS (RFC 3032), ethertypes 0x8847 / 0x8848 (and inside GRE): the label stack is walked to its
  bottom-of-stack entry, then the first nibble of the payload decides (as Wireshark's heuristic
  does): 4 an IPv4 packet, 6 an IPv6 packet, 0 the pseudowire control word of RFC 4385 followed
  by an Ethernet frame (RFC 4448).  Other nibbles (the G-ACh of RFC 5586, or an Ethernet
  pseudowire without control word) are left undecoded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols.aruba_gre import ARUBA_TYPES, inner as gre_inner
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
VXLAN_PORTS = frozenset({4789, 8472})
VXLAN_I_FLAG = 0x08
GRE_TEB, GRE_IPV4, GRE_IPV6, GRE_MPLS, GRE_MPLS_MC = 0x6558, 0x0800, 0x86DD, 0x8847, 0x8848
GRE_ERSPAN_I_II, GRE_ERSPAN_III = 0x88BE, 0x22EB
GRE_SEQUENCE = 0x1000
MPLS_ETHERTYPES = frozenset({0x8847, 0x8848})
MAX_LABELS = 16
ETHER_MIN = 14


def vxlan_probe(payload: bytes) -> bool:
    """An 8-byte VXLAN header with the I flag, followed by at least an Ethernet header."""
    return len(payload) >= 8 + ETHER_MIN and payload[0] & VXLAN_I_FLAG != 0 and payload[7] == 0


def _vxlan_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    payload = pkt.payload
    if not vxlan_probe(payload):
        if len(payload) >= 8:
            ctx.weird("vxlan_bad_header")
        return []
    ctx.inner_frame(payload[8:], LINKTYPE_ETHERNET, "vxlan", pkt.ts, pkt.frame_no)
    return []


def mpls_payload(stack: bytes) -> tuple[int, bytes] | None:
    """(link type, inner frame) after an MPLS label stack; None when the payload is not IP or Ethernet."""
    pos = 0
    for _ in range(MAX_LABELS):
        if len(stack) < pos + 4:
            raise IndexError("mpls: label stack truncated")
        bottom = stack[pos + 2] & 0x01
        pos += 4
        if bottom:
            break
    else:
        raise ValueError("mpls: label stack deeper than 16 entries")
    body = stack[pos:]
    if not body:
        raise IndexError("mpls: no payload after the label stack")
    nibble = body[0] >> 4
    if nibble in (4, 6):
        return LINKTYPE_RAW, body
    if nibble == 0 and len(body) >= 4 + ETHER_MIN:  # RFC 4385 control word, then the Ethernet frame
        return LINKTYPE_ETHERNET, body[4:]
    return None


def _mpls_inner(stack: bytes, pkt: Packet, ctx: DecodeContext) -> None:
    found = mpls_payload(stack)
    if found is not None:
        ctx.inner_frame(found[1], found[0], "mpls", pkt.ts, pkt.frame_no)


def _mpls_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    _mpls_inner(pkt.payload, pkt, ctx)
    return []


def erspan_frame(proto: int, flags: int, body: bytes) -> bytes:
    """The mirrored Ethernet frame of an ERSPAN GRE payload (type I, II or III), its VLAN restored."""
    if proto == GRE_ERSPAN_I_II and not flags & GRE_SEQUENCE:
        return body  # type I: no ERSPAN header
    if proto == GRE_ERSPAN_I_II:
        if len(body) < 8:
            raise IndexError("erspan: type II header truncated")
        word = struct.unpack_from("!H", body, 0)[0]
        if word >> 12 != 1:
            raise ValueError("erspan: type II header version is not 1")
        vlan = word & 0x0FFF
        encap = (body[2] >> 3) & 0x03
        frame = body[8:]
        if encap == 2 and vlan and len(frame) >= ETHER_MIN and frame[12:14] not in (b"\x81\x00", b"\x88\xa8"):
            frame = frame[:12] + b"\x81\x00" + struct.pack("!H", vlan) + frame[12:]  # the stripped 802.1Q tag
        return frame
    if len(body) < 12:
        raise IndexError("erspan: type III header truncated")
    if body[0] >> 4 != 2:
        raise ValueError("erspan: type III header version is not 2")
    offset = 12 + (8 if body[11] & 0x01 else 0)  # O bit: platform-specific subheader
    return body[offset:]


def _gre_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    payload = pkt.payload
    proto, body = gre_inner(payload)
    if proto < 0 or proto in ARUBA_TYPES or not body:
        return []  # PPTP (GRE version 1), Aruba (collector.protocols.aruba_gre), keep-alives
    if proto == GRE_TEB:
        ctx.inner_frame(body, LINKTYPE_ETHERNET, "gre", pkt.ts, pkt.frame_no)
    elif proto in (GRE_IPV4, GRE_IPV6):
        ctx.inner_frame(body, LINKTYPE_RAW, "gre", pkt.ts, pkt.frame_no)
    elif proto in (GRE_MPLS, GRE_MPLS_MC):
        _mpls_inner(body, pkt, ctx)
    elif proto in (GRE_ERSPAN_I_II, GRE_ERSPAN_III):
        flags = struct.unpack_from("!H", payload, 0)[0]
        frame = erspan_frame(proto, flags, body)
        if len(frame) < ETHER_MIN:
            raise IndexError("erspan: mirrored frame truncated")
        ctx.inner_frame(frame, LINKTYPE_ETHERNET, "erspan", pkt.ts, pkt.frame_no)
    return []


DETECTORS = [
    Detector(name="vxlan", layer="udp", decode=_vxlan_decode, probe=vxlan_probe, ports=VXLAN_PORTS,
             bpf_hint="udp port 4789 or udp port 8472",
             description="VXLAN (RFC 7348): inner Ethernet frames re-injected"),
    Detector(name="gre", layer="ip", decode=_gre_decode, ip_protos=frozenset({47}), bpf_hint="ip proto 47",
             description="GRE (RFC 2784/2890): Ethernet bridging, IP, MPLS and ERSPAN I/II/III payloads "
                         "re-injected"),
    Detector(name="mpls", layer="ether", decode=_mpls_decode, ethertypes=MPLS_ETHERTYPES,
             bpf_hint="ether proto 0x8847 or ether proto 0x8848",  # not `mpls`: it shifts later offsets
             description="MPLS (RFC 3032): IPv4, IPv6 or Ethernet pseudowire payload re-injected"),
]
