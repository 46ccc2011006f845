"""The fast path: link, VLAN, IP and L4 headers of every frame, on bytes, no object per frame.

Link layers (tcpdump.org LINKTYPE_*): Ethernet II / 802.3 (IEEE 802.3), Linux cooked SLL and
SLL2, raw IPv4/IPv6, BSD NULL/LOOP, PPP (RFC 1661, HDLC-like framing RFC 1662), 802.11 bare or
behind a radiotap, Prism or AVS header (see collector.dot11).

VLAN tags: 802.1Q / 802.1ad (0x8100, 0x88a8, 0x9100) tags are walked (up to `MAX_TAGS`).  Every
record carries both ends of a stack: `vlan` is the innermost id and `outer_vlan` the outermost
when there are two or more (None with a single tag).  The device's VLAN, the one the site
policy's zones and the rules use, is the inner (customer, C-tag) one: in IEEE 802.1ad the
provider edge pushes the outer S-tag to carry a whole customer trunk across its bridges, so the
S-tag names the service or the transport (one value for every VLAN of a building on a metro
link, or the VLAN a SPAN/RSPAN session adds), while the C-tag is the one the hospital's access
switch gave the device's port.  A middle tag of a deeper stack is not kept.

IPv4 (RFC 791: IHL and
total length checked, only the first fragment carries L4 ports), IPv6 (RFC 8200: extension
headers walked), PPPoE sessions (RFC 2516), TCP (RFC 9293), UDP (RFC 768), SCTP (RFC 9260 common
header), ICMP/ICMPv6
(type and code kept for the Community ID).

`Decoder.decode(data, linktype)` returns a flat tuple indexed by the constants below, or None
when nothing could be read; malformed headers are counted in `Decoder.weirds`, never raised.
"""

from __future__ import annotations

import struct

from collector import dot11, linktypes

# Indices of the header tuple returned by Decoder.decode.
(SRC, DST, VLAN, OUTER, ETYPE, L2OFF, IPVER, SIP, DIP, PROTO, TTL, SPORT, DPORT, FLAGS, L4OFF, POFF, PEND,
 SEQ,
 WIFI) = range(19)

VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
MAX_TAGS = 4
IPV6_EXT = frozenset({0, 43, 60, 51, 135, 139, 140})
RAW_LINKS = frozenset({linktypes.RAW, linktypes.RAW_12, linktypes.RAW_14, linktypes.IPV4, linktypes.IPV6})
NULL_V6 = frozenset({24, 28, 30})
PPP_ETHERTYPES = {0x0021: 0x0800, 0x0057: 0x86DD}

_HH = struct.Struct(">HH").unpack_from
_HHI = struct.Struct(">HHI").unpack_from
_NO_L3 = (0, None, None, None, None, None, None, 0, None, None, None, None)


