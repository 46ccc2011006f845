"""A station seen only inside a Wi-Fi controller tunnel has no VLAN on the wire (issue 20 item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.sheets import Sheet
from analyzer.site import SiteError, load_site, parse_site
from collector.schema import HostSighting, WifiObs

REPO = Path(__file__).resolve().parents[2]
SITE = load_site(REPO / "pcaps" / "fixtures" / "site-rules.yaml")
PUMP = "00:1c:4e:20:00:70"


def _seen(tunnel: str | None, vlan: int | None) -> HostSighting:
    return HostSighting(ts=1.0, mac=PUMP, ip="10.10.120.70", vlan=vlan, first_ts=1.0, last_ts=2.0, frames=2,
                        wifi=tunnel is not None, tunnel=tunnel)


@pytest.mark.parametrize("tunnel", ["capwap", "lwapp", "aruba-gre"])
def test_tunnelled_station_has_unknown_vlan_and_no_vlan_mismatch(tunnel: str) -> None:
    # the outer tag (VLAN 50) is the access point to controller link's, not the pump's
    sheet = Sheet(id="SH-PUMP", software_name="pump", mac=PUMP, vlan=120)
    report = analyze([_seen(tunnel, 50)], site=SITE, sheets=[sheet])
    [d] = report.devices
    assert d.vlans == []
    assert "vlan-mismatch" not in {f.rule for f in report.findings}


def test_wired_station_in_another_vlan_still_mismatches() -> None:
    sheet = Sheet(id="SH-PUMP", software_name="pump", mac=PUMP, vlan=120)
    report = analyze([_seen(None, 50)], site=SITE, sheets=[sheet])
    assert report.devices[0].vlans == [50]
    assert "vlan-mismatch" in {f.rule for f in report.findings}


def test_untagged_wired_frame_is_vlan_0() -> None:
    assert analyze([_seen(None, None)], rules=[]).devices[0].vlans == [0]


def _mapped_site() -> object:
    text = (REPO / "pcaps" / "fixtures" / "site-rules.yaml").read_text(encoding="utf-8")
    return parse_site(text + "ssids:\n  - ssid: BIOMED-PUMPS\n    vlan: 120\n  - ssid: GUEST\n    vlan: 300\n")


def _joined(ssid: str) -> WifiObs:
    return WifiObs(ts=1.0, evidence="capwap", client_mac=PUMP, ap_mac="00:0b:86:00:00:01", ssid=ssid,
                   confidence=1.0)


@pytest.mark.parametrize(("ssid", "declared", "vlans", "mismatch"), [
    ("BIOMED-PUMPS", 120, [120], False),  # the policy maps its SSID to the declared VLAN
    ("GUEST", 120, [300], True),  # a pump on the guest network: its SSID's VLAN is not the declared one
    ("UNMAPPED", 120, [], False),  # no mapping: unknown, never 0, and no vlan-mismatch
])
def test_tunnelled_station_takes_the_vlan_of_its_ssid(ssid: str, declared: int, vlans: list[int],
                                                      mismatch: bool) -> None:
    site = _mapped_site()
    sheet = Sheet(id="SH-PUMP", software_name="pump", mac=PUMP, vlan=declared)
    report = analyze([_seen("capwap", 50), _joined(ssid)], site=site, sheets=[sheet])  # type: ignore[arg-type]
    [d] = [d for d in report.devices if d.mac == PUMP]
    assert d.vlans == vlans
    found = [f for f in report.findings if f.rule == "vlan-mismatch"]
    assert bool(found) is mismatch
    if vlans:
        [fact] = [f for f in d.facts if f.attribute == "vlan"]
        assert fact.value == str(vlans[0]) and fact.source.startswith("policy site.yaml:")
        assert f"ssid {ssid!r}" in fact.source
    if mismatch:
        texts = " ".join(e.text for f in found for e in f.evidence) + " ".join(f.recommendation for f in found)
        assert "from site.yaml:" in texts and "'GUEST'" in texts, texts


def test_a_vlan_seen_on_the_wire_wins_over_the_ssid_mapping() -> None:
    sheet = Sheet(id="SH-PUMP", software_name="pump", mac=PUMP, vlan=120)
    report = analyze([_seen(None, 50), _joined("BIOMED-PUMPS")], site=_mapped_site(),  # type: ignore[arg-type]
                     sheets=[sheet])
    assert [d.vlans for d in report.devices if d.mac == PUMP] == [[50]]


@pytest.mark.parametrize(("entry", "error"), [
    ("  - ssid: A\n    vlan: 0\n", "site.yaml:3: ssids[0].vlan: Input should be greater than or equal to 1"),
    ("  - ssid: A\n    vlan: 4095\n", "site.yaml:3: ssids[0].vlan: Input should be less than or equal to 4094"),
    ("  - ssid: " + "x" * 33 + "\n    vlan: 10\n", "site.yaml:2: ssids[0].ssid: an SSID has at most 32 octets"),
    ("  - vlan: 10\n", "site.yaml:2: ssids[0].ssid: Field required"),
    ("  - ssid: A\n    vlan: 10\n    zone: x\n", "site.yaml:4: ssids[0].zone: Extra inputs are not permitted"),
    ("  - ssid: A\n    vlan: 10\n  - ssid: A\n    vlan: 11\n", "site.yaml:1: ssids: SSID mapped twice"),
])
def test_ssid_mapping_is_validated_with_line_field_and_reason(entry: str, error: str) -> None:
    with pytest.raises(SiteError) as caught:
        parse_site("ssids:\n" + entry)
    assert str(caught.value).startswith(error), str(caught.value)
