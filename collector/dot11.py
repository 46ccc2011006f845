"""IEEE 802.11 link decoding for the fast path: radiotap, Prism and AVS headers, data frame, LLC/SNAP.

Prism II monitor header (LINKTYPE_PRISM_HEADER 119, linux-wlan-ng p80211 `wlan_ng_prism2_header`):
little-endian msgcode (0x41 or 0x44) and msglen, the header's length (144 bytes in practice).
AVS header (LINKTYPE_IEEE802_11_AVS 163, also found under 119 as Wireshark allows): big-endian
version 0x8021100x and header length (64 for version 1).  A 119 frame with neither header is
read as a bare 802.11 frame, as Wireshark does.

Radiotap (https://www.radiotap.org): little-endian header length at offset 2; the Flags field
(bit 1, after an 8-aligned TSFT) tells whether a 4-byte FCS ends the frame.  802.11 data frames
(IEEE 802.11-2020 9.2.4): the ToDS/FromDS bits place SA, DA and BSSID among the address
fields; QoS subtypes add 2 bytes, +HTC (Order bit on QoS) 4 more; protected frames carry no
readable LLC.  The body starts with LLC/SNAP AA-AA-03 + OUI + ethertype (RFC 1042).
"""

from __future__ import annotations

from typing import NamedTuple

SNAP = b"\xaa\xaa\x03"
MGMT = 0x1_0000
"""Pseudo ethertype of a management frame that names stations and access points (beacon, probe,
(re)association): out of the 16-bit range, so no wire ethertype can take it; the ether-layer
detector collector/protocols/dot11_mgmt.py receives the frame from its 802.11 header on."""
MGMT_SUBTYPES = frozenset({0, 1, 2, 3, 4, 5, 8})  # (re)assoc req/resp, probe req/resp, beacon


class Dot11View(NamedTuple):
    """What the fast path needs from one 802.11 frame."""

    src: bytes | None  # SA
    dst: bytes | None  # DA
    bssid: bytes | None
    station: bytes | None  # the non-AP station of the exchange
    ethertype: int  # 0 when there is no readable LLC/SNAP
    offset: int  # start of the L3 payload
    end: int  # end of the frame body (FCS stripped)


def radiotap_offset(data: bytes) -> tuple[int, bool] | None:
    """(802.11 frame offset, FCS present) after a radiotap header, None when it is insane."""
    if len(data) < 8 or data[0] != 0:
        return None
    hlen = data[2] | (data[3] << 8)
    if hlen < 8 or hlen > len(data):
        return None
    present = int.from_bytes(data[4:8], "little")
    off = 8
    ext = present
    while ext & 0x80000000:  # extended presence bitmaps
        if off + 4 > hlen:
            return None
        ext = int.from_bytes(data[off : off + 4], "little")
        off += 4
    fcs = False
    if present & 0x2:
        if present & 0x1:
            off = (off + 7) & ~7
            off += 8
        if off < hlen:
            fcs = bool(data[off] & 0x10)
    return hlen, fcs


PRISM_MSGCODES = frozenset({0x41, 0x44})
AVS_MAGIC = 0x80211000


def _avs_length(data: bytes) -> int | None:
    if len(data) >= 8 and int.from_bytes(data[0:4], "big") & 0xFFFFF000 == AVS_MAGIC:
        return int.from_bytes(data[4:8], "big")
    return None


def prism_offset(data: bytes) -> int | None:
    """802.11 frame offset after a Prism (or AVS) header, 0 without one; None when the header is insane."""
    avs = _avs_length(data)
    if avs is not None:
        return avs if 8 <= avs <= len(data) else None
    if len(data) >= 8 and int.from_bytes(data[0:4], "little") in PRISM_MSGCODES:
        length = int.from_bytes(data[4:8], "little")
        return length if 8 <= length <= len(data) else None
    return 0


def avs_offset(data: bytes) -> int | None:
    """802.11 frame offset after an AVS header, None when it is missing or insane."""
    avs = _avs_length(data)
    return avs if avs is not None and 8 <= avs <= len(data) else None


def parse(data: bytes, off: int, end: int) -> Dot11View | str:
    """Decode an 802.11 frame at `off`; a weird name (str) when malformed or not a data frame."""
    if end - off < 10:
        return "truncated_dot11"
    fc0, fc1 = data[off], data[off + 1]
    ftype = (fc0 >> 2) & 0x3
    if ftype == 0 and fc0 >> 4 in MGMT_SUBTYPES and end - off >= 24:
        # the transmitter is a host; the station of the exchange is left to the detector (a probe
        # request's BSSID is the wildcard, a beacon has no station)
        return Dot11View(data[off + 10 : off + 16], data[off + 4 : off + 10], None, None, MGMT, off, end)
    if ftype != 2:
        return ""  # control and other management frames: counted, nothing for the tables
    subtype = fc0 >> 4
    to_ds, from_ds = fc1 & 0x1, fc1 & 0x2
    hdr = 24
    if to_ds and from_ds:
        hdr = 30
    if subtype & 0x8:
        hdr += 2
        if fc1 & 0x80:
            hdr += 4
    if end - off < hdr:
        return "truncated_dot11"
    a1, a2, a3 = data[off + 4 : off + 10], data[off + 10 : off + 16], data[off + 16 : off + 22]
    if not to_ds and not from_ds:
        src, dst, bssid, station = a2, a1, a3, a2
    elif to_ds and not from_ds:
        src, dst, bssid, station = a2, a3, a1, a2
    elif from_ds and not to_ds:
        src, dst, bssid, station = a3, a1, a2, a1
    else:
        src, dst, bssid, station = data[off + 24 : off + 30], a3, None, None
    body = off + hdr
    if subtype & 0x4 or fc1 & 0x40 or end - body < 8 or data[body : body + 3] != SNAP:
        return Dot11View(src, dst, bssid, station, 0, body, end)  # null data, protected or not SNAP
    ethertype = (data[body + 6] << 8) | data[body + 7]
    return Dot11View(src, dst, bssid, station, ethertype, body + 8, end)
