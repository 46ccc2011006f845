"""CAPWAP (RFC 5415) between lightweight access points and a WLAN controller, with the
IEEE 802.11 binding (RFC 5416).  Deterministic evidence that a device is on Wi-Fi.

Header (RFC 5415 section 4.3): preamble (version 0, type 0 = clear, 1 = DTLS), then
HLEN (5 bits, 4-byte words including the preamble), RID, WBID, flags T F L W M K, fragment
id and offset; the payload starts at HLEN*4.
- Data channel (UDP 5247): T=1 with WBID 1 carries a native 802.11 frame (linktype 105),
  T=0 an 802.3 frame (linktype 1).  Each inner frame goes back into the pipeline through
  `ctx.inner_frame(..., "capwap", ...)`, and a `WifiObs(evidence="capwap")` names the
  wireless station (inner 802.11 station, or the 802.3 source on the AP-to-controller
  direction / destination on the other) with ap_mac = the AP's outer MAC.
  Cisco APs byte-swap the 802.11 Frame Control field; it is put back in standard order
  (see `_wifi_inner.normalise_frame_control`) before re-injection.
- Control channel (UDP 5246): DTLS-protected messages are opaque; a clear (Primary) Discovery or Join
  Request names the AP (WifiObs with ap_mac only).
Keep-alives (K), fragments (F, counted as a weird) and DTLS data give no record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols._wifi_inner import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_11,
    dot11_station_and_bssid,
    ether_src_dst,
    is_unicast_station,
    normalise_frame_control,
)
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, WifiObs

CONTROL_PORT = 5246
DATA_PORT = 5247
WBID_IEEE80211 = 1
AP_REQUESTS = {1: "discovery-request", 3: "join-request", 19: "primary-discovery-request"}


def parse_header(payload: bytes) -> dict[str, int]:
    """Fields of a clear CAPWAP header (raises on a short or DTLS one)."""
    (word,) = struct.unpack_from("!I", payload, 0)
    preamble = word >> 24
    if preamble >> 4 != 0:
        raise ValueError("CAPWAP version must be 0")
    hlen = (word >> 19) & 0x1F
    fields = {
        "type": preamble & 0x0F, "hlen": hlen * 4, "rid": (word >> 14) & 0x1F, "wbid": (word >> 9) & 0x1F,
        "t": (word >> 8) & 1, "f": (word >> 7) & 1, "l": (word >> 6) & 1, "w": (word >> 5) & 1,
        "m": (word >> 4) & 1, "k": (word >> 3) & 1,
    }
    if fields["type"] == 0 and (hlen < 2 or hlen * 4 > len(payload)):
        raise ValueError("CAPWAP HLEN out of range")
    return fields


def probe(payload: bytes) -> bool:
    try:
        header = parse_header(payload)
    except (ValueError, struct.error):
        return False
    return header["type"] == 1 or header["wbid"] in (0, 1, 3)


def _outer_ap_mac(pkt: Packet) -> tuple[bool, str | None]:
    """(frame goes AP -> controller, AP MAC on the outer frame)."""
    to_controller = pkt.dst_port in (CONTROL_PORT, DATA_PORT)
    return to_controller, (pkt.src_mac if to_controller else pkt.dst_mac)


def _data(pkt: Packet, ctx: DecodeContext, header: dict[str, int]) -> list[Observation]:
    if header["k"] or header["type"] == 1:
        return []  # keep-alive or DTLS-encrypted data
    if header["f"]:
        ctx.weird("capwap_fragment")
        return []
    inner = pkt.payload[header["hlen"] :]
    if not inner:
        return []
    to_controller, ap_mac = _outer_ap_mac(pkt)
    if header["t"] == 1:
        if header["wbid"] != WBID_IEEE80211:
            ctx.weird("capwap_unknown_wbid")
            return []
        inner = normalise_frame_control(inner, swapped_by_default=True)
        station, _bssid = dot11_station_and_bssid(inner)
        linktype = LINKTYPE_IEEE802_11
    else:
        src, dst = ether_src_dst(inner)
        station = src if to_controller else dst
        station = station if is_unicast_station(station) else None
        linktype = LINKTYPE_ETHERNET
    ctx.inner_frame(inner, linktype, "capwap", pkt.ts, pkt.frame_no)
    if station is None:
        return []
    return [WifiObs(**pkt.envelope(), evidence="capwap", client_mac=station, ap_mac=ap_mac, confidence=1.0)]


def _control(pkt: Packet, header: dict[str, int]) -> list[Observation]:
    if header["type"] == 1:
        return []  # DTLS
    body = pkt.payload[header["hlen"] :]
    (msg_type,) = struct.unpack_from("!I", body, 0)
    if msg_type >> 8 != 0 or (msg_type & 0xFF) not in AP_REQUESTS:
        return []
    return [WifiObs(**pkt.envelope(), evidence="capwap", ap_mac=pkt.src_mac, confidence=1.0)]


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    header = parse_header(pkt.payload)
    if DATA_PORT in (pkt.src_port, pkt.dst_port):
        return _data(pkt, ctx, header)
    return _control(pkt, header)


DETECTOR = Detector(
    name="capwap",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({CONTROL_PORT, DATA_PORT}),
    bpf_hint="udp port 5246 or udp port 5247",
    description="CAPWAP (RFC 5415/5416): inner 802.11/802.3 frames re-injected, wireless stations",
)
