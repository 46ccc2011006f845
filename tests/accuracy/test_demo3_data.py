"""The third demo hospital's data is coherent: captures, site policy, sheets and truth agree with its plan.

What makes demo3 another topology must really be on the wire: every frame of the provider-edge
capture carries the operator's 802.1ad service tag above a Sud customer tag, the Nord capture
holds no Sud VLAN, and the telemetry monitors exist only inside CAPWAP data.  Byte-for-byte
reproducibility of pcaps/demo3/*.pcap is checked by tests/test_samples_reproducible.py.
"""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import yaml

from tests.accuracy.truth import assert_truth_coherent

ROOT = Path(__file__).resolve().parents[2]
DEMO3 = ROOT / "pcaps" / "demo3"
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC).timestamp()
EXPECTED = yaml.safe_load((DEMO3 / "expected.yaml").read_text(encoding="utf-8"))


def _frames(name: str) -> list[tuple[float, bytes]]:
    from scapy.utils import rdpcap

    return [(float(p.time), bytes(p)) for p in rdpcap(str(DEMO3 / f"{name}.pcap"))]


def test_captures_are_listed_generated_small_and_in_the_morning() -> None:
    from pcaps.demo3.gen_demo3 import CAPTURES

    assert sorted(EXPECTED["captures"]) == sorted(CAPTURES)
    assert sum((DEMO3 / f"{n}.pcap").stat().st_size for n in CAPTURES) < 1_000_000
    for name in CAPTURES:
        times = [t for t, _ in _frames(name)]
        assert times == sorted(times) and START <= times[0] and times[-1] <= END


def test_sud_frames_are_qinq_and_nord_frames_plain_dot1q() -> None:
    from pcaps.demo3 import plan as P

    sud = _frames("demo3-sud")
    tags = {
        (
            raw[12:14],
            struct.unpack("!H", raw[14:16])[0],
            raw[16:18],
            struct.unpack("!H", raw[18:20])[0] & 0xFFF,
        )
        for _, raw in sud
    }
    assert {(outer, s, inner) for outer, s, inner, _ in tags} == {(b"\x88\xa8", P.S_VLAN, b"\x81\x00")}
    assert {c for *_, c in tags} == set(P.SUD_VLANS)
    nord = _frames("demo3-nord")
    assert all(raw[12:14] == b"\x81\x00" for _, raw in nord)
    assert not {struct.unpack("!H", raw[14:16])[0] & 0xFFF for _, raw in nord} & P.SUD_VLANS


def test_telemetry_monitors_exist_only_inside_the_capwap_tunnel() -> None:
    from pcaps.demo3 import plan as P

    outer_sources = {raw[6:12] for _, raw in _frames("demo3-sud") + _frames("demo3-nord")}
    stations = {bytes.fromhex(t.mac.replace(":", "")) for t in P.TELEMETRY}
    assert not outer_sources & stations
    capwap = b"".join(
        raw for _, raw in _frames("demo3-sud") if raw[44:46] == struct.pack("!H", 5247)
    )  # dport after 2 tags and IP
    assert all(s in capwap for s in stations) and P.SSID.encode() in capwap


def test_plan_truth_and_sheets_agree() -> None:
    from pcaps.demo3 import plan as P

    macs = [d.mac for d in P.ALL] + [s[0] for s in P.SWITCHES] + [P.ROUTER]
    assert len(macs) == len(set(macs)) >= 100
    assert set(EXPECTED["devices"]) == set(macs)
    assert_truth_coherent(DEMO3, EXPECTED, sheet_prefix="CHTR-", min_sheets=50)


def test_site_policy_maps_the_ssid_and_declares_the_relayed_server() -> None:
    from analyzer.site import load_site

    site = load_site(DEMO3 / "site.yaml")
    assert site.dhcp_servers == ["10.31.10.5"]
    assert [(s.ssid, s.vlan) for s in site.ssids] == [("TELEMETRIE", 220)]
    assert not any("dhcp" in c.services for c in site.conduits)
