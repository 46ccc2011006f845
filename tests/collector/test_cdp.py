"""CDP detector (Cisco Discovery Protocol v1/v2 over LLC/SNAP) on synthetic and real frames."""

from __future__ import annotations

import pytest

from collector.protocols import cdp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import cdp_tlv
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(body: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, dst_mac=cdp.CDP_MAC, payload=cdp.SNAP + b"\x02\xb4\x00\x00" + body)


def test_half_duplex_and_bad_length() -> None:
    ctx = SimpleContext()
    (obs,) = cdp.decode(_pkt(cdp_tlv(1, b"phone-1") + cdp_tlv(0x0B, b"\x00") + b"\x00\x03\x00\x02"), ctx)
    assert (obs.device_id, obs.duplex) == ("phone-1", "half")
    assert ctx.weirds == {"cdp_bad_tlv_length": 1}


def test_without_device_id_raises_and_other_snap_is_ignored() -> None:
    with pytest.raises(ValueError):
        cdp.decode(_pkt(cdp_tlv(6, b"cisco")), SimpleContext())
    dtp = Packet(ts=1.0, frame_no=1, payload=b"\xaa\xaa\x03\x00\x00\x0c\x20\x04" + bytes(20))
    assert cdp.decode(dtp, SimpleContext()) == []


def test_real_cdp_v1_router() -> None:
    (obs,) = [o for o in observations(real_pcap("zeek-cdp-v1.pcap"), [cdp.DETECTOR]) if o.kind == "cdp"]
    assert (obs.device_id, obs.port_id, obs.platform, obs.mgmt_ip) == (
        "R1",
        "Ethernet0",
        "cisco 1601",
        "192.168.10.1",
    )
    assert obs.capabilities == ("router",)
    assert obs.software_version == "Cisco Internetwork Operating System Software"


def test_real_cdp_v2_switches() -> None:
    out = [o for o in observations(real_pcap("tcpdump-LLDP_and_CDP.pcap"), [cdp.DETECTOR]) if o.kind == "cdp"]
    assert {(o.device_id, o.platform) for o in out} == {
        ("S1", "cisco WS-C3560-24TS"),
        ("S2", "cisco WS-C3560G-24PS"),
    }
    assert {(o.native_vlan, o.duplex) for o in out} == {(1, "full")}


def test_real_cdp_inside_802_1q_and_l2pt() -> None:
    # Wireshark: frames 21, 22, 25, 26 are CDP from routers R1-R4 tagged 118/209 and sent to the L2PT
    # address 01:00:0c:cd:cd:d0; frames 23, 24 untagged from switches S1/S2 to 01:00:0c:cc:cc:cc
    out = [o for o in observations(real_pcap("pcpp-VlanPackets.pcap"), [cdp.DETECTOR]) if o.kind == "cdp"]
    assert sorted((o.device_id, o.vlan, o.port_id) for o in out) == [
        ("R1", 118, "FastEthernet0/0"), ("R2", 118, "FastEthernet0/0"), ("R3", 209, "FastEthernet0/0"),
        ("R4", 209, "FastEthernet0/0"), ("S1", None, "FastEthernet0/13"), ("S2", None, "FastEthernet0/13"),
    ]
    (one,) = [o for o in observations(real_pcap("pcpp-llc_vlan.pcap"), [cdp.DETECTOR]) if o.kind == "cdp"]
    assert (one.device_id, one.vlan, one.platform) == ("R1", 118, "Cisco 2811")
