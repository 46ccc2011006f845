"""802.11 management frames: SSID, BSSID and station per subtype; malformed frames are weirds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.layers.dot11 import Dot11, Dot11AssoReq, Dot11Beacon, Dot11Elt, Dot11ProbeReq

from collector.protocols import dot11_mgmt
from collector.protocols.base import Packet, SimpleContext
from collector.schema import parse_observation
from pcaps.fixtures import gen_wifi as w
from tests.collector.replay_helpers import MALFORMED

AP, STA, BC = "00:3a:7d:aa:bb:01", "00:1b:21:30:00:99", "ff:ff:ff:ff:ff:ff"


def _decode(frame: bytes, wifi: bool = True) -> list:
    return dot11_mgmt.decode(Packet(ts=1.0, frame_no=1, payload=frame, wifi=wifi), SimpleContext())


def test_beacon_probe_and_association() -> None:
    [beacon] = _decode(bytes(Dot11(type=0, subtype=8, addr1=BC, addr2=AP, addr3=AP) / Dot11Beacon()
                             / Dot11Elt(ID=0, info=b"HOSP-DM")))
    assert (beacon.client_mac, beacon.ap_mac, beacon.ssid) == (None, AP, "HOSP-DM")
    [probe] = _decode(bytes(Dot11(type=0, subtype=4, addr1=BC, addr2=STA, addr3=BC) / Dot11ProbeReq()
                            / Dot11Elt(ID=0, info=b"")))
    assert (probe.client_mac, probe.ap_mac, probe.ssid, probe.confidence) == (STA, None, None, 0.9)
    [assoc] = _decode(bytes(Dot11(type=0, subtype=0, addr1=AP, addr2=STA, addr3=AP) / Dot11AssoReq()
                            / Dot11Elt(ID=1, info=b"\x82") / Dot11Elt(ID=0, info=b"HOSP-DM")))
    assert (assoc.client_mac, assoc.ap_mac, assoc.ssid, assoc.confidence) == (STA, AP, "HOSP-DM", 1.0)


def test_only_from_a_radio_link_and_only_these_subtypes() -> None:
    beacon = bytes(Dot11(type=0, subtype=8, addr1=BC, addr2=AP, addr3=AP) / Dot11Beacon()
                   / Dot11Elt(ID=0, info=b"X"))
    assert _decode(beacon, wifi=False) == []
    deauth = bytes(Dot11(type=0, subtype=12, addr1=STA, addr2=AP, addr3=AP)) + b"\x07\x00"
    for bad in (deauth, beacon[:20]):
        try:
            _decode(bad)
        except MALFORMED:
            continue
        raise AssertionError("a malformed or other management frame must raise")


def test_ssid_element_bounds() -> None:
    assert dot11_mgmt.ssid_of(b"\x00\x05abc") is None  # length beyond the body
    assert dot11_mgmt.ssid_of(b"\x00\x21" + b"a" * 33) is None  # longer than 32
    assert dot11_mgmt.ssid_of(b"\x01\x01\x82\x00\x02ok") == "ok"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([bytes(p.payload) for p in w.dot11_mgmt()]) | st.binary(max_size=200),
       st.integers(0, 200), st.binary(max_size=8))
def test_fuzz(seed: bytes, cut: int, tail: bytes) -> None:
    try:
        records = _decode(seed[:cut] + tail)
    except MALFORMED:
        return
    for rec in records:
        parse_observation(rec.model_dump(mode="json"))
