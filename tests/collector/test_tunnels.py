"""IPsec (IKE, ESP) and OpenVPN tunnel detectors."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import tunnels
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_remote import esp, ike_sa_init, openvpn_reset

DETS = {d.name: d for d in tunnels.DETECTORS}


def _udp(payload: bytes, sport: int, dport: int) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_ip="10.10.110.21", dst_ip="198.51.100.20", transport="udp",
                  src_port=sport, dst_port=dport, payload=payload)


def test_ike_initiator_only() -> None:
    ike = DETS["ike"]
    (rec,) = ike.decode(_udp(ike_sa_init(b"\x01" * 8), 500, 500), SimpleContext())
    assert (rec.method, rec.signature, rec.detail, rec.server_port) == ("ipsec", "ipsec-ikev2", "IKEv2 ike-sa-init", 500)
    assert list(ike.decode(_udp(ike_sa_init(b"\x01" * 8, b"\x02" * 8), 500, 500), SimpleContext())) == []


def test_ikev1_aggressive_mode_is_named() -> None:
    header = b"\x01" * 8 + bytes(8) + struct.pack("!BBBBII", 1, 0x10, 4, 0, 0, 28)
    (rec,) = DETS["ike"].decode(_udp(header, 500, 500), SimpleContext())
    assert rec.detail == "IKEv1 aggressive-mode" and rec.signature == "ipsec-ikev1"


def test_nat_t_marker_and_esp_in_udp() -> None:
    ike = DETS["ike"]
    (rec,) = ike.decode(_udp(b"\x00\x00\x00\x00" + ike_sa_init(b"\x03" * 8), 4500, 4500), SimpleContext())
    assert rec.server_port == 4500
    assert list(ike.decode(_udp(esp(0x1234, 7), 4500, 4500), SimpleContext())) == []  # ESP-in-UDP
    assert list(ike.decode(_udp(b"\xff", 4500, 4500), SimpleContext())) == []  # NAT keepalive
    ctx = SimpleContext()
    assert list(ike.decode(_udp(bytes(40), 500, 500), ctx)) == [] and ctx.weirds == {"ike_bad_header": 1}


def test_esp_sampling() -> None:
    det = DETS["esp"]
    ip = Packet(ts=1.0, frame_no=1, src_ip="10.10.110.21", dst_ip="198.51.100.20", payload=esp(0x1000, 1))
    (rec,) = det.decode(ip, SimpleContext())
    assert rec.detail == "ESP spi=0x00001000 new-sa" and rec.server_port is None
    for seq, want in ((2, 0), (1023, 0), (1024, 1), (2048, 1)):
        ip.payload = esp(0x1000, seq)
        assert len(list(det.decode(ip, SimpleContext()))) == want
    ip.payload = esp(5, 1)
    with pytest.raises(ValueError):
        det.decode(ip, SimpleContext())
    ip.payload = b"\x00\x00"
    with pytest.raises(struct.error):
        det.decode(ip, SimpleContext())


def test_openvpn_udp_and_tcp() -> None:
    (rec,) = DETS["openvpn-udp"].decode(_udp(openvpn_reset(b"\x44" * 8), 51400, 1194), SimpleContext())
    assert (rec.method, rec.detail, rec.confidence) == ("openvpn", "hard-reset-client-v2", 0.9)
    tls_auth = bytes([7 << 3]) + b"\x44" * 8 + b"\xaa" * 20 + bytes(8) + b"\x00" + bytes(4)
    (rec,) = DETS["openvpn-udp"].decode(_udp(tls_auth, 51400, 1194), SimpleContext())
    assert rec.detail.endswith("tls-auth") and rec.confidence == 0.7
    data_packet = bytes([9 << 3]) + bytes(40)
    assert list(DETS["openvpn-udp"].decode(_udp(data_packet, 51400, 1194), SimpleContext())) == []
    framed = struct.pack("!H", 14) + openvpn_reset(b"\x55" * 8)
    tcp = Packet(ts=1.0, frame_no=4, src_ip="10.20.0.44", dst_ip="203.0.113.50", transport="tcp", src_port=51401,
                 dst_port=1194, payload=framed, from_client=True, client_ip="10.20.0.44",
                 server_ip="203.0.113.50", server_port=1194)
    assert DETS["openvpn-tcp"].probe(framed)
    (rec,) = DETS["openvpn-tcp"].decode(tcp, SimpleContext())
    assert rec.signature == "openvpn-tcp" and rec.client_ip == "10.20.0.44"
