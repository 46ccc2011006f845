"""Telnet option negotiation (RFC 854/855): content vs port evidence, nothing typed is kept."""

from __future__ import annotations

import pytest

from collector.protocols import telnet
from collector.protocols.base import Packet, SimpleContext
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _server(payload: bytes, port: int = 23) -> Packet:
    return Packet(ts=1.0, frame_no=4, src_ip="10.10.120.50", dst_ip="10.60.0.10", transport="tcp", src_port=port,
                  dst_port=50300, payload=payload, from_client=False, client_ip="10.60.0.10",
                  server_ip="10.10.120.50", server_port=port)


def test_iac_negotiation_names_options() -> None:
    payload = b"\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0\xff\xfb\x01login: "
    (rec,) = telnet.decode(_server(payload), SimpleContext())
    assert (rec.evidence, rec.confidence, rec.detail) == ("content", 0.95, "options=echo,terminal-type")


def test_port_only_and_other_ports() -> None:
    (rec,) = telnet.decode(_server(b"login: "), SimpleContext())
    assert (rec.evidence, rec.confidence, rec.signature) == ("port", 0.4, "telnet-port")
    assert list(telnet.decode(_server(b"login: ", port=2323), SimpleContext())) == []
    (rec,) = telnet.decode(_server(b"\xff\xfb\x01\xff\xfb\x03", port=2323), SimpleContext())
    assert rec.evidence == "content" and rec.server_port == 2323


def test_client_side_is_never_read() -> None:
    pkt = _server(b"\xff\xfb\x18admin\r\nS3cret!\r\n")
    pkt.from_client = True
    assert list(telnet.decode(pkt, SimpleContext())) == []
    assert telnet.probe(b"\xff\xfd\x03") and not telnet.probe(b"\xff\xff\xff") and not telnet.probe(b"\xff")


@pytest.mark.parametrize("name", ["suricata-telnet.pcap", "pcpp-telnet.pcap"])
def test_real_telnet_captures(name: str) -> None:
    records = [r for r in observations(real_pcap(name)) if r.kind == "remote_access"]
    content = [r for r in records if r.evidence == "content"]
    assert content and all(r.method == "telnet" and r.server_port == 23 for r in records)
    # tshark: suricata-telnet.pcap frame 5 is the server's first negotiation (DO/WILL ...)
    if name == "suricata-telnet.pcap":
        assert [r.frame_no for r in content] == [5]


def test_rsh_is_not_telnet() -> None:
    assert [r for r in observations(real_pcap("ndpi-rsh.pcap")) if r.kind == "remote_access"] == []
