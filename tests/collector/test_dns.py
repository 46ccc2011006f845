"""DNS, mDNS and LLMNR detector (RFC 1035, 6762, 4795): names, record types, compression guard."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import dns
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import dns_message, qname, rr
from tests.collector.replay_helpers import observations, run
from tests.conftest import real_pcap

MDNS, DNS, LLMNR = (next(d for d in dns.DETECTORS if d.name == n) for n in ("mdns", "dns", "llmnr"))


def _pkt(payload: bytes, port: int = 53) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_port=port, dst_port=port, transport="udp", payload=payload)


def test_record_types_and_flavours() -> None:
    msg = dns_message(
        7,
        0x8400,
        [],
        [
            rr(qname("host.local"), 28, bytes(15) + b"\x01"),
            rr(qname("t.local"), 16, b"\x03a=1" + b"\xff" + b"x" * 255),
            rr(qname("x.local"), 99, b"\x00\x01"),  # unknown type: skipped
        ],
    )
    (obs,) = MDNS.decode(_pkt(msg, 5353), SimpleContext())
    assert obs.protocol == "mdns" and obs.response
    assert [(a.rtype, a.value) for a in obs.answers][0] == ("AAAA", "::1")
    assert obs.answers[1].rtype == "TXT" and len(obs.answers[1].value) == dns.MAX_TXT
    assert len(obs.answers) == 2
    (q,) = LLMNR.decode(_pkt(dns_message(1, 0, [("nas", 1)], []), 5355), SimpleContext())
    assert q.protocol == "llmnr" and q.queries == ("nas",) and not q.response


def test_compression_loop_and_truncation_raise() -> None:
    loop = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    with pytest.raises(ValueError, match="loop"):
        DNS.decode(_pkt(loop), SimpleContext())
    two = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0e\xc0\x0c\x00\x01"
    with pytest.raises(ValueError):
        DNS.decode(_pkt(two), SimpleContext())
    cut = dns_message(1, 0x8180, [("a.example", 1)], [rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")])[:-2]
    with pytest.raises((IndexError, struct.error)):
        DNS.decode(_pkt(cut), SimpleContext())


def test_name_length_limit() -> None:
    long = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"
    with pytest.raises(ValueError, match="255"):
        DNS.decode(_pkt(long), SimpleContext())


def test_probe() -> None:
    assert dns.probe(dns_message(1, 0x0100, [("a.example", 1)], []))
    assert not dns.probe(struct.pack("!HHHHHH", 1, 0x2800, 1, 0, 0, 0))  # opcode 5 (update)
    assert not dns.probe(b"\x00" * 11)


def test_real_malformed_dns_does_not_crash() -> None:
    result = run(real_pcap("ndpi-malformed_dns.pcap"), list(dns.DETECTORS))
    out = result.of_kind()
    assert result.weirds.get("dns_malformed", 0) >= 1
    assert all(o.kind == "dns" for o in out)


def test_real_capture_answers() -> None:
    out = [
        o for o in observations(real_pcap("suricata-tls-tls-subjectaltname-input.pcap"), list(dns.DETECTORS))
    ]
    answers = [a for o in out if o.response for a in o.answers]
    assert any(a.name == "mamzon.ru" and a.rtype == "A" and a.value == "138.201.208.22" for a in answers)
