"""LLDP detector (IEEE 802.1AB-2016, ethertype 0x88cc): where a device is cabled and what it says it is.

TLVs: 7-bit type, 9-bit length.  Kept: chassis id (MAC subtype 4 -> colon MAC, network address
subtype 5 -> IP, else text), port id (same rules), port description (4), system name (5),
system description (6), enabled capabilities (7), management address (8, first IPv4/IPv6),
organisation-specific (127): IEEE 802.1 port VLAN id (00-80-c2 subtype 1), LLDP-MED (TIA-1057,
00-12-bb) capabilities/device class (subtype 1) and inventory (5 software revision, 9 manufacturer,
10 model), and the MUD URL (RFC 8520, 00-00-5e subtype 1).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import LldpObs

ETHERTYPE_LLDP = 0x88CC
LLDP_MACS = frozenset({"01:80:c2:00:00:0e", "01:80:c2:00:00:03", "01:80:c2:00:00:00"})
CAPS = (
    "other",
    "repeater",
    "bridge",
    "wlan-ap",
    "router",
    "telephone",
    "docsis",
    "station",
    "c-vlan",
    "s-vlan",
    "tpmr",
)
MED_CLASSES = {1: "endpoint-class-1", 2: "endpoint-class-2", 3: "endpoint-class-3", 4: "network-connectivity"}
MAX_TEXT = 256


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\x00").strip()[:MAX_TEXT]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _addr(raw: bytes) -> str | None:
    """An IANA address-family-prefixed address (1 = IPv4, 2 = IPv6)."""
    if len(raw) == 5 and raw[0] == 1:
        return str(ipaddress.IPv4Address(raw[1:5]))
    if len(raw) == 17 and raw[0] == 2:
        return str(ipaddress.IPv6Address(raw[1:17]))
    return None


def _id(value: bytes, mac_subtype: int, addr_subtype: int) -> str:
    subtype, body = value[0], value[1:]
    if subtype == mac_subtype and len(body) == 6:
        return _mac(body)
    if subtype == addr_subtype:
        addr = _addr(body)
        if addr:
            return addr
    text = _text(body)
    return text if text.isprintable() else body.hex()


def _org(fields: dict[str, Any], value: bytes) -> None:
    oui, subtype, body = value[:3], value[3], value[4:]
    if oui == b"\x00\x80\xc2" and subtype == 1 and len(body) >= 2:
        fields["port_vlan"] = struct.unpack_from("!H", body)[0]
    elif oui == b"\x00\x12\xbb":
        if subtype == 1 and len(body) >= 3:
            fields["med_device_class"] = MED_CLASSES.get(body[2], f"class-{body[2]}")
        elif subtype == 5:
            fields["med_software"] = _text(body) or None
        elif subtype == 9:
            fields["med_manufacturer"] = _text(body) or None
        elif subtype == 10:
            fields["med_model"] = _text(body) or None
    elif oui == b"\x00\x00\x5e" and subtype == 1:
        fields["mud_url"] = _text(body) or None


def decode(pkt: Packet, ctx: DecodeContext) -> list[LldpObs]:
    """One LldpObs per LLDPDU; chassis id and port id are mandatory (else ValueError)."""
    data = pkt.payload
    pos = 0
    fields: dict[str, Any] = {}
    while pos + 2 <= len(data):
        header = struct.unpack_from("!H", data, pos)[0]
        ttype, length = header >> 9, header & 0x1FF
        value = data[pos + 2 : pos + 2 + length]
        if len(value) < length:
            ctx.weird("lldp_truncated_tlv")
            break
        pos += 2 + length
        if ttype == 0:
            break
        if ttype == 1 and length >= 2:
            fields["chassis_id"] = _id(value, 4, 5)
        elif ttype == 2 and length >= 2:
            fields["port_id"] = _id(value, 3, 4)
        elif ttype in (4, 5, 6):
            key = {4: "port_description", 5: "system_name", 6: "system_description"}[ttype]
            fields[key] = _text(value) or None
        elif ttype == 7 and length >= 4:
            enabled = struct.unpack_from("!H", value, 2)[0]
            fields["capabilities"] = tuple(c for i, c in enumerate(CAPS) if enabled & (1 << i))
        elif ttype == 8 and length >= 2 and "mgmt_ip" not in fields:
            alen = value[0]
            addr = _addr(value[1 : 1 + alen])
            if addr:
                fields["mgmt_ip"] = addr
        elif ttype == 127 and length >= 4:
            _org(fields, value)
    if "chassis_id" not in fields or "port_id" not in fields:
        raise ValueError("lldp: chassis id or port id TLV missing")
    return [LldpObs(**pkt.envelope(), **fields)]


DETECTOR = Detector(
    name="lldp",
    layer="ether",
    decode=decode,
    ethertypes=frozenset({ETHERTYPE_LLDP}),
    bpf_hint="ether proto 0x88cc",
    description="LLDP/LLDP-MED (IEEE 802.1AB, ANSI/TIA-1057): switch port, VLAN, device identity, MUD URL.",
)