class Decoder:
    """Header walker with its weird counters (one per pipeline)."""

    __slots__ = ("count", "weirds")

    def __init__(self) -> None:
        self.weirds: dict[str, int] = {}
        self.count = 0
        """Weirds counted so far (the pipeline compares it around a frame: malformed frames)."""

    def weird(self, name: str) -> None:
        self.weirds[name] = self.weirds.get(name, 0) + 1
        self.count += 1

    def decode(self, data: bytes, linktype: int) -> tuple | None:
        """Header tuple of one frame (see the index constants), None when unreadable."""
        n = len(data)
        src = dst = vlan = outer = wifi = None
        if linktype == 1:
            if n < 14:
                self.weird("truncated_ethernet")
                return None
            dst = data[0:6]
            src = data[6:12]
            et = (data[12] << 8) | data[13]
            off = 14
        elif linktype == 113:
            if n < 16:
                self.weird("truncated_sll")
                return None
            halen = (data[4] << 8) | data[5]
            if halen == 6:
                src = data[6:12]
            et = (data[14] << 8) | data[15]
            off = 16
            if et == 0x0004 or et == 0x0001:  # 802.2 LLC / Novell 802.3 raw: no ethertype
                return (src, None, None, None, et, off) + _NO_L3 + (None,)
        elif linktype == 276:
            if n < 20:
                self.weird("truncated_sll2")
                return None
            et = (data[0] << 8) | data[1]
            if data[11] == 6:
                src = data[12:18]
            off = 20
            if et == 0x0004 or et == 0x0001:
                return (src, None, None, None, et, off) + _NO_L3 + (None,)
        elif linktype in RAW_LINKS:
            if n < 1:
                self.weird("truncated_ip")
                return None
            version = data[0] >> 4
            et = 0x0800 if version == 4 else 0x86DD if version == 6 else 0
            if not et:
                self.weird("bad_ip_version")
                return None
            off = 0
        elif linktype == 127 or linktype == 105 or linktype == 119 or linktype == 163:
            return self._dot11(data, linktype)
        elif linktype == 0 or linktype == 108:
            if n < 4:
                self.weird("truncated_null")
                return None
            family = int.from_bytes(data[0:4], "big" if linktype == 108 else "little")
            if family > 0xFFFF:  # written on a host of the other byte order
                family = int.from_bytes(data[0:4], "big")
            et = 0x0800 if family == 2 else 0x86DD if family in NULL_V6 else 0
            if not et:
                return (None, None, None, None, 0, 4) + _NO_L3 + (None,)
            off = 4
        elif linktype == 9:
            off = 2 if data[:2] == b"\xff\x03" else 0
            if n < off + 2:
                self.weird("truncated_ppp")
                return None
            proto = (data[off] << 8) | data[off + 1]
            et = PPP_ETHERTYPES.get(proto, 0)
            off += 2
            if not et:
                return (None, None, None, None, 0, off) + _NO_L3 + (None,)
        else:
            self.weird("unsupported_linktype")
            return None
        if et in VLAN_TPIDS:
            tags = 0
            while et in VLAN_TPIDS:
                if n < off + 4:
                    self.weird("truncated_vlan")
                    return (src, dst, vlan, outer, et, off) + _NO_L3 + (None,)
                vid = ((data[off] & 0x0F) << 8) | data[off + 1]
                if tags == 0:
                    outer = vid
                vlan = vid
                tags += 1
                et = (data[off + 2] << 8) | data[off + 3]
                off += 4
                if tags > MAX_TAGS:
                    self.weird("too_many_vlan_tags")
                    break
            if tags == 1:
                outer = None
        if et == 0x8864:  # PPPoE session (RFC 2516): 6-byte header, then the PPP protocol field
            if n < off + 8:
                self.weird("truncated_pppoe")
                return (src, dst, vlan, outer, et, off) + _NO_L3 + (None,)
            inner = PPP_ETHERTYPES.get((data[off + 6] << 8) | data[off + 7])
            if inner is None:
                return (src, dst, vlan, outer, et, off) + _NO_L3 + (None,)
            et = inner
            off += 8
        return (src, dst, vlan, outer, et, off) + self.l3(data, off, et, n) + (wifi,)

    def l3(self, data: bytes, off: int, et: int, end: int) -> tuple:
        """(ipver, sip, dip, proto, ttl, sport, dport, flags, l4off, poff, pend, seq) after the link
        header."""
        if et == 0x0800:
            if end - off < 20:
                self.weird("truncated_ipv4")
                return _NO_L3
            vihl = data[off]
            ihl = (vihl & 0x0F) * 4
            if vihl >> 4 != 4:
                self.weird("bad_ip_version")
                return _NO_L3
            if ihl < 20 or end - off < ihl:
                self.weird("ipv4_bad_header_len")
                return _NO_L3
            total = (data[off + 2] << 8) | data[off + 3]
            if total and total < ihl:
                self.weird("ipv4_bad_total_length")
                return _NO_L3
            pend = off + total if total and off + total < end else end
            proto = data[off + 9]
            ttl = data[off + 8]
            sip = data[off + 12 : off + 16]
            dip = data[off + 16 : off + 20]
            l4 = off + ihl
            if (data[off + 6] & 0x1F) or data[off + 7]:  # fragment offset != 0: no L4 header here
                return (4, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
            ipver = 4
        elif et == 0x86DD:
            if end - off < 40:
                self.weird("truncated_ipv6")
                return _NO_L3
            if data[off] >> 4 != 6:
                self.weird("bad_ip_version")
                return _NO_L3
            plen = (data[off + 4] << 8) | data[off + 5]
            pend = off + 40 + plen if plen and off + 40 + plen < end else end
            proto = data[off + 6]
            ttl = data[off + 7]
            sip = data[off + 8 : off + 24]
            dip = data[off + 24 : off + 40]
            l4 = off + 40
            hops = 0
            while proto in IPV6_EXT or proto == 44:
                if pend - l4 < 8 or hops > 8:
                    self.weird("ipv6_ext_header_truncated")
                    return (6, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
                nxt = data[l4]
                if proto == 44:
                    frag = ((data[l4 + 2] << 8) | data[l4 + 3]) & 0xFFF8
                    l4 += 8
                    proto = nxt
                    if frag:
                        return (6, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
                elif proto == 51:
                    l4 += (data[l4 + 1] + 2) * 4
                    proto = nxt
                else:
                    l4 += (data[l4 + 1] + 1) * 8
                    proto = nxt
                hops += 1
            ipver = 6
        else:
            return _NO_L3
        if proto == 6:
            if pend - l4 < 20:
                self.weird("truncated_tcp")
                return (ipver, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
            sport, dport, seq = _HHI(data, l4)
            doff = (data[l4 + 12] >> 4) * 4
            if doff < 20 or pend - l4 < doff:
                self.weird("tcp_bad_header_len")
                return (ipver, sip, dip, proto, ttl, sport, dport, data[l4 + 13], l4, pend, pend, seq)
            return (ipver, sip, dip, proto, ttl, sport, dport, data[l4 + 13], l4, l4 + doff, pend, seq)
        if proto == 17 or proto == 132:
            if pend - l4 < 8:
                self.weird("truncated_udp" if proto == 17 else "truncated_sctp")
                return (ipver, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
            sport, dport = _HH(data, l4)
            return (ipver, sip, dip, proto, ttl, sport, dport, 0, l4, l4 + (8 if proto == 17 else 12), pend,
                    None)
        if proto == 1 or proto == 58:
            if pend - l4 < 4:
                self.weird("truncated_icmp")
                return (ipver, sip, dip, proto, ttl, None, None, 0, None, l4, pend, None)
            return (ipver, sip, dip, proto, ttl, data[l4], data[l4 + 1], 0, l4, l4 + 4, pend, None)
        return (ipver, sip, dip, proto, ttl, None, None, 0, l4, l4, pend, None)

    def _dot11(self, data: bytes, linktype: int) -> tuple | None:
        end = len(data)
        off = 0
        if linktype == 127:
            rt = dot11.radiotap_offset(data)
            if rt is None:
                self.weird("bad_radiotap_header")
                return None
            off, fcs = rt
            if fcs:
                end -= 4
        elif linktype != 105:
            hdr = dot11.prism_offset(data) if linktype == 119 else dot11.avs_offset(data)
            if hdr is None:
                self.weird("bad_prism_header" if linktype == 119 else "bad_avs_header")
                return None
            off = hdr
        view = dot11.parse(data, off, end)
        if isinstance(view, str):
            if view:
                self.weird(view)
            return None
        et = view.ethertype
        l2: tuple[bytes | None, bytes | None, int | None, None, int, int] = (view.src, view.dst, None, None,
                                                                          et, view.offset)
        if et in VLAN_TPIDS and end - view.offset >= 4:
            vid = ((data[view.offset] & 0x0F) << 8) | data[view.offset + 1]
            et = (data[view.offset + 2] << 8) | data[view.offset + 3]
            l2 = (view.src, view.dst, vid, None, et, view.offset + 4)
        return l2 + self.l3(data, l2[5], et, view.end) + (view,)
