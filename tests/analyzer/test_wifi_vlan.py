"""A station seen only inside a Wi-Fi controller tunnel has no VLAN on the wire (issue 20 item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.sheets import Sheet
from analyzer.site import load_site
from collector.schema import HostSighting

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
