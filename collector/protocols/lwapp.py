"""LWAPP (draft-ohara-capwap-lwapp, Cisco's pre-CAPWAP AP tunnel) over UDP 12222 (data) / 12223 (control).

Header (6 bytes, as Wireshark's packet-lwapp.c reads it): flags (version 2 bits, radio id
3 bits, C/T 0x04 = control message, F 0x02 fragment, FT 0x01), fragment id, length (u16,
bytes after the header), RSSI, SNR.  On port 12223 toward the controller a 6-byte
destination MAC precedes the header.  A data message (C clear, not fragmented) carries an
IEEE 802.11 frame: it is re-injected with `ctx.inner_frame(..., 105, "lwapp", ...)` and a
`WifiObs(evidence="lwapp")` names the station and the BSSID (ap_mac).  Control messages
give no record.  A byte-swapped 802.11 Frame Control field (some Cisco releases) is put
back in order when the protocol-version bits show it (`_wifi_inner.normalise_frame_control`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols._wifi_inner import normalise_frame_control, reinject_dot11
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation

DATA_PORT = 12222
CONTROL_PORT = 12223
FLAG_CONTROL = 0x04
FLAG_FRAGMENT = 0x02


def _header(payload: bytes, dst_port: int | None) -> tuple[int, bytes]:
    """(flags, message body) of an LWAPP datagram; raises when the length field disagrees."""
    offset = 6 if dst_port == CONTROL_PORT else 0
    flags, _frag_id, length, _rssi, _snr = struct.unpack_from("!BBHBB", payload, offset)
    body = payload[offset + 6 :]
    if flags >> 6 != 0 or length != len(body):
        raise ValueError("LWAPP version/length mismatch")
    return flags, body


def probe(payload: bytes) -> bool:
    for port in (DATA_PORT, CONTROL_PORT):
        try:
            _header(payload, port)
            return True
        except (ValueError, struct.error):
            continue
    return False


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    flags, body = _header(pkt.payload, pkt.dst_port)
    if flags & FLAG_CONTROL or not body:
        return []
    if flags & FLAG_FRAGMENT:
        ctx.weird("lwapp_fragment")
        return []
    body = normalise_frame_control(body, swapped_by_default=False)
    return reinject_dot11(pkt, ctx, body, "lwapp")


DETECTOR = Detector(
    name="lwapp",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({DATA_PORT, CONTROL_PORT}),
    bpf_hint="udp port 12222 or udp port 12223",
    description="LWAPP data tunnel: inner 802.11 frames re-injected, wireless stations",
)
