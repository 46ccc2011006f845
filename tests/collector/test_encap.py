"""Decapsulation (issue 20 item 5): VXLAN, GRE, ERSPAN I/II/III and MPLS frames re-enter the fast path."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import encap
from pcaps.fixtures import gen_infra as g
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap


def test_real_vxlan_inner_hosts() -> None:
    # zeek-vxlan.pcap: VTEPs 192.168.56.11/12 carry ICMP and ARP between 10.0.0.1 and 10.0.0.2 (VNI 10)
    result = run(real_pcap("zeek-vxlan.pcap"))
    inner = {(o.mac, o.ip) for o in result.of_kind("host") if o.tunnel == "vxlan" and o.ip}
    assert inner == {("ba:09:2b:6e:f8:be", "10.0.0.1"), ("4a:7f:01:3b:a2:71", "10.0.0.2")}
    assert {o.sender_ip for o in result.of_kind("arp")} == {"10.0.0.1", "10.0.0.2"}
    outer = {o.ip for o in result.of_kind("host") if o.tunnel is None}
    assert outer == {"192.168.56.11", "192.168.56.12"}  # the tunnel endpoints stay hosts of their own
    assert len(result.inner) == 10  # every VXLAN datagram re-injected


def test_mpls_payload_by_first_nibble() -> None:
    ipv4 = bytes.fromhex("45000014000000004001") + bytes(10)
    assert encap.mpls_payload(g._mpls([16, 17], ipv4)) == (101, ipv4)
    ipv6 = b"\x60" + bytes(39)
    assert encap.mpls_payload(g._mpls([16], ipv6)) == (101, ipv6)
    eth = g._ether_arp(g.PUMP)
    assert encap.mpls_payload(g._mpls([16], bytes(4) + eth)) == (1, eth)  # RFC 4385 control word
    assert encap.mpls_payload(g._mpls([13], b"\x10\x00\x00\x07" + bytes(20))) is None  # G-ACh
    with pytest.raises(IndexError):
        encap.mpls_payload(struct.pack("!I", 16 << 12))  # no bottom of stack
    with pytest.raises(ValueError):
        encap.mpls_payload(struct.pack("!I", 16 << 12) * 17 + ipv4)


def test_erspan_types() -> None:
    frame = g._ether_arp(g.INFUSION)
    assert encap.erspan_frame(0x88BE, 0x0000, frame) == frame  # type I
    en2 = struct.pack("!HHI", 0x1000 | 120, 2 << 11, 0)
    tagged = encap.erspan_frame(0x88BE, 0x1000, en2 + frame)
    assert tagged[12:16] == b"\x81\x00\x00\x78" and tagged[16:] == frame[12:]
    en3 = struct.pack("!HHI", 0x1000 | 120, 3 << 11, 0)  # tag preserved in the frame: left alone
    assert encap.erspan_frame(0x88BE, 0x1000, en3 + frame) == frame
    v3 = struct.pack("!HHIHH", 0x2000 | 130, 9, 1, 0, 0)
    assert encap.erspan_frame(0x22EB, 0x1000, v3 + frame) == frame
    assert encap.erspan_frame(0x22EB, 0x1000, v3[:-1] + b"\x01" + bytes(8) + frame) == frame  # O bit
    with pytest.raises(ValueError):
        encap.erspan_frame(0x88BE, 0x1000, struct.pack("!HHI", 0x3000, 0, 0) + frame)


def test_every_encapsulation_of_the_fixture_is_opened() -> None:
    result = run(g.encap_tunnels())
    assert sorted({t for _, _, t in result.inner}) == ["erspan", "gre", "mpls", "vxlan"]
    assert len(result.inner) == 9 and not result.weirds
