"""SSDP detector (UPnP 2.0 section 1): NOTIFY, M-SEARCH and search responses."""

from __future__ import annotations

from collector.protocols import ssdp
from collector.protocols.base import Packet, SimpleContext
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_port=1900, dst_port=1900, transport="udp", payload=payload)


def test_headers_case_and_long_values() -> None:
    msg = b"NOTIFY * HTTP/1.1\r\nserver: " + b"S" * 400 + b"\r\nNt: urn:x\nusn: uuid:1\r\n\r\nbody"
    (obs,) = ssdp.decode(_pkt(msg), SimpleContext())
    assert obs.method == "NOTIFY" and len(obs.server or "") == ssdp.MAX_VALUE
    assert (obs.st, obs.usn, obs.location) == ("urn:x", "uuid:1", None)


def test_non_ssdp_is_a_weird() -> None:
    ctx = SimpleContext()
    assert not ssdp.probe(b"GET / HTTP/1.1\r\n")
    assert ssdp.decode(_pkt(b"GET / HTTP/1.1\r\n\r\n"), ctx) == [] and ctx.weirds == {
        "ssdp_unknown_start_line": 1
    }


def test_real_m_search_user_agent() -> None:
    out = observations(real_pcap("ndpi-ssdp-m-search-ua.pcap"), [ssdp.DETECTOR])
    assert out and all(o.method == "M-SEARCH" for o in out)
    assert out[0].user_agent == "Google Chrome/99.0.4844.74 Mac OS X"
    assert out[0].st == "urn:dial-multiscreen-org:service:dial:1"
