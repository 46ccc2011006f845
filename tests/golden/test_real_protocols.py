"""Real public captures: the protocols medtap must name in `devices[].protocols` (issue 20 item 10).

Each row is what the capture holds (MANIFEST.md of ../shared/pcaps/real, Wireshark's dissection)
and what nDPI 4.2 names in it: the names listed must appear on some device, the names under
`never` must not (LLDP and CDP are facts, not protocols; a signature detector's name is not a
protocol).  `tests/accuracy/real_captures.py` prints the whole comparison with nDPI.
"""

from __future__ import annotations

import datetime as dt

import pytest
from scapy.contrib.erspan import ERSPAN_II
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import GRE, Ether

from analyzer.engine import analyze
from analyzer.models import Report
from collector.pipeline import replay
from collector.sinks import ListSink
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

pytestmark = [pytest.mark.shared]
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NEVER = {"lldp", "cdp", "remote-signatures-tcp", "remote-signatures-udp", "smb"}

CAPTURES = {
    # capture: names some device must carry
    "tcpdump-ntp.pcap": {"ntp"},
    "ndpi-smb_deletefile.pcap": {"smb2"},  # starts after the negotiate
    "zeek-smb1.pcap": {"smb2"},  # SMB2 despite the name, after the negotiate
    "zeek-smb3.pcap": {"smb3"},
    "zeek-SMBGhost.pcap": {"smb3"},
    "suricata-smb1_osx.pcap": {"smb1"},
    "ndpi-smbv1.pcap": {"smb1"},
    "ndpi-rdp2.pcap": {"rdp"},  # RDP over UDP (MS-RDPEUDP)
    "zeek-rdp-to-ssl.pcap": {"rdp"},
    "ndpi-rdp_over_tls.pcap": {"rdp"},
    "ndpi-ssh.pcap": {"ssh"},
    "arkime-v6.pcap": {"ssh", "dns"},  # the host's own public IPv6 addresses
    "zeek-get.pcap": {"http"},  # a client on a public address
    "pcpp-tls2.pcap": {"tls"},
    "zeek-tls13-ech.pcap": {"tls"},
    "pcpp-ssl-malformed1.pcap": {"tls"},  # a complete ClientHello with a broken extension block
    "ndpi-vnc.pcap": {"vnc"},
    "pcpp-telnet.pcap": {"telnet"},
    "suricata-dhcp-eve-extended-option-60-input.pcap": {"dhcp"},  # a client without an address yet
    "zeek-wikipedia.pcap": {"llmnr", "netbios-ns"},
    "tcpdump-LLDP_and_CDP.pcap": set(),
}


def _report(name: str) -> Report:
    sink = ListSink()
    replay([real_pcap(name)], sink, key=TEST_KEY)
    return analyze(sink.observations, now=NOW)


def _names(report: Report) -> set[str]:
    return {p.rsplit("/", 1)[0] for d in report.devices for p in d.protocols}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_names_its_protocols(name: str) -> None:
    names = _names(_report(name))
    assert CAPTURES[name] <= names, f"{name}: missing {CAPTURES[name] - names}, named {sorted(names)}"
    assert not names & NEVER, f"{name}: {sorted(names & NEVER)} in devices[].protocols"


def test_lldp_and_cdp_are_facts_not_protocols() -> None:
    report = _report("tcpdump-LLDP_and_CDP.pcap")
    sources = {f.source for d in report.devices for f in d.facts}
    assert {"lldp", "cdp"} <= sources
    assert not _names(report) & {"lldp", "cdp"}


def test_tls_server_names_on_the_client() -> None:
    report = _report("ndpi-tls_verylong_certificate.pcap")
    [client] = [d for d in report.devices if "tls/client" in d.protocols]
    assert ("tls_sni", "feodotracker.abuse.ch") in {(f.attribute, f.value) for f in client.facts}


# Inside MPLS and ERSPAN: decapsulated by collector/protocols/encap.py.
CLIENT, SERVER = ("02:00:00:00:00:01", "10.10.110.23"), ("02:00:00:00:00:02", "10.10.110.24")


def _telnet(outer: object) -> list[object]:
    pkts = []
    for i, (src, dst, flags, data) in enumerate([
        (CLIENT, SERVER, "S", b""), (SERVER, CLIENT, "SA", b""),
        (SERVER, CLIENT, "PA", b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"),
        (CLIENT, SERVER, "PA", b"\xff\xfb\x18\xff\xfb\x20"),
    ]):
        sport, dport = (40000, 23) if src is CLIENT else (23, 40000)
        inner = IP(src=src[1], dst=dst[1]) / TCP(sport=sport, dport=dport, flags=flags, seq=1000 + i) / data
        p = outer(src, dst, inner)  # type: ignore[operator]
        p.time = 1767225600.0 + i
        pkts.append(p)
    return pkts


def _named_in(pkts: list[object]) -> set[str]:
    return _names(analyze(run(pkts).observations, now=NOW))


def test_telnet_on_plain_ethernet_is_named() -> None:
    """The control for the two below: the same frames without encapsulation."""
    assert "telnet" in _named_in(_telnet(lambda s, d, inner: Ether(src=s[0], dst=d[0]) / inner))


def test_telnet_inside_mpls_is_named() -> None:
    names = _named_in(_telnet(lambda s, d, inner: Ether(src=s[0], dst=d[0], type=0x8847)
                              / MPLS(label=100, s=1, ttl=64) / inner))
    assert "telnet" in names


def test_telnet_inside_erspan_is_named() -> None:
    def erspan(s: tuple[str, str], d: tuple[str, str], inner: object) -> object:
        return (Ether(src="02:00:00:00:0e:01", dst="02:00:00:00:0e:02") / IP(src="10.0.0.1", dst="10.0.0.2")
                / GRE(proto=0x88BE, seqnum_present=1, sequence_number=1) / ERSPAN_II(vlan=110, session_id=1)
                / Ether(src=s[0], dst=d[0]) / inner)

    assert "telnet" in _named_in(_telnet(erspan))
