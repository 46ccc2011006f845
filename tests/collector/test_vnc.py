"""VNC/RFB server banner and security types (RFC 6143 7.1)."""

from __future__ import annotations

import subprocess

import pytest

from collector.protocols import vnc
from collector.protocols.base import Packet, SimpleContext
from tests import needs
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _server(payload: bytes, port: int = 5900) -> Packet:
    return Packet(ts=1.0, frame_no=4, src_ip="10.10.110.35", dst_ip="10.60.0.10", transport="tcp", src_port=port,
                  dst_port=50200, payload=payload, from_client=False, client_ip="10.60.0.10",
                  server_ip="10.10.110.35", server_port=port)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"RFB 003.008\n\x01\x01", "RFB 003.008;security=none"),
        (b"RFB 003.008\n\x02\x02\x12", "RFB 003.008;security=vnc-auth,tls"),
        (b"RFB 003.003\n\x00\x00\x00\x01", "RFB 003.003;security=none"),
        (b"RFB 003.008\n\x00", "RFB 003.008;security=refused"),
        (b"RFB 003.008\n", "RFB 003.008"),
    ],
)
def test_version_and_security(payload: bytes, detail: str) -> None:
    (rec,) = vnc.decode(_server(payload), SimpleContext())
    assert rec.detail == detail and rec.method == "vnc" and rec.evidence == "content"
    assert (rec.client_ip, rec.server_ip, rec.server_port) == ("10.60.0.10", "10.10.110.35", 5900)


def test_any_port_and_only_server_side() -> None:
    assert vnc.probe(b"RFB 003.889\n") and not vnc.probe(b"RFB 3.8\n") and not vnc.probe(b"HTTP/1.1 200 OK\r\n")
    (rec,) = vnc.decode(_server(b"RFB 004.001\n", port=6900), SimpleContext())
    assert rec.server_port == 6900
    client = _server(b"RFB 003.008\n")
    client.from_client = True
    assert list(vnc.decode(client, SimpleContext())) == []


# Versions and security types read with tshark -e vnc.server_proto_ver -e vnc.server_security_type
REAL = {
    "ndpi-vnc.pcap": {"RFB 004.001;security=13,133,ra2,129,ra2ne,130,vnc-auth"},
    "zeek-vncmac.pcap": {"RFB 003.889;security=apple-dh,apple-35"},
    "suricata-06-vnc-Password-3.3.pcap": {"RFB 003.003;security=vnc-auth"},
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_vnc_captures(name: str) -> None:
    records = [r for r in observations(real_pcap(name)) if r.kind == "remote_access"]
    assert records and {r.detail for r in records} == REAL[name]
    assert all(r.method == "vnc" for r in records)


OVERLAPPING_CONNECTIONS = (
    "pipeline bug: the viewer opens its next connection (SYN, frame 12) before the server's FIN of the "
    "previous one (frame 15); the conversation's only stream slot is still on the old connection "
    "(collector/deep.py DeepPath._tcp), so the new connection's banner (frame 19) is never read"
)


@pytest.mark.tshark
@pytest.mark.parametrize("name", [
    n
    if n == "zeek-vncmac.pcap" else n
    for n in sorted(REAL)
])
def test_server_version_agrees_with_tshark(name: str) -> None:
    path = real_pcap(name)
    needs.tool("tshark")
    out = subprocess.run(["tshark", "-r", str(path), "-c", "60", "-Y", "vnc.server_proto_ver", "-T", "fields",
                          "-e", "frame.number", "-e", "vnc.server_proto_ver"], capture_output=True, text=True,
                         check=True).stdout
    theirs = {int(f): v for f, _, v in (line.partition("\t") for line in out.splitlines())}
    # tshark reads the first 60 frames only (its VNC reassembly of a whole session takes minutes)
    mine = {r.frame_no: r.detail.split(";")[0].removeprefix("RFB ")
            for r in observations(path) if r.kind == "remote_access" and r.frame_no <= 60}
    assert mine == theirs
