"""DHCPv4 detector (RFC 2131/2132) on synthetic messages and real public captures."""

from __future__ import annotations

import pytest

from collector.protocols import dhcp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import bootp
from tests.collector.replay_helpers import observations, run
from tests.conftest import real_pcap


def _pkt(payload: bytes, port: int = 67) -> Packet:
    return Packet(
        ts=1.0,
        frame_no=1,
        src_ip="0.0.0.0",
        dst_ip="255.255.255.255",
        src_port=68,
        dst_port=port,
        transport="udp",
        payload=payload,
    )


def test_request_options_in_order() -> None:
    fqdn = b"\x05\x00\x00" + b"\x04pump\x04demo\x00"
    msg = bootp(
        1,
        1,
        "00:1c:4e:20:00:70",
        [(53, b"\x03"), (55, bytes([1, 121, 3, 6])), (81, fqdn), (50, bytes([10, 0, 0, 9]))],
    )
    assert dhcp.probe(msg)
    (obs,) = dhcp.decode(_pkt(msg), SimpleContext())
    assert obs.message_type == "request" and obs.client_mac == "00:1c:4e:20:00:70"
    assert obs.param_request_list == (1, 121, 3, 6) and obs.fingerprint == "1,121,3,6"
    assert obs.fqdn == "pump.demo" and obs.requested_ip == "10.0.0.9"
    assert obs.options == (53, 55, 81, 50) and obs.assigned_ip is None and obs.relay_ip is None


def test_truncated_option_is_a_weird_and_short_message_raises() -> None:
    msg = bootp(1, 1, "00:1c:4e:20:00:70", [(53, b"\x01"), (12, b"PUMP")])[:-3]  # cut inside option 12
    ctx = SimpleContext()
    (obs,) = dhcp.decode(_pkt(msg), ctx)
    assert obs.hostname is None and ctx.weirds == {"dhcp_truncated_option": 1}
    with pytest.raises(ValueError):
        dhcp.decode(_pkt(msg[:100]), SimpleContext())


def test_probe_wants_the_cookie() -> None:
    msg = bytearray(bootp(1, 1, "00:1c:4e:20:00:70", [(53, b"\x01")]))
    assert dhcp.probe(bytes(msg))
    msg[236] = 0
    assert not dhcp.probe(bytes(msg))
    assert not dhcp.probe(b"\x01" * 239)


def _dhcp(name: str) -> list:
    return [o for o in observations(real_pcap(name), [dhcp.DETECTOR]) if o.kind == "dhcp"]


def test_real_zeek_dhcp() -> None:
    out = _dhcp("zeek-dhcp.pcap")
    assert [o.message_type for o in out][:4] == ["discover", "offer", "request", "nak"]
    assert {o.hostname for o in out} == {"btest.is.cool", None}
    assert {o.client_mac for o in out} == {"90:b1:1c:99:49:29"}


def test_real_relayed_offer_and_option_60() -> None:
    (offer,) = _dhcp("pcpp-Dhcp1.pcap")
    assert offer.relay_ip == "10.10.8.240" and offer.assigned_ip == "10.10.8.235"
    assert offer.client_id == "006e617468616e31636c69656e746964"
    vendor = {o.vendor_class for o in _dhcp("suricata-dhcp-eve-extended-option-60-input.pcap")}
    assert vendor - {None}


def test_real_fingerprint_and_malformed_capture() -> None:
    out = _dhcp("arkime-wireshark-dhcp.pcap")
    assert out[0].fingerprint == "1,3,6,42" and out[0].client_id == "01000b8201fc42"
    result = run(real_pcap("ndpi-dhcp-fuzz.pcapng"), [dhcp.DETECTOR])
    fuzz = result.of_kind()
    assert all(o.kind == "dhcp" for o in fuzz)
    for name in ("tcpdump-dhcp-option-33.pcap", "tcpdump-dhcp-rfc4388.pcap", "tcpdump-dhcp-rfc5859.pcap"):
        assert _dhcp(name), name
