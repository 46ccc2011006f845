"""Site policy: loader errors with line numbers, zone lookup, conduits, gateway windows, suggest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analyzer.models import Device
from analyzer.site import SiteError, load_site, parse_service, parse_site
from analyzer.suggest import suggest_zones

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "pcaps" / "fixtures" / "site-rules.yaml"


def test_bad_cidr_reported_with_line_and_path() -> None:
    text = "site: x\nzones:\n  - {name: a, kind: dm}\n  - {name: b, kind: office}\n  - name: c\n    kind: dm\n" \
           "    cidrs:\n      - 10.0.0.0/33\n"
    with pytest.raises(SiteError) as exc:
        parse_site(text, "site.yaml")
    assert str(exc.value) == "site.yaml:8: zones[2].cidrs[0]: not a valid CIDR: '10.0.0.0/33'"


def test_many_errors_collected(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("zones:\n  - {name: a, kind: lab}\nconduits:\n  - {from: a, to: b, services: [tcp/99999]}\n"
                    "bogus: 1\n")
    with pytest.raises(SiteError) as exc:
        load_site(path)
    text = str(exc.value)
    assert f"{path}:2: zones[0].kind:" in text
    assert f"{path}:4: conduits[0].services:" in text and "bad port range" in text
    assert f"{path}:5: bogus: Extra inputs are not permitted" in text


def test_unknown_conduit_zone_and_bad_window() -> None:
    with pytest.raises(SiteError, match="unknown zone 'nowhere'"):
        parse_site("zones: [{name: a, kind: dm}]\nconduits: [{from: a, to: nowhere}]\n")
    with pytest.raises(SiteError, match=r"site.yaml:3: maintenance.gateways\[0\].window.start: not a HH:MM"):
        parse_site("maintenance:\n  gateways:\n    - {name: g, window: {start: '25:00'}}\n")


def test_zone_lookup_and_conduits() -> None:
    site = load_site(POLICY)
    assert site.zone_of("10.50.0.3").name == "servers"
    assert site.zone_of("10.50.0.3", 120).name == "monitoring"  # VLAN first
    assert site.zone_of("203.0.113.9").kind == "internet"
    assert site.zone_of("8.8.8.8").kind == "internet"
    assert site.zone_of("10.99.0.1") is None and site.zone_of("100.64.0.1") is None
    assert site.allowed("imaging", "servers", "tcp", 104)
    assert site.allowed("imaging", "servers", "tcp", 9999, app="dicom")
    assert not site.allowed("imaging", "servers", "tcp", 80)
    assert site.allowed("office", "office", "udp", 1)
    assert site.allowed("lab", "servers", "udp", 53)  # from: any
    assert not site.allowed("servers", "imaging", "tcp", 104)


def test_parse_service() -> None:
    assert parse_service("udp/67-68") == [("udp", 67, 68)]
    assert ("tcp", 104, 104) in parse_service("DICOM")
    with pytest.raises(ValueError):
        parse_service("icmp/1")


def test_gateway_window_in_local_time() -> None:
    site = parse_site("maintenance:\n  gateways:\n    - name: g\n      ips: [10.60.0.10]\n      methods: [rdp]\n"
                      "      window: {days: [mon, tue, wed, thu, fri], start: '07:00', end: '19:00', tz: Europe/Paris}\n")
    gw = site.gateway_for("10.60.0.10")
    monday_8_paris = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC).timestamp()
    monday_6_paris = dt.datetime(2026, 1, 5, 5, 0, tzinfo=dt.UTC).timestamp()
    saturday = dt.datetime(2026, 1, 3, 10, 0, tzinfo=dt.UTC).timestamp()
    assert gw is not None and gw.in_window(monday_8_paris)
    assert not gw.in_window(monday_6_paris) and not gw.in_window(saturday)


def test_exception_expiry() -> None:
    site = parse_site("exceptions:\n  - {rule: r, subject: 10.0.0.1, expires: 2026-06-30}\n")
    assert site.exceptions[0].active(dt.date(2026, 6, 30))
    assert not site.exceptions[0].active(dt.date(2026, 7, 1))


def test_suggest_zones_guesses_kinds() -> None:
    devices = [Device(mac="00:09:fb:00:00:01", ips=["10.10.120.5"], vlans=[120], role="patient-monitor", is_dm=True),
               Device(mac="00:50:56:00:00:01", ips=["10.50.0.20"], vlans=[50], role="pacs"),
               Device(mac="3c:52:82:00:00:01", ips=["10.20.0.5"], vlans=[200], role="office-workstation"),
               Device(mac="00:00:0c:9f:f0:01", ips=["10.20.0.1"], vlans=[50, 120, 200], is_router=True, role="router")]
    text = suggest_zones(devices)
    site = parse_site(text)  # the suggestion is itself a valid policy
    kinds = {z.name: z.kind for z in site.zones}
    assert kinds == {"vlan-50": "servers", "vlan-120": "dm", "vlan-200": "office"}
    assert site.zone("vlan-120").cidrs == ["10.10.120.0/24"]
