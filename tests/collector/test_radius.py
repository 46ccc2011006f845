"""RADIUS NAS-Port-Type 19 (RFC 2865/2866, RFC 3580): Wi-Fi client, AP and SSID; never user names."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import radius
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_wifi import radius_packet


def _pkt(payload: bytes, dport: int = 1812) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_ip="10.50.0.40", dst_ip="10.50.0.5", transport="udp", src_port=32768,
                  dst_port=dport, payload=payload)


def _attrs(port_type: int, called: bytes, calling: bytes) -> list[tuple[int, bytes]]:
    return [(1, b"nurse.jane"), (2, b"\x8a" * 16), (61, struct.pack("!I", port_type)), (30, called), (31, calling)]


@pytest.mark.parametrize(
    ("called", "calling", "ap", "ssid", "client"),
    [
        (b"00-3A-7D-AA-BB-01:MED-DEVICES", b"00-1B-21-30-00-99", "00:3a:7d:aa:bb:01", "MED-DEVICES", "00:1b:21:30:00:99"),
        (b"00:3a:7d:aa:bb:01:Guest", b"001b21300099", "00:3a:7d:aa:bb:01", "Guest", "00:1b:21:30:00:99"),
        (b"003a.7daa.bb01", b"001b.2130.0099", "00:3a:7d:aa:bb:01", None, "00:1b:21:30:00:99"),
        (b"ap-lobby", b"not-a-mac", None, None, None),
    ],
)
def test_wireless_access_request(called: bytes, calling: bytes, ap: str | None, ssid: str | None,
                                 client: str | None) -> None:
    ctx = SimpleContext()
    (rec,) = radius.decode(_pkt(radius_packet(1, 1, _attrs(19, called, calling))), ctx)
    assert (rec.evidence, rec.ap_mac, rec.ssid, rec.client_mac, rec.confidence) == ("radius", ap, ssid, client, 1.0)
    assert "nurse.jane" not in rec.model_dump_json()
    assert ctx.weirds == ({} if client else {"radius_calling_station_not_mac": 1})


def test_accounting_gives_client_ip() -> None:
    attrs = _attrs(19, b"00-3A-7D-AA-BB-01:X", b"00-1B-21-30-00-99") + [(8, bytes([10, 30, 0, 99]))]
    (rec,) = radius.decode(_pkt(radius_packet(4, 2, attrs), 1813), SimpleContext())
    assert rec.client_ip == "10.30.0.99"


def test_not_wireless_or_not_a_request() -> None:
    assert list(radius.decode(_pkt(radius_packet(1, 1, _attrs(15, b"x", b"y"))), SimpleContext())) == []
    assert list(radius.decode(_pkt(radius_packet(2, 1, [])), SimpleContext())) == []
    assert list(radius.decode(_pkt(radius_packet(1, 1, [(1, b"u")])), SimpleContext())) == []


def test_malformed_raises_allowed_errors() -> None:
    good = radius_packet(1, 1, _attrs(19, b"a", b"b"))
    with pytest.raises(ValueError):
        radius.decode(_pkt(good[:-3]), SimpleContext())  # length field beyond the datagram
    broken = bytearray(good)
    broken[21] = 0  # attribute length 0
    with pytest.raises(ValueError):
        radius.decode(_pkt(bytes(broken)), SimpleContext())
    assert radius.normalise_mac("AA-BB-CC-DD-EE-FF") == "aa:bb:cc:dd:ee:ff"
    assert radius.normalise_mac("AA-BB-CC-DD-EE") is None and radius.normalise_mac("zz-bb-cc-dd-ee-ff") is None
