"""NTP detector: modes, stratum and reference id; non-NTP bytes on port 123 are refused."""

from __future__ import annotations

import pytest

from collector.protocols import ntp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_infra as g
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap


def _decode(payload: bytes, src_ip: str = "10.50.0.5") -> list:
    pkt = Packet(ts=1.0, frame_no=1, src_ip=src_ip, transport="udp", payload=payload, src_port=123,
                 dst_port=123)
    return list(ntp.decode(pkt, SimpleContext()))


def test_server_reply_stratum_and_upstream() -> None:
    [o] = _decode(g.ntp_header(4, 2, bytes([192, 0, 2, 1])))
    assert (o.version, o.mode, o.stratum, o.reference_id) == (4, "server", 2, "192.0.2.1")


def test_stratum_one_clock_source_and_kiss_code() -> None:
    assert _decode(g.ntp_header(4, 1, b"GPS\x00"))[0].reference_id == "GPS"
    assert _decode(g.ntp_header(4, 0, b"RATE"))[0].reference_id == "RATE"
    v6 = _decode(g.ntp_header(4, 3, bytes([1, 2, 3, 4])), src_ip="2001:db8::1")
    assert v6[0].reference_id == "01020304"


def test_control_and_private_modes() -> None:
    assert _decode(bytes([0x16, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]))[0].mode == "control"
    assert _decode(bytes([0x17, 0x00, 0x03, 0x2A]) + bytes(4))[0].mode == "private"  # ntpdc monlist


@pytest.mark.parametrize("payload", [
    g.ntp_header(3, version=0), g.ntp_header(3)[:40], g.ntp_header(0), g.ntp_header(3, stratum=17),
    g.ntp_header(3) + b"\x01", b"\x16\x02\x00\x01" + bytes(6) + b"\x00\x09",  # mode 6 count beyond the data
])
def test_not_ntp(payload: bytes) -> None:
    assert not ntp.probe(payload)
    with pytest.raises(ValueError):
        _decode(payload)


def test_real_capture_is_named_ntp() -> None:
    """Issue 20 item 10: tcpdump's NTP capture was `udp/123`; nDPI names it NTP."""
    result = run(real_pcap("tcpdump-ntp.pcap"))
    assert {o.mode for o in result.of_kind("ntp")} == {"client", "server"}  # type: ignore[attr-defined]
    assert {o.app for o in result.of_kind("conversation")} == {"ntp"}  # type: ignore[attr-defined]
