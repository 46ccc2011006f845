"""RDP X.224 connection request/confirm: cookie user hashed, security protocols (MS-RDPBCGR 2.2.1.1)."""

from __future__ import annotations

import json
import subprocess

import pytest

from collector.protocols import rdp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_remote import x224_cc, x224_cr
from tests import needs
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap
from tests.keys import TEST_KEY


def _pkt(payload: bytes, from_client: bool = True) -> Packet:
    return Packet(ts=1.0, frame_no=4, src_ip="10.60.0.10", dst_ip="10.10.110.21", transport="tcp", src_port=50123,
                  dst_port=3389, payload=payload, from_client=from_client, client_ip="10.60.0.10",
                  server_ip="10.10.110.21", server_port=3389)


def test_cookie_is_hashed_never_kept() -> None:
    ctx = SimpleContext()
    (rec,) = rdp.decode(_pkt(x224_cr("dr.house", 0x3)), ctx)
    assert rec.user_present and rec.user_hash == ctx.pseudonymise("dr.house")
    assert rec.detail == "requested=ssl,hybrid"
    assert "dr.house" not in rec.model_dump_json()
    assert (rec.client_ip, rec.server_ip, rec.server_port, rec.method) == ("10.60.0.10", "10.10.110.21", 3389, "rdp")


def test_hash_depends_on_the_sensor_key() -> None:
    a = rdp.decode(_pkt(x224_cr("dr.house", 1)), SimpleContext(key=b"one"))[0]
    b = rdp.decode(_pkt(x224_cr("dr.house", 1)), SimpleContext(key=b"two"))[0]
    assert a.user_hash != b.user_hash


def test_standard_rdp_security_without_negotiation() -> None:
    (rec,) = rdp.decode(_pkt(x224_cr(None, None)), SimpleContext())
    assert rec.detail == "requested=rdp" and not rec.user_present


def test_confirm_and_failure() -> None:
    (rec,) = rdp.decode(_pkt(x224_cc(0x8), from_client=False), SimpleContext())
    assert rec.signature == "rdp-x224-confirm" and rec.detail == "selected=hybrid-ex"
    failure = bytearray(x224_cc(0))
    failure[11] = 3  # RDP_NEG_FAILURE
    failure[15] = 5  # HYBRID_REQUIRED_BY_SERVER
    (rec,) = rdp.decode(_pkt(bytes(failure), from_client=False), SimpleContext())
    assert rec.detail == "failure=hybrid-required"


def test_other_traffic_on_3389_is_ignored_and_truncation_raises() -> None:
    assert list(rdp.decode(_pkt(b"\x16\x03\x01\x00\x10" + bytes(16)), SimpleContext())) == []
    assert not rdp.probe(b"\x03\x00\x00")
    cr = x224_cr("someone", 3)
    with pytest.raises(ValueError):  # cookie cut before its CRLF
        rdp.decode(_pkt(cr[:32]), SimpleContext())


# Real captures; the expected values were read with
# tshark -Y rdp.neg_type -T fields -e rdp.rt_cookie -e rdp.negReq.requestedProtocols -e rdp.negReq.selectedProtocol
REAL = {
    "ndpi-rdp.pcap": (False, {"requested=ssl,hybrid,hybrid-ex", "selected=hybrid-ex"}),
    "ndpi-rdp_over_tls.pcap": (True, {"requested=ssl,hybrid", "selected=hybrid"}),
    "zeek-rdp-to-ssl.pcap": (True, {"requested=ssl,hybrid", "selected=hybrid"}),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_rdp_captures(name: str) -> None:
    cookie, details = REAL[name]
    records = [r for r in observations(real_pcap(name)) if r.kind == "remote_access" and r.method == "rdp"]
    assert {r.detail for r in records} == details
    requests = [r for r in records if r.signature == "rdp-x224"]
    assert requests and all(r.user_present == cookie for r in requests)
    assert all(r.server_port == 3389 for r in records)
    if name == "ndpi-rdp_over_tls.pcap":
        assert "WDeployAd" not in json.dumps([r.model_dump(mode="json") for r in records])


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(REAL))
def test_cookie_presence_agrees_with_tshark(name: str) -> None:
    path = real_pcap(name)
    needs.tool("tshark")
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "rdp.neg_type == 1", "-T", "fields", "-e", "frame.number",
                          "-e", "rdp.rt_cookie"], capture_output=True, text=True, check=True).stdout
    theirs = {int(f): bool(c) for f, _, c in (line.partition("\t") for line in out.splitlines())}
    mine = {r.frame_no: r.user_present for r in observations(path) if r.kind == "remote_access"
            and r.signature == "rdp-x224"}
    assert mine == theirs


@pytest.mark.parametrize(("name", "frames"), [("ndpi-rdp2.pcap", [1, 33]),
                                              ("zeek-rdpeudp-handshake-success.pcap", [1])])
def test_rdp_udp_syn_signature(name: str, frames: list[int]) -> None:
    # tshark (rdpudp): those frames are client SYNs (snSourceAck 0xffffffff, flag SYN) to UDP 3389.
    # Through the real pipeline: the zeek capture is IPv6, which the stand-in replay does not parse.
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([real_pcap(name)], sink, key=TEST_KEY)
    records = [r for r in sink.observations if r.kind == "remote_access"]
    assert [(r.frame_no, r.signature, r.server_port) for r in records] == [(f, "rdp-udp-syn", 3389) for f in frames]
    assert all(r.client_ip == r.src_ip and r.method == "rdp" for r in records)
