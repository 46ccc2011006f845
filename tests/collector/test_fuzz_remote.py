"""Hypothesis fuzzing of the remote-access and Wi-Fi detectors: random bytes, truncated and
mutated valid payloads, oversized fields.  probe() never raises; decode() returns valid records
or raises only the errors the pipeline turns into a `<detector>_malformed` weird."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings, strategies as st

from collector.protocols import aruba_gre, capwap, ftp, lwapp, radius, rdp, signatures, telnet, tunnels, vnc
from collector.protocols.base import Detector, Packet, SimpleContext
from collector.schema import Observation, parse_observation
from pcaps.fixtures import gen_remote as r, gen_wifi as w
from tests.collector.replay_helpers import MALFORMED as ALLOWED, detectors_of

DETECTORS = detectors_of(rdp, vnc, telnet, ftp, capwap, lwapp, aruba_gre, radius, tunnels, signatures)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS: list[bytes] = [
    r.x224_cr("user", 3), r.x224_cc(2), b"RFB 003.008\n\x02\x01\x02", b"RFB 003.003\n\x00\x00\x00\x01",
    b"\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0\xff\xfb\x01", b"220 FTP ready\r\n", b"USER a\r\nPASS b\r\n",
    r.client_hello("relay.net.anydesk.com"), b"SSH-2.0-OpenSSH_9.6\r\n", b"\x17\x24" + bytes(20),
    b"\x00" + bytes(10) + b"\x17\x24" + bytes(4), b"NXSH-1.5.0\n", b"\x00\x00\x00\x01\x01\x00\x00\x00\x08\x08",
    r.ike_sa_init(b"\x01" * 8), b"\x00\x00\x00\x00" + r.ike_sa_init(b"\x02" * 8), r.esp(0x1000, 1),
    r.openvpn_reset(b"\x44" * 8), struct.pack("!H", 14) + r.openvpn_reset(b"\x55" * 8),
    w.capwap_header(1) + w.cisco_swapped(w.dot11_to_ds()), w.capwap_header(0) + w.ether_from_station(),
    w.capwap_header(0) + struct.pack("!IBHB", 1, 0, 0, 0),
    w.lwapp_header(len(w.dot11_to_ds())) + w.dot11_to_ds(), struct.pack("!HH", 0, 0x8200) + w.dot11_to_ds(),
    w.radius_packet(1, 1, w._wifi_attrs(19)),
]


def _packet(det: Detector, payload: bytes, from_client: bool, port: int) -> Packet:
    transport = {"tcp": "tcp", "udp": "udp"}.get(det.layer)
    ports = sorted(det.ports) or [port]
    server_port = ports[port % len(ports)]
    return Packet(ts=1.0, frame_no=1, src_mac="00:00:5e:00:53:01", dst_mac="00:00:5e:00:53:02", src_ip="10.0.0.1",
                  dst_ip="10.0.0.2", transport=transport, src_port=50000 if from_client else server_port,
                  dst_port=server_port if from_client else 50000, payload=payload, from_client=from_client,
                  client_ip="10.0.0.1", server_ip="10.0.0.2", server_port=server_port)


def _check(payload: bytes, from_client: bool, port: int) -> None:
    for det in DETECTORS:
        assert isinstance(det.probe(payload), bool)
        ctx = SimpleContext()
        try:
            records = list(det.decode(_packet(det, payload, from_client, port), ctx))
        except ALLOWED:
            continue
        for rec in records:
            assert isinstance(rec, Observation)
            parse_observation(rec.model_dump(mode="json"))


@SETTINGS
@given(st.binary(max_size=600), st.booleans(), st.integers(0, 65535))
def test_random_bytes(payload: bytes, from_client: bool, port: int) -> None:
    _check(payload, from_client, port)


@SETTINGS
@given(st.sampled_from(SEEDS), st.integers(0, 600), st.booleans(), st.integers(0, 65535))
def test_truncated_valid_payloads(seed: bytes, cut: int, from_client: bool, port: int) -> None:
    _check(seed[:cut], from_client, port)


@SETTINGS
@given(st.sampled_from(SEEDS), st.integers(0, 599), st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]),
       st.binary(max_size=64), st.booleans(), st.integers(0, 65535))
def test_mutated_and_oversized(seed: bytes, index: int, value: int, tail: bytes, from_client: bool, port: int) -> None:
    data = bytearray(seed)
    if data:
        data[index % len(data)] = value  # a length or type byte set to an extreme
    _check(bytes(data) + tail, from_client, port)
    _check(bytes(data) + b"\xff" * 9000, from_client, port)  # oversized field / prefix beyond STREAM_PREFIX
