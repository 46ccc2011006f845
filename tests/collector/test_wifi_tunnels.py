"""LWAPP and Aruba GRE tunnels: inner 802.11 frames re-injected, station and BSSID."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import aruba_gre, lwapp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_wifi import BSSID, PUMP, dot11_to_ds, lwapp_header


def _udp(payload: bytes, dport: int = 12222) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_ip="10.50.0.40", dst_ip="10.50.0.41", transport="udp", src_port=12222,
                  dst_port=dport, payload=payload)


def _ip(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_ip="10.50.0.42", dst_ip="10.50.0.43", payload=payload)


def test_lwapp_data() -> None:
    ctx = SimpleContext()
    frame = dot11_to_ds()
    (rec,) = lwapp.decode(_udp(lwapp_header(len(frame)) + frame), ctx)
    assert (rec.evidence, rec.client_mac, rec.ap_mac) == ("lwapp", PUMP, BSSID)
    assert ctx.inner == [(frame, 105, "lwapp")]


def test_lwapp_control_fragment_and_length() -> None:
    ctx = SimpleContext()
    assert list(lwapp.decode(_udp(lwapp_header(4, flags=0x04) + bytes(4)), ctx)) == []
    frame = dot11_to_ds()
    assert list(lwapp.decode(_udp(lwapp_header(len(frame), flags=0x02) + frame), ctx)) == []
    assert ctx.weirds == {"lwapp_fragment": 1} and not ctx.inner
    with pytest.raises(ValueError):
        lwapp.decode(_udp(lwapp_header(999) + frame), ctx)
    # toward the controller's control port a destination MAC precedes the header
    assert lwapp.probe(bytes(6) + lwapp_header(4, flags=0x04) + bytes(4))


def test_aruba_gre() -> None:
    ctx = SimpleContext()
    frame = dot11_to_ds()
    (rec,) = aruba_gre.decode(_ip(struct.pack("!HH", 0, 0x8200) + frame), ctx)
    assert (rec.evidence, rec.client_mac, rec.ap_mac) == ("aruba-gre", PUMP, BSSID)
    keyed = struct.pack("!HHI", 0x2000, 0x8210, 7) + frame  # K bit: 4-byte key before the payload
    assert aruba_gre.decode(_ip(keyed), ctx)[0].client_mac == PUMP
    assert [d for d, _l, _t in ctx.inner] == [frame, frame]


def test_other_gre_is_left_alone() -> None:
    ctx = SimpleContext()
    assert list(aruba_gre.decode(_ip(struct.pack("!HH", 0, 0x0800) + bytes(20)), ctx)) == []
    assert list(aruba_gre.decode(_ip(struct.pack("!HHHH", 0x3001, 0x880B, 0, 1)), ctx)) == []  # PPTP GRE v1
    assert not ctx.inner and not ctx.weirds
    assert not aruba_gre.probe(struct.pack("!HH", 0, 0x0800)) and aruba_gre.probe(struct.pack("!HH", 0, 0x8200))
    with pytest.raises(IndexError):
        aruba_gre.decode(_ip(struct.pack("!HH", 0xB000, 0x8200)), ctx)
