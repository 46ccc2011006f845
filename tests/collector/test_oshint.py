"""Passive OS hints: SYN TTL/window/options, NTLM versions, User-Agents."""

from __future__ import annotations

from scapy.layers.inet import TCP

from collector.protocols import oshint
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_infra as g
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _syn_options(pkts: list) -> bytes:
    t = TCP(bytes(pkts[0][TCP]))  # built, so dataofs is known
    return bytes(t)[20 : t.dataofs * 4]


def test_layouts_from_the_fixture() -> None:
    win, lin = g.os_syn()
    assert oshint.option_layout(_syn_options([win])) == ("MSS", "NOP", "WS", "NOP", "NOP", "SACK")
    assert oshint.option_layout(_syn_options([lin])) == ("MSS", "SACK", "TS", "NOP", "WS")
    assert oshint.syn_hint(128, 64240, _syn_options([win])) == ("Windows", 0.5)
    assert oshint.syn_hint(57, 64240, _syn_options([lin])) == ("Linux", 0.5)


def test_inconsistent_ttl_and_layout_lowers_confidence() -> None:
    lin = _syn_options([g.os_syn()[1]])
    assert oshint.syn_hint(120, 1024, lin) == ("Windows", 0.3)
    assert oshint.syn_hint(250, 4128, b"\x02\x04\x05\xb4") == ("network-device", 0.3)
    assert oshint.syn_hint(None, None, b"") is None
    assert oshint.option_layout(b"\x02\x00\x01") == ("MSS",)  # a zero length stops the walk


def test_decode_is_about_the_syn_sender() -> None:
    pkt = Packet(
        ts=1.0,
        frame_no=1,
        src_mac="3c:52:82:20:00:11",
        src_ip="10.20.0.11",
        ip_ttl=127,
        tcp_window=64240,
        tcp_options=_syn_options([g.os_syn()[0]]),
    )
    (hint,) = oshint.decode(pkt, SimpleContext())
    assert (hint.ip, hint.mac, hint.method, hint.family) == (
        "10.20.0.11",
        "3c:52:82:20:00:11",
        "tcp-syn",
        "Windows",
    )
    assert 0.3 <= hint.confidence <= 0.5


def test_ntlm_and_user_agent_tables() -> None:
    assert oshint.ntlm_os(5, 1, 2600) == ("Windows", "XP")
    assert oshint.ntlm_os(6, 1, 7601) == ("Windows", "7")
    assert oshint.ntlm_os(10, 0, 19045) == ("Windows", "10 (build 19045)")  # 22H2: no server has it
    assert oshint.ntlm_os(10, 0, 22631) == ("Windows", "11 (build 22631)")
    assert oshint.ntlm_os(10, 0, 20348) == ("Windows", "Server 2022 (build 20348)")
    assert oshint.ntlm_os(10, 0, 17763) == ("Windows", "10/11/2016+ (build 17763)")  # 1809 or Server 2019
    assert oshint.ntlm_os(10, 0, 26100) == ("Windows", "10/11/2016+ (build 26100)")  # 11 24H2 or Server 2025
    assert oshint.ntlm_os(10, 0, 0) == ("Windows", "10/11/2016+")
    assert oshint.ntlm_os(3, 2, 1) == ("unknown", "3.2.1")
    assert oshint.ua_os("Mozilla/5.0 (Windows NT 6.1; WOW64)") == ("Windows", "7")
    assert oshint.ua_os("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X)") == ("iOS", "17")
    assert oshint.ua_os("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)") == ("macOS", "10.15")
    assert oshint.ua_os("curl/8.5.0") is None


def test_real_windows_syn() -> None:
    out = observations(real_pcap("ndpi-windowsupdate_over_http.pcap"), [oshint.DETECTOR])
    # the pipeline also reads the server's SYN-ACK (tcp_syn detectors see each direction's first SYN)
    assert [(o.ip, o.family) for o in out if o.ip == "10.0.2.15"] == [("10.0.2.15", "Windows")]
