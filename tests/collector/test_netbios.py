"""NetBIOS name service detector (RFC 1001/1002): first-level name decoding, ops, NB addresses."""

from __future__ import annotations

import struct

import pytest

from collector.protocols import netbios
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import nb_encode
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_port=137, dst_port=137, transport="udp", payload=payload)


def test_decode_name_round_trip() -> None:
    assert netbios.decode_name(nb_encode("WORKSTATION-12", 0x20)[1:33]) == ("WORKSTATION-12", 0x20)
    with pytest.raises(ValueError):
        netbios.decode_name(b"Z" * 32)


def test_release_and_refresh_ops() -> None:
    body = (
        nb_encode("PUMP7", 0)
        + struct.pack("!HH", 0x20, 1)
        + b"\xc0\x0c"
        + struct.pack("!HHIH", 0x20, 1, 0, 6)
        + b"\x00\x00\x0a\x00\x00\x07"
    )
    for flags, op in ((0x3000, "release"), (0x4000, "refresh")):
        (obs,) = netbios.decode(_pkt(struct.pack("!HHHHHH", 1, flags, 1, 0, 0, 1) + body), SimpleContext())
        assert (obs.op, obs.name, obs.address) == (op, "PUMP7", "10.0.0.7")


def test_bad_opcode_is_a_weird() -> None:
    ctx = SimpleContext()
    msg = struct.pack("!HHHHHH", 1, 0x7800, 1, 0, 0, 0) + nb_encode("X", 0) + b"\x00\x20\x00\x01"
    assert netbios.decode(_pkt(msg), ctx) == [] and ctx.weirds == {"netbios_unknown_opcode": 1}


def test_real_nbns_registrations() -> None:
    out = observations(real_pcap("arkime-nbns.pcap"), [netbios.DETECTOR])
    regs = {(o.name, o.suffix, o.group) for o in out if o.op == "registration"}
    assert ("MDJR98", 0x20, False) in regs and ("WORKGROUP", 0x1E, True) in regs
    assert {o.address for o in out if o.op == "registration"} == {"192.168.239.129"}


def test_real_netbios_queries() -> None:
    out = observations(real_pcap("ndpi-netbios.pcap"), [netbios.DETECTOR])
    names = {o.name for o in out if o.op == "query"}
    assert {"XSTREAM_HY", "GUNNAR"} <= names


def test_node_status_names_the_responder() -> None:
    def entry(name: str, suffix: int, flags: int) -> bytes:
        return name.ljust(15).encode() + bytes([suffix]) + struct.pack("!H", flags)

    table = (
        entry("RADIOLOGY", 0x00, 0x8400) + entry("CT-WS-04", 0x20, 0x0400) + entry("CT-WS-04", 0x00, 0x0400)
    )
    rdata = bytes([3]) + table + bytes(46)
    msg = (
        struct.pack("!HHHHHH", 9, 0x8400, 0, 1, 0, 0)
        + nb_encode("*", 0)
        + struct.pack("!HHIH", 0x21, 1, 0, len(rdata))
    )
    (obs,) = netbios.decode(_pkt(msg + rdata), SimpleContext())
    assert (obs.op, obs.name, obs.suffix, obs.group, obs.address) == ("status", "CT-WS-04", 0, False, None)


def test_real_node_status_response() -> None:
    out = observations(real_pcap("ndpi-netbios.pcap"), [netbios.DETECTOR])
    assert {o.name for o in out if o.op == "status"} == {"GUNNAR"}
