"""SSH identification string detector (RFC 4253 4.2)."""

from __future__ import annotations

from collector.protocols import ssh
from collector.protocols.base import Packet, SimpleContext
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(payload: bytes, from_client: bool) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, transport="tcp", payload=payload, from_client=from_client, server_port=22
    )


def test_banner_after_preamble_lines_and_cut() -> None:
    payload = b"Welcome to the PACS\r\nSSH-2.0-" + b"X" * 400 + b"\r\n"
    assert ssh.probe(payload)
    (obs,) = ssh.decode(_pkt(payload, False), SimpleContext())
    assert obs.role == "server" and len(obs.banner) == ssh.MAX_BANNER and obs.software.startswith("XXX")


def test_not_ssh() -> None:
    assert not ssh.probe(b"HTTP/1.1 200 OK\r\n")
    assert ssh.decode(_pkt(b"\x00\x01binary", True), SimpleContext()) == []


def test_real_ssh_both_sides() -> None:
    out = observations(real_pcap("arkime-ssh2.pcap"), [ssh.DETECTOR])
    assert {(o.role, o.software) for o in out} == {("client", "OpenSSH_5.3"), ("server", "OpenSSH_3.9p1")}
    assert {o.banner for o in out if o.role == "server"} == {"SSH-1.99-OpenSSH_3.9p1"}
