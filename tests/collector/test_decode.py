"""The fast path header walker: link types, VLAN stacks, IPv6 extension headers, malformed input."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dot11 import Dot11, Dot11QoS, RadioTap
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import LLC, SNAP, CookedLinux, Dot1AD, Dot1Q, Dot3, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.packet import Raw

from collector import decode as D
from collector.decode import Decoder

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
UDP_PKT = IP(src="10.1.2.3", dst="10.9.8.7", ttl=33) / UDP(sport=40000, dport=53) / Raw(b"q" * 12)


def dec(data: bytes, linktype: int = 1) -> tuple:
    d = Decoder()
    h = d.decode(bytes(data), linktype)
    assert h is not None, d.weirds
    return h


def test_ethernet_ipv4_udp() -> None:
    h = dec(Ether(src=A, dst=B) / UDP_PKT)
    assert h[D.SRC] == bytes.fromhex("02000000000a") and h[D.DST] == bytes.fromhex("02000000000b")
    assert h[D.VLAN] is None and h[D.OUTER] is None and h[D.ETYPE] == 0x0800
    assert (h[D.IPVER], h[D.SIP], h[D.DIP], h[D.PROTO], h[D.TTL]) == (4, bytes([10, 1, 2, 3]), bytes([10, 9, 8, 7]), 17, 33)
    assert (h[D.SPORT], h[D.DPORT]) == (40000, 53)
    data = bytes(Ether(src=A, dst=B) / UDP_PKT)
    assert data[h[D.POFF]:h[D.PEND]] == b"q" * 12


def test_ethernet_padding_is_not_payload() -> None:
    data = bytes(Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, flags="A")) + b"\x00" * 6
    h = dec(data)
    assert h[D.PEND] == h[D.POFF] and h[D.FLAGS] == 0x10


@pytest.mark.parametrize(
    "tags, vlan, outer",
    [
        (Dot1Q(vlan=110), 110, None),
        (Dot1AD(vlan=100) / Dot1Q(vlan=120), 120, 100),
        (Dot1Q(vlan=10) / Dot1Q(vlan=20) / Dot1Q(vlan=30), 30, 10),
    ],
)
def test_vlan_stacks(tags, vlan: int, outer: int | None) -> None:  # type: ignore[no-untyped-def]
    h = dec(Ether(src=A, dst=B) / tags / UDP_PKT)
    assert (h[D.VLAN], h[D.OUTER], h[D.ETYPE], h[D.DPORT]) == (vlan, outer, 0x0800, 53)


def test_linux_sll_and_sll2() -> None:
    sll = bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("02000000000a") + b"\x00\x00", proto=0x0800) / UDP_PKT)
    h = dec(sll, 113)
    assert h[D.SRC] == bytes.fromhex("02000000000a") and h[D.DST] is None and h[D.DPORT] == 53
    sll2 = struct.pack(">HHIHBB", 0x0800, 0, 3, 1, 0, 6) + bytes.fromhex("02000000000b") + b"\x00\x00" + bytes(UDP_PKT)
    h2 = dec(sll2, 276)
    assert h2[D.SRC] == bytes.fromhex("02000000000b") and h2[D.SPORT] == 40000


@pytest.mark.parametrize("linktype", [101, 228, 12, 14])
def test_raw_ipv4(linktype: int) -> None:
    h = dec(bytes(UDP_PKT), linktype)
    assert h[D.SRC] is None and h[D.SIP] == bytes([10, 1, 2, 3]) and h[D.DPORT] == 53


def test_raw_ipv6_null_loop_and_ppp() -> None:
    v6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=50000, dport=443, flags="S"))
    assert dec(v6, 229)[D.DPORT] == 443
    assert dec(v6, 101)[D.IPVER] == 6
    assert dec(struct.pack("<I", 2) + bytes(UDP_PKT), 0)[D.DPORT] == 53  # BSD NULL, host order
    assert dec(struct.pack(">I", 30) + v6, 108)[D.DPORT] == 443  # OpenBSD LOOP, network order, AF_INET6
    assert dec(b"\xff\x03\x00\x21" + bytes(UDP_PKT), 9)[D.DPORT] == 53
    pppoe = Ether(src=A, dst=B) / Dot1Q(vlan=7) / PPPoE(sessionid=1) / PPP(proto=0x0021) / UDP_PKT
    h = dec(pppoe)
    assert (h[D.VLAN], h[D.SIP], h[D.DPORT]) == (7, bytes([10, 1, 2, 3]), 53)


def test_ipv6_extension_headers_are_walked() -> None:
    pkt = (IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
           / IPv6ExtHdrFragment(offset=0, m=1, id=5) / UDP(sport=5353, dport=5353) / Raw(b"x" * 8))
    h = dec(Ether(src=A, dst=B) / pkt)
    assert (h[D.PROTO], h[D.SPORT], h[D.DPORT]) == (17, 5353, 5353)
    later = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(offset=100, nh=17) / Raw(b"y" * 16)
    h = dec(Ether(src=A, dst=B) / later)
    assert h[D.PROTO] == 17 and h[D.SPORT] is None  # a later fragment has no L4 header


def test_ipv4_later_fragment_has_no_ports() -> None:
    first = IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0, proto=17) / UDP(sport=1, dport=2) / Raw(b"a" * 16)
    later = IP(src="10.0.0.1", dst="10.0.0.2", frag=3, proto=17) / Raw(b"b" * 16)
    assert dec(Ether() / first)[D.DPORT] == 2
    h = dec(Ether() / later)
    assert h[D.PROTO] == 17 and h[D.SPORT] is None and h[D.DPORT] is None


def test_icmp_type_and_code() -> None:
    h = dec(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, code=0))
    assert (h[D.PROTO], h[D.SPORT], h[D.DPORT]) == (1, 8, 0)


def test_radiotap_80211_data_frame_to_ds() -> None:
    frame = (RadioTap(present="Flags", Flags=0) / Dot11(type=2, subtype=8, FCfield=0x01, addr1="02:aa:00:00:00:01",
             addr2=A, addr3=B) / Dot11QoS() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / UDP_PKT)
    h = dec(bytes(frame), 127)
    wifi = h[D.WIFI]
    assert wifi is not None
    assert wifi.bssid == bytes.fromhex("02aa00000001") and wifi.station == bytes.fromhex("02000000000a")
    assert h[D.SRC] == bytes.fromhex("02000000000a") and h[D.DST] == bytes.fromhex("02000000000b")
    assert (h[D.ETYPE], h[D.DPORT]) == (0x0800, 53)


def test_80211_from_ds_and_fcs_stripped() -> None:
    body = bytes(LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / UDP_PKT)
    frame = bytes(Dot11(type=2, subtype=0, FCfield=0x02, addr1=A, addr2="02:aa:00:00:00:01", addr3=B)) + body
    h = dec(frame, 105)
    assert h[D.WIFI].station == bytes.fromhex("02000000000a") and h[D.SRC] == bytes.fromhex("02000000000b")
    rt = bytes(RadioTap(present="Flags", Flags="FCS")) + frame + b"\xde\xad\xbe\xef"
    h = dec(rt, 127)
    assert rt[h[D.POFF]:h[D.PEND]] == b"q" * 12


def test_80211_beacon_is_its_access_point_and_other_management_frames_are_nothing() -> None:
    """A beacon, probe or association names its transmitter (issue 20 item 7: access points and
    stations of management-only captures) and goes to collector/protocols/dot11_mgmt.py by the
    pseudo ethertype dot11.MGMT; a deauthentication or a control frame is still nothing."""
    from collector import dot11

    d = Decoder()
    h = d.decode(bytes(Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=A, addr3=A) / Raw(b"\x00" * 12)), 105)
    assert h is not None and h[D.ETYPE] == dot11.MGMT and h[D.IPVER] == 0 and h[D.L2OFF] == 0
    assert d.decode(bytes(Dot11(type=0, subtype=12, addr1=A, addr2=A, addr3=A) / Raw(b"\x07\x00")), 105) is None
    assert d.decode(bytes(Dot11(type=1, subtype=13, addr1=A)), 105) is None
    assert d.weirds == {}


def test_8023_llc_frame_keeps_its_length_field() -> None:
    cdp = bytes(Dot3(src=A, dst="01:00:0c:cc:cc:cc") / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x0C, code=0x2000) / Raw(b"\x02\xb4\x00\x00"))
    h = dec(cdp)
    assert h[D.ETYPE] < 0x600 and h[D.L2OFF] == 14 and h[D.IPVER] == 0


@pytest.mark.parametrize(
    "data, linktype, weird",
    [
        (b"\x00" * 10, 1, "truncated_ethernet"),
        (bytes(Ether(type=0x8100)) + b"\x00\x6e", 1, "truncated_vlan"),
        (bytes(Ether(type=0x0800)) + bytes([0x44]) + bytes(UDP_PKT)[1:], 1, "ipv4_bad_header_len"),
        (bytes(Ether(type=0x0800)) + bytes(UDP_PKT)[:2] + b"\x00\x10" + bytes(UDP_PKT)[4:], 1, "ipv4_bad_total_length"),
        (bytes(Ether(type=0x0800)) + bytes(UDP_PKT)[:12], 1, "truncated_ipv4"),
        (bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2", proto=6) / Raw(b"\x00" * 8)), 1, "truncated_tcp"),
        (bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dataofs=2)), 1, "tcp_bad_header_len"),
        (bytes(Ether(type=0x86DD)) + b"\x60" + b"\x00" * 20, 1, "truncated_ipv6"),
        (b"\x00\x00\x40\x00" + b"\x00" * 8, 127, "bad_radiotap_header"),
        (bytes(UDP_PKT), 147, "unsupported_linktype"),
        (b"\x00\x01\x02", 113, "truncated_sll"),
        (b"\x50" + b"\x00" * 30, 101, "bad_ip_version"),
    ],
)
def test_malformed_headers_are_named_weirds(data: bytes, linktype: int, weird: str) -> None:
    d = Decoder()
    d.decode(data, linktype)  # never raises
    assert d.weirds == {weird: 1}


# --------------------------------------------------------------------------- Prism and AVS headers (issue 20 item 5)

DOT11_DATA = bytes(Dot11(type=2, subtype=0, FCfield=0x01, addr1="02:aa:00:00:00:01", addr2=A, addr3=B)
                   / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / UDP_PKT)
PRISM = struct.pack("<II", 0x44, 144) + b"wlan0".ljust(16, b"\x00") + bytes(120)  # linux-wlan-ng p80211 header
AVS = struct.pack(">II", 0x80211001, 64) + bytes(56)


@pytest.mark.parametrize(("header", "linktype"), [(PRISM, 119), (AVS, 119), (AVS, 163), (b"", 119)],
                         ids=["prism", "avs-as-119", "avs", "119-without-header"])
def test_prism_and_avs_headers(header: bytes, linktype: int) -> None:
    # before: unsupported_linktype, no host
    h = dec(header + DOT11_DATA, linktype)
    assert h[D.WIFI] is not None and h[D.WIFI].station == bytes.fromhex("02000000000a")
    assert (h[D.SRC], h[D.ETYPE], h[D.DPORT], h[D.SIP]) == (bytes.fromhex("02000000000a"), 0x0800, 53,
                                                             bytes([10, 1, 2, 3]))


@pytest.mark.parametrize(("data", "linktype", "weird"), [
    (struct.pack("<II", 0x44, 4000) + bytes(40), 119, "bad_prism_header"),
    (struct.pack(">II", 0x80211001, 4) + bytes(40), 163, "bad_avs_header"),
    (bytes(40), 163, "bad_avs_header"),
])
def test_insane_prism_and_avs_headers_are_weirds(data: bytes, linktype: int, weird: str) -> None:
    d = Decoder()
    assert d.decode(data, linktype) is None and d.weirds == {weird: 1}


def test_real_prism_linktype_is_read() -> None:
    from tests.collector.replay_helpers import run
    from tests.conftest import real_pcap

    # aircrack-wpaclean_crash.pcap: LINKTYPE_PRISM_HEADER, a truncated association request without the header
    stats = run(real_pcap("aircrack-wpaclean_crash.pcap")).stats
    assert stats.linktypes == {"ieee802_11_prism": 1} and "unsupported_linktype" not in stats.weirds


@pytest.mark.parametrize(("name", "inner", "outer"), [("tcpdump-802.1ad_QinQ.pcap", 2001, 200),
                                                      ("zeek-q-in-q.pcap", 10, 13)])
def test_real_stacked_tags_carry_inner_and_outer(name: str, inner: int, outer: int) -> None:
    # 802.1ad S-tag 200 over C-tag 2001 (ARP); two 802.1Q tags 13 over 10 (BACnet, ARP): every record keeps
    # the customer tag in `vlan` (the device's VLAN for the rules) and the provider tag in `outer_vlan`
    from tests.collector.replay_helpers import run
    from tests.conftest import real_pcap

    result = run(real_pcap(name))
    records = [o for o in result.observations if o.kind in ("host", "conversation", "arp")]
    assert records and {(o.vlan, o.outer_vlan) for o in records} == {(inner, outer)}
