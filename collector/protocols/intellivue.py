"""Philips IntelliVue Data Export detector: connect indication (UDP 24005) and session (UDP 24105).

Layout from the Philips "Data Export Interface Programming Guide" (IntelliVue patient monitors,
document 4535 642 59271), cross-checked against open implementations of it (VSCaptureMP and a
scapy model of the guide, both public on GitHub):

- Connect Indication, broadcast by the monitor to UDP 24005: Nomenclature (4 bytes), ROapdus
  (ro_type u16 = 1 ROIV, length u16), ROIVapdu (invoke_id, command_type, length), EventReportArgument
  (managed object class/context/handle, event_time u32, event_type u16 = NOM_NOTI_MDS_CONNECT_INDIC
  0x0D17, length u16), then an AttributeList (count u16, length u16, AVA entries
  attribute_id u16 / length u16 / value).  The "IP Address Information" attribute
  NOM_ATTR_NET_ADDR_INFO (0xF100) is MAC (6 bytes), IP address (4), subnet mask (4).
- Association on UDP 24105: the first byte is the session header type: 0x0D association request
  (CN_SPDU), 0x0E response (AC_SPDU), 0x0C refuse, 0x09/0x0A release request/response, 0x19 abort;
  data export messages start with the SPpdu session id 0xE100.  Of those, only the MDS Create Event
  Report (event type NOM_NOTI_MDS_CREAT 0x0D06, sent once per association) is recorded, as
  message="data-export": polled numerics, waves, alarms and demographics are never decoded.

The bed label (NOM_ATTR_ID_BED_LABEL 0x091E) is a location and is kept when present.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import IntellivueObs

CONNECT_PORT = 24005
PROTOCOL_PORT = 24105
NOM_NOTI_MDS_CONNECT_INDIC = 0x0D17
NOM_NOTI_MDS_CREAT = 0x0D06
NOM_ATTR_NET_ADDR_INFO = 0xF100
NOM_ATTR_ID_BED_LABEL = 0x091E
ROIV_APDU = 1
SESSION_TYPES = {
    0x0D: "association-request",
    0x0E: "association-response",
    0x0C: "association-refuse",
    0x09: "release-request",
    0x0A: "release-response",
    0x19: "abort",
}
MAX_ATTRS = 256
MAX_LABEL = 64


def _attributes(data: bytes, off: int) -> Iterator[tuple[int, bytes]]:
    """AVA entries of an AttributeList at `off` (count u16, length u16, then id/length/value)."""
    count, length = struct.unpack_from(">HH", data, off)
    off += 4
    end = min(len(data), off + length)
    for _ in range(min(count, MAX_ATTRS)):
        if off + 4 > end:
            return
        attr_id, attr_len = struct.unpack_from(">HH", data, off)
        value = data[off + 4 : off + 4 + attr_len]
        if len(value) < attr_len:
            raise ValueError("intellivue: attribute runs past the message")
        yield attr_id, value
        off += 4 + attr_len


def _label(value: bytes) -> str | None:
    """An IntelliVue String (length u16 + bytes, labels in UTF-16BE) as text."""
    (length,) = struct.unpack_from(">H", value, 0)
    raw = value[2 : 2 + length]
    if len(raw) % 2 == 0 and raw[0::2].count(0) >= len(raw) // 4:
        text = raw.decode("utf-16-be", "replace")
    else:
        text = raw.decode("latin-1")
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:MAX_LABEL] or None


def _identity(data: bytes, off: int) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for attr_id, value in _attributes(data, off):
        if attr_id == NOM_ATTR_NET_ADDR_INFO and len(value) >= 14 and "monitor_mac" not in found:
            found["monitor_mac"] = ":".join(f"{b:02x}" for b in value[0:6])
            found["monitor_ip"] = str(ipaddress.IPv4Address(value[6:10]))
            found["subnet_mask"] = str(ipaddress.IPv4Address(value[10:14]))
        elif attr_id == NOM_ATTR_ID_BED_LABEL and len(value) >= 2:
            found["bed_label"] = _label(value)
    return found


def _event_report(data: bytes, min_len: int, lead: bytes, event: int) -> bool:
    """ROIV event report of type `event` after a 4-byte lead (Nomenclature or SPpdu)."""
    if len(data) < min_len or data[0:2] != lead:
        return False
    ro_type, event_type = struct.unpack_from(">H", data, 4)[0], struct.unpack_from(">H", data, 24)[0]
    return ro_type == ROIV_APDU and event_type == event


def _connect_indication(data: bytes) -> bool:
    return _event_report(data, 32, b"\x00\x00", NOM_NOTI_MDS_CONNECT_INDIC)


def _mds_create(data: bytes) -> bool:
    return _event_report(data, 38, b"\xe1\x00", NOM_NOTI_MDS_CREAT)


def probe(payload: bytes) -> bool:
    """A connect indication, a session header or a data export SPpdu (ports decide, this confirms)."""
    try:
        return _connect_indication(payload) or _mds_create(payload) or (
            len(payload) >= 2 and payload[0] in SESSION_TYPES and payload[1] != 0
        )
    except struct.error:
        return False


def decode(pkt: Packet, ctx: DecodeContext) -> list[IntellivueObs]:
    data = pkt.payload
    if pkt.dst_port == CONNECT_PORT:
        if not _connect_indication(data):
            ctx.weird("intellivue_not_connect_indication")
            return []
        return [IntellivueObs(**pkt.envelope(), message="connect-indication", **_identity(data, 28))]
    if PROTOCOL_PORT not in (pkt.src_port, pkt.dst_port) or not data:
        return []
    if data[0] in SESSION_TYPES:
        if len(data) < 2 or data[1] == 0:
            ctx.weird("intellivue_bad_session_header")
            return []
        return [IntellivueObs(**pkt.envelope(), message=SESSION_TYPES[data[0]])]
    if _mds_create(data):
        return [IntellivueObs(**pkt.envelope(), message="data-export", **_identity(data, 34))]
    if data[0:2] != b"\xe1\x00":
        ctx.weird("intellivue_unknown_message")
    return []


DETECTOR = Detector(
    name="intellivue",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({CONNECT_PORT, PROTOCOL_PORT}),
    app="intellivue",
    bpf_hint="udp port 24005 or udp port 24105",
    description="Philips IntelliVue data export: connect indication (MAC/IP/mask) and association messages.",
)
