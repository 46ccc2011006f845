"""The declarative remote-access signatures: loader validation, SNI extraction, matching rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from collector.protocols import signatures as sig
from collector.protocols.base import Packet, SimpleContext
from collector.registry import all_detectors
from collector.schema import RemoteAccessObs
from pcaps.fixtures.gen_remote import client_hello
from tests import needs
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap

GOOD = """
signatures:
  - id: demo-magic
    method: radmin
    product: Demo
    transport: tcp
    ports: [4242]
    match:
      - {offset: 2, bytes: "ca fe"}
    confidence: 0.8
    references: [demo]
"""


def _write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    folder = tmp_path / "signatures"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def _tcp(payload: bytes, *, port: int, from_client: bool = True) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_ip="10.0.0.1", dst_ip="10.0.0.2", transport="tcp", src_port=50000,
                  dst_port=port, payload=payload, from_client=from_client, client_ip="10.0.0.1",
                  server_ip="10.0.0.2", server_port=port)


def test_bundled_catalogue_loads_and_covers_the_required_methods() -> None:
    methods = {s.method for s in sig.SIGNATURES}
    assert {"teamviewer", "anydesk", "screenconnect", "splashtop", "logmein", "beyondtrust", "nomachine",
            "radmin", "vnc", "vendor-platform", "ssh", "rdp"} <= methods
    vendors = [s for s in sig.SIGNATURES if s.method == "vendor-platform"]
    assert len(vendors) == 3 and all(s.confidence == 0.6 and s.comment for s in vendors)
    assert all(s.confidence <= 0.4 for s in sig.SIGNATURES if s.evidence == "port")


def test_emitted_by_names_a_real_detector() -> None:
    names = {d.name for d in all_detectors()}
    for s in sig.SIGNATURES:
        if s.emitted_by:
            assert s.emitted_by in names, s.id


def test_rules_dir_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, GOOD)
    monkeypatch.setenv("MEDTAP_RULES_DIR", str(tmp_path))
    assert sig.signatures_dir() == tmp_path / "signatures"
    loaded = sig.load_signatures()
    assert [s.id for s in loaded] == ["demo-magic"]
    assert loaded[0].evidence == "content"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD.replace("confidence: 0.8", "confidence: 0.8\n    colour: red"), "colour"),
        (GOOD.replace("    match:\n      - {offset: 2, bytes: \"ca fe\"}\n", ""), "confidence <= 0.4"),
        (GOOD.replace('"ca fe"', '"zz"'), "match"),
        (GOOD.replace("method: radmin", "method: carrier-pigeon"), "method"),
        (GOOD.replace("ports: [4242]", "ports: [70000]"), "port 70000"),
        (GOOD.replace("[4242]", "[4242]\n    port_required: true").replace("ports: [4242]", "ports: []"), "ports"),
        ("signatures: {}", "a list"),
    ],
)
def test_invalid_file_names_file_and_entry(tmp_path: Path, text: str, reason: str) -> None:
    folder = _write(tmp_path, text, "broken.yaml")
    with pytest.raises(sig.SignatureFileError) as err:
        sig.load_signatures(folder)
    message = str(err.value)
    assert "broken.yaml" in message and reason in message
    if "entry" in message:
        assert "demo-magic" in message


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    folder = _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(sig.SignatureFileError, match="already defined in a.yaml"):
        sig.load_signatures(folder)


def test_a_new_vendor_needs_no_python(tmp_path: Path) -> None:
    folder = _write(tmp_path, GOOD)
    dets = {d.name: d for d in sig.make_detectors(sig.load_signatures(folder))}
    tcp = dets["remote-signatures-tcp"]
    payload = b"\x00\x00\xca\xfe rest"
    assert tcp.probe(payload) and not tcp.probe(b"\x00\x00\xca\xff")
    (rec,) = tcp.decode(_tcp(payload, port=4242), SimpleContext())
    assert isinstance(rec, RemoteAccessObs)
    assert (rec.method, rec.signature, rec.evidence, rec.server_port) == ("radmin", "demo-magic", "content", 4242)


def test_sni_extraction_matches_what_we_built() -> None:
    assert sig.extract_sni(client_hello("Relay-1.NET.AnyDesk.com")) == "relay-1.net.anydesk.com"
    hello = client_hello("x.example")
    assert sig.extract_sni(hello[:20]) is None  # truncated: None, never an exception
    assert sig.extract_sni(b"GET / HTTP/1.1\r\n") is None


@pytest.mark.tshark
@pytest.mark.parametrize("name", ["pcpp-tls2.pcap", "ndpi-tls_esni_sni_both.pcap"])
def test_sni_extraction_agrees_with_tshark(name: str) -> None:
    path = real_pcap(name)
    needs.tool("tshark")
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tls.handshake.type == 1", "-T", "fields",
                          "-e", "frame.number", "-e", "tls.handshake.extensions_server_name"],
                         capture_output=True, text=True, check=True).stdout
    theirs = {int(f): s.lower() for f, _, s in (line.partition("\t") for line in out.splitlines()) if s}
    assert theirs, "tshark found no SNI"
    packets = rdpcap(str(path))
    for frame, want in theirs.items():
        assert sig.extract_sni(bytes(packets[frame - 1][TCP].payload)) == want


def test_direction_and_port_rules() -> None:
    sigset = sig.SignatureSet(sig.SIGNATURES, "tcp")
    # TeamViewer magic: only on 5938 (port_required)
    assert [h.signature.id for h in sigset.hits(b"\x17\x24" + bytes(8), from_client=True, server_port=5938)] \
        == ["teamviewer-tcp"]
    assert sigset.hits(b"\x17\x24" + bytes(8), from_client=True, server_port=8443) == []
    # random bytes on 5938: the port-only signature, on the client direction only
    hits = sigset.hits(b"\x42\x00\x01", from_client=True, server_port=5938)
    assert [(h.signature.id, h.signature.evidence, h.signature.confidence) for h in hits] == \
        [("teamviewer-port", "port", 0.3)]
    assert sigset.hits(b"\x42\x00\x01", from_client=False, server_port=5938) == []
    # SSH banner is a server-direction signature
    assert sigset.hits(b"SSH-2.0-OpenSSH_9.6\r\n", from_client=True, server_port=22) == []
    (hit,) = sigset.hits(b"SSH-2.0-OpenSSH_9.6\r\n", from_client=False, server_port=22)
    assert hit.detail == "SSH-2.0-OpenSSH_9.6"


def test_unrelated_https_gives_nothing() -> None:
    (det,) = [d for d in sig.DETECTORS if d.name == "remote-signatures-tcp"]
    for name in ("www.example.org", "anydesk.com.evil.example", "notsplashtop.com"):
        payload = client_hello(name)
        assert not det.probe(payload)
        assert list(det.decode(_tcp(payload, port=443), SimpleContext())) == []


def test_udp_direction_from_the_signature_port() -> None:
    (det,) = [d for d in sig.DETECTORS if d.name == "remote-signatures-udp"]
    data = b"\x00" + bytes(10) + b"\x17\x24" + bytes(4)
    reply = Packet(ts=1.0, frame_no=2, src_ip="203.0.113.5", dst_ip="10.0.0.1", transport="udp", src_port=5938,
                   dst_port=40000, payload=data)
    (rec,) = det.decode(reply, SimpleContext())
    assert (rec.client_ip, rec.server_ip, rec.server_port) == ("10.0.0.1", "203.0.113.5", 5938)


def test_ssh_banner_on_real_capture_agrees_with_tshark() -> None:
    # tshark -d tcp.port==8000,ssh -Y ssh.protocol: server banners in frames 4 (port 22) and 264 (port 8000)
    records = [r for r in observations(real_pcap("ndpi-ssh.pcap")) if r.kind == "remote_access"]
    assert {(r.frame_no, r.server_port, r.detail) for r in records} == {
        (4, 22, "SSH-2.0-OpenSSH_5.3"), (264, 8000, "SSH-2.0-APACHE-SSHD-2.5.0")}
    assert all(r.method == "ssh" and r.signature == "ssh-banner" for r in records)
