"""Philips IntelliVue detector: connect indication identity and session messages, no numerics."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import UDP

from collector.protocols import intellivue
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_medical as g


def _pkt(payload: bytes, sport: int, dport: int) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.120.50", dst_ip="10.10.120.255", src_port=sport, dst_port=dport,
        transport="udp", payload=payload,
    )


def test_connect_indication_from_the_fixture() -> None:
    first = g.intellivue_connect()[0]
    payload = bytes(first[UDP].payload)
    assert intellivue.probe(payload)
    (obs,) = intellivue.decode(_pkt(payload, 24005, 24005), SimpleContext())
    assert obs.message == "connect-indication"
    assert (obs.monitor_mac, obs.monitor_ip) == ("00:09:fb:20:00:50", "10.10.120.50")
    assert obs.subnet_mask == "255.255.255.0"
    assert obs.bed_label == "ICU-BED-03"


def test_connect_indication_layout_independent_of_the_generator() -> None:
    """Bytes written by hand from the guide's layout: NOM_ATTR_NET_ADDR_INFO after another attribute."""
    attrs = struct.pack(">HH", 0x0986, 4) + b"\x00\x01\x11\x4d"
    attrs += struct.pack(">HH", 0xF100, 14) + bytes.fromhex("0009fb0a0b0c")
    attrs += bytes([10, 1, 2, 3]) + bytes([255, 255, 0, 0])
    info = struct.pack(">HH", 2, len(attrs)) + attrs
    arg = struct.pack(">HHHIHH", 33, 0, 0, 0, 0x0D17, len(info)) + info
    roiv = struct.pack(">HHH", 0, 0, len(arg)) + arg
    payload = b"\x00\x00\x01\x00" + struct.pack(">HH", 1, len(roiv)) + roiv
    (obs,) = intellivue.decode(_pkt(payload, 24005, 24005), SimpleContext())
    assert (obs.monitor_mac, obs.monitor_ip, obs.subnet_mask, obs.bed_label) == (
        "00:09:fb:0a:0b:0c", "10.1.2.3", "255.255.0.0", None)


def test_session_messages() -> None:
    pkts = g.intellivue_connect()
    names = []
    for p in pkts[1:]:
        u = p[UDP]
        out = intellivue.decode(_pkt(bytes(u.payload), u.sport, u.dport), SimpleContext())
        names += [o.message for o in out]
    assert names == ["association-request", "association-response", "data-export"]


def test_poll_replies_are_never_decoded() -> None:
    reply = bytes(g.intellivue_connect()[4][UDP].payload)
    assert g.PATIENT.decode().encode("utf-16-be") in reply
    ctx = SimpleContext()
    assert intellivue.decode(_pkt(reply, 24105, 41000), ctx) == []
    assert ctx.weirds == {}


def test_attribute_running_past_the_end_raises() -> None:
    payload = bytearray(g.connect_indication())
    with pytest.raises(ValueError):
        intellivue.decode(_pkt(bytes(payload[:-3]), 24005, 24005), SimpleContext())


@pytest.mark.parametrize("port", [24005, 24105])
def test_garbage_is_a_weird(port: int) -> None:
    ctx = SimpleContext()
    assert intellivue.decode(_pkt(b"\x42" * 40, 41000, port), ctx) == []
    assert sum(ctx.weirds.values()) == 1


def test_other_ports_are_ignored() -> None:
    assert intellivue.decode(_pkt(g.connect_indication(), 5000, 5001), SimpleContext()) == []
