"""CAPWAP (RFC 5415/5416): header, inner 802.11/802.3 frames re-injected, wireless stations."""

from __future__ import annotations

import subprocess

import pytest

from collector.protocols import capwap
from collector.protocols._wifi_inner import dot11_station_and_bssid, normalise_frame_control
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_wifi import AP, PUMP, capwap_header, cisco_swapped, dot11_to_ds, ether_from_station
from tests import needs
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap
from tests.keys import TEST_KEY


def _pkt(payload: bytes, dport: int = 5247) -> Packet:
    return Packet(ts=1.0, frame_no=2, src_mac=AP[0], dst_mac="00:3a:7d:50:00:41", src_ip=AP[1], dst_ip="10.50.0.41",
                  transport="udp", src_port=12381, dst_port=dport, payload=payload)


def test_header_fields() -> None:
    fields = capwap.parse_header(capwap_header(1, wbid=1, hlen_words=4) + bytes(8))
    assert (fields["hlen"], fields["wbid"], fields["t"], fields["k"]) == (16, 1, 1, 0)


def test_dot11_inner_frame_and_station() -> None:
    ctx = SimpleContext()
    (rec,) = capwap.decode(_pkt(capwap_header(1) + cisco_swapped(dot11_to_ds())), ctx)
    assert (rec.evidence, rec.client_mac, rec.ap_mac, rec.confidence) == ("capwap", PUMP, AP[0], 1.0)
    assert rec.tunnel is None  # the outer frame is not tunnelled; the inner one will be
    ((data, linktype, tunnel),) = ctx.inner
    assert (linktype, tunnel) == (105, "capwap") and data == dot11_to_ds()


def test_ethernet_inner_frame() -> None:
    ctx = SimpleContext()
    (rec,) = capwap.decode(_pkt(capwap_header(0) + ether_from_station()), ctx)
    assert rec.client_mac == PUMP and ctx.inner[0][1] == 1


def test_keepalive_fragment_dtls_and_garbage() -> None:
    ctx = SimpleContext()
    assert list(capwap.decode(_pkt(capwap_header(0, k=1)), ctx)) == [] and not ctx.inner
    assert list(capwap.decode(_pkt(capwap_header(1, f=1) + dot11_to_ds()), ctx)) == []
    assert ctx.weirds == {"capwap_fragment": 1}
    assert list(capwap.decode(_pkt(b"\x01\x00\x00\x00" + bytes(30)), ctx)) == []  # DTLS data
    with pytest.raises(ValueError):
        capwap.decode(_pkt(b"\x42" + bytes(20)), ctx)
    assert not capwap.probe(b"\x42" + bytes(20)) and not capwap.probe(b"")


def test_frame_control_normalisation() -> None:
    frame = dot11_to_ds()
    assert normalise_frame_control(cisco_swapped(frame), swapped_by_default=True) == frame
    assert normalise_frame_control(frame, swapped_by_default=True) == frame  # version bits settle it
    station, bssid = dot11_station_and_bssid(frame)
    assert station == PUMP and bssid == "00:3a:7d:aa:bb:01"


def test_real_capwap_capture() -> None:
    path = real_pcap("ndpi-capwap.pcap")
    result = run(path)
    # tshark -Y capwap.data shows 173 frames carrying 802.11: all are handed back
    assert len(result.inner) == 173 and {(lt, t) for _d, lt, t in result.inner} == {(105, "capwap")}
    wifi = [r for r in result.of_kind("wifi") if r.evidence == "capwap"]  # the CAPWAP detector's own
    assert {r.client_mac for r in wifi if r.client_mac} == {"1c:ab:a7:f2:13:9d"}
    assert {r.ap_mac for r in wifi} == {"b8:38:61:f3:05:ac"}  # the AP's wired MAC (CDP: AIR-CAP2602I)
    discovery = [r for r in wifi if r.client_mac is None]
    # tshark: (Primary) Discovery Requests in frames 18, 20, 358, 359; 20 and 359 repeat 18 and 358 byte for
    # byte within a millisecond, which the pipeline counts in deep_repeats instead of recording again
    assert [r.frame_no for r in discovery] == [18, 358]
    assert result.stats.deep_repeats >= 2


def test_pipeline_wifi_stations_are_unicast_clients() -> None:
    wifi = [r for r in run(real_pcap("ndpi-capwap.pcap")).of_kind("wifi") if r.evidence == "dot11"]
    assert wifi
    for r in wifi:
        assert r.client_mac is not None and not int(r.client_mac[:2], 16) & 1, (r.frame_no, r.client_mac)
        assert r.client_mac != r.ap_mac, (r.frame_no, r.client_mac)


@pytest.mark.tshark
def test_inner_frames_agree_with_tshark() -> None:
    path = real_pcap("ndpi-capwap.pcap")
    needs.tool("tshark")
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "capwap.data && wlan", "-T", "fields",
                          "-e", "wlan.fc.type_subtype"], capture_output=True, text=True, check=True).stdout
    theirs = sorted(int(v, 16) for v in out.split())
    mine = sorted(((d[0] >> 2) & 3) << 4 | (d[0] >> 4) for d, _l, _t in run(path).inner)
    assert mine == theirs


def test_real_capwap_through_the_pipeline() -> None:
    # The re-injected frames are decoded by the collector core: the iPad behind the AP shows up as a
    # Wi-Fi host and its DHCP (tshark: hostname kawai-iPad3, inside CAPWAP data) is read.
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([real_pcap("ndpi-capwap.pcap")], sink, key=TEST_KEY)
    hosts = [o for o in sink.observations if o.kind == "host" and o.mac == "1c:ab:a7:f2:13:9d"]
    assert hosts and all(h.tunnel == "capwap" and h.wifi for h in hosts)
    dhcp = [o for o in sink.observations if o.kind == "dhcp" and o.tunnel == "capwap"]
    assert {d.hostname for d in dhcp} == {"kawai-iPad3"}
    wifi = [o for o in sink.observations if o.kind == "wifi" and o.evidence == "capwap"]
    assert {o.client_mac for o in wifi if o.client_mac} == {"1c:ab:a7:f2:13:9d"}
