"""ARP detector (RFC 826): requests, replies, gratuitous announcements, unsupported types."""

from __future__ import annotations

import pytest
from scapy.layers.l2 import ARP

from collector.protocols import arp
from collector.protocols.base import Packet, SimpleContext
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_mac="00:09:fb:20:00:50", ethertype=0x0806, payload=payload)


def test_reply_fields() -> None:
    raw = bytes(
        ARP(
            op=2,
            hwsrc="00:00:0c:9f:f0:01",
            psrc="10.10.120.1",
            hwdst="00:09:fb:20:00:50",
            pdst="10.10.120.50",
        )
    )
    (obs,) = arp.decode(_pkt(raw), SimpleContext())
    assert (obs.op, obs.sender_mac, obs.sender_ip) == ("reply", "00:00:0c:9f:f0:01", "10.10.120.1")
    assert (obs.target_mac, obs.target_ip, obs.gratuitous) == ("00:09:fb:20:00:50", "10.10.120.50", False)


def test_gratuitous_and_other_ops() -> None:
    raw = bytes(ARP(op=1, hwsrc="00:09:fb:20:00:50", psrc="10.10.120.50", pdst="10.10.120.50"))
    (obs,) = arp.decode(_pkt(raw), SimpleContext())
    assert obs.gratuitous and obs.op == "request"
    (other,) = arp.decode(_pkt(bytes(ARP(op=8, psrc="10.0.0.1", pdst="10.0.0.2"))), SimpleContext())
    assert other.op == "other"


def test_non_ethernet_arp_is_a_weird_and_truncation_raises() -> None:
    ctx = SimpleContext()
    assert arp.decode(_pkt(bytes(ARP(hwtype=6))), ctx) == []
    assert ctx.weirds == {"arp_unsupported": 1}
    with pytest.raises(ValueError):
        arp.decode(_pkt(bytes(ARP())[:20]), SimpleContext())


def test_real_capture_radiotap_arp_is_read_through_the_llc_header() -> None:
    """zeek-arp-who-has-radiotap.pcap is 802.11 (radiotap): the pipeline reads the ethertype from the
    LLC/SNAP header, so the ARP detector sees the two ARP messages exactly as tshark dissects them
    (the stand-in this test used before only read Ethernet frames and expected silence)."""
    out = observations(real_pcap("zeek-arp-who-has-radiotap.pcap"), [arp.DETECTOR], kind="arp")
    assert [(o.frame_no, o.op, o.src_mac, o.sender_mac, o.sender_ip, o.target_ip) for o in out] == [
        (1, "request", "78:31:c1:c6:3f:c2", "78:31:c1:c6:3f:c2", "10.0.0.2", "10.0.0.1"),
        (2, "reply", "f8:ed:a5:c0:a4:f1", "f8:ed:a5:c0:a4:f1", "10.0.0.1", "10.0.0.2"),
    ]
