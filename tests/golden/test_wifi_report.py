"""Wi-Fi management-only captures give access points and stations with SSID and BSSID in the report
(issue 20 item 7), from a generated capture and from real ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.models import Device, Report
from collector.pipeline import replay
from collector.sinks import ListSink
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _report(path: Path) -> Report:
    sink = ListSink()
    replay([path], sink, key=TEST_KEY)
    return analyze(sink.observations, now=NOW)


def _facts(d: Device, attribute: str) -> set[str]:
    return {f.value for f in d.facts if f.attribute == attribute}


def test_generated_management_frames() -> None:
    by = {d.mac: d for d in _report(REPO / "pcaps" / "fixtures" / "dot11-mgmt.pcap").devices}
    ap, hidden, pump = by["00:3a:7d:aa:bb:01"], by["00:3a:7d:aa:bb:02"], by["00:1b:21:30:00:99"]
    assert ap.role == "access-point" and _facts(ap, "ssid") == {"HOSP-DM"}
    assert hidden.role == "access-point" and _facts(hidden, "ssid") == set()
    assert _facts(pump, "ssid") == {"HOSP-DM"} and _facts(pump, "bssid") == {"00:3a:7d:aa:bb:01"}
    assert pump.connection == "wifi" and pump.role != "access-point"


def test_frames_that_name_nobody_give_no_station() -> None:
    report = _report(REPO / "pcaps" / "fixtures" / "dot11-mgmt-negative.pcap")
    assert not any(_facts(d, "ssid") or _facts(d, "bssid") for d in report.devices)


@pytest.mark.shared
@pytest.mark.parametrize("name, ap, ssid, station", [
    ("aircrack-wpa-psk-linksys.cap", "00:0b:86:c2:a4:85", "linksys", "00:13:ce:55:98:ef"),
    ("aircrack-capture_wds-01.cap", "00:11:22:00:00:00", "test1", "00:11:22:00:00:01"),
    ("aircrack-test1.pcap", "14:cc:20:c1:cb:2c", "Lekonora", None),
    ("aircrack-wps2.0.pcap", "00:c0:ca:78:b1:37", "WLAN_666", None),
    ("scapy-bad_rsn_parsing_overrides_ssid.pcap", "ec:17:2f:82:1e:29", "ROUTE-821E295", None),
])
def test_real_captures(name: str, ap: str, ssid: str, station: str | None) -> None:
    by = {d.mac: d for d in _report(real_pcap(name)).devices}
    assert by[ap].role == "access-point" and ssid in _facts(by[ap], "ssid")
    if station is not None:
        assert ssid in _facts(by[station], "ssid") and ap in _facts(by[station], "bssid")
        assert by[station].connection == "wifi"
