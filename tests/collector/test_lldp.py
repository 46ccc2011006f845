"""LLDP detector (IEEE 802.1AB, LLDP-MED, RFC 8520 MUD URL) on synthetic and real frames."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import lldp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import tlv
from tests.collector.replay_helpers import observations, run
from tests.conftest import real_pcap


def _pkt(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, ethertype=0x88CC, payload=payload)


def test_id_subtypes_and_ipv6_management() -> None:
    body = tlv(1, b"\x05\x01" + bytes([10, 1, 2, 3])) + tlv(2, b"\x07port-9") + tlv(3, b"\x00\x78")
    body += tlv(8, bytes([17, 2]) + bytes(15) + b"\x01" + b"\x02\x00\x00\x00\x01\x00") + tlv(0, b"")
    (obs,) = lldp.decode(_pkt(body), SimpleContext())
    assert (obs.chassis_id, obs.port_id, obs.mgmt_ip) == ("10.1.2.3", "port-9", "::1")


def test_missing_mandatory_tlv_raises_and_truncation_is_a_weird() -> None:
    with pytest.raises(ValueError):
        lldp.decode(_pkt(tlv(5, b"name") + tlv(0, b"")), SimpleContext())
    ctx = SimpleContext()
    body = tlv(1, b"\x07sw1") + tlv(2, b"\x07p1") + struct.pack("!H", 5 << 9 | 40) + b"short"
    (obs,) = lldp.decode(_pkt(body), ctx)
    assert obs.system_name is None and ctx.weirds == {"lldp_truncated_tlv": 1}


def _lldp(name: str) -> list:
    return [o for o in observations(real_pcap(name), [lldp.DETECTOR]) if o.kind == "lldp"]


def test_real_lldp_switch() -> None:
    (obs,) = _lldp("zeek-lldp.pcap")
    assert (obs.chassis_id, obs.port_id, obs.system_name) == ("00:22:2d:81:db:10", "1", "SMCGS8P-Smart")
    assert obs.capabilities == ("bridge",) and obs.mgmt_ip == "192.168.2.10"


def test_real_mud_url_and_cisco_lldp() -> None:
    mud = _lldp("tcpdump-lldp_mudurl.pcap")
    assert mud[0].mud_url == "https://imright.mud.example.com/.well-known/mud/v1/vomitv2.0"
    cisco = _lldp("tcpdump-LLDP_and_CDP.pcap")
    assert {o.system_name for o in cisco} == {"S1.cisco.com", "S2.cisco.com"}
    assert {o.port_vlan for o in cisco} == {1}


def test_real_asan_capture_does_not_crash() -> None:
    run(real_pcap("tcpdump-lldp_asan.pcap"), [lldp.DETECTOR])


def test_lldp_inside_802_1q_and_802_1ad_tags() -> None:
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
    from scapy.packet import Raw

    from pcaps.fixtures.gen_infra import SWITCH_MAC, lldp_frame

    frame = bytes(lldp_frame(SWITCH_MAC, [tlv(1, b"\x04" + bytes.fromhex(SWITCH_MAC.replace(":", ""))),
                                          tlv(2, b"\x05Gi1/0/5"), tlv(3, b"\x00\x78"), tlv(5, b"sw-img-1")]))
    body = frame[14:]
    tagged = Ether(src=SWITCH_MAC, dst="01:80:c2:00:00:0e") / Dot1Q(vlan=110, type=0x88CC) / Raw(body)
    stacked = (Ether(src=SWITCH_MAC, dst="01:80:c2:00:00:0e") / Dot1AD(vlan=300) / Dot1Q(vlan=120, type=0x88CC)
               / Raw(body))
    tagged.time, stacked.time = 1.0, 2.0
    out = observations([tagged, stacked], [lldp.DETECTOR])
    assert sorted((o.vlan, o.outer_vlan, o.system_name, o.port_id) for o in out) == [
        (110, None, "sw-img-1", "Gi1/0/5"), (120, 300, "sw-img-1", "Gi1/0/5")]
