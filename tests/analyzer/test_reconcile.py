"""Reconciliation: sheet-to-device matching order and the nine discrepancy checks, on hand-built devices."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from analyzer.models import Device
from analyzer.reconcile import check_rows, match_sheets, os_differs
from analyzer.subjects.sheet import SUBJECT, rows
from tests.api.factories import CT, MONITOR, PACS, conversation, devices, remote, sheet

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _by_id() -> dict[str, Device]:
    return {d.mac: d for d in devices()}


def test_match_order_mac_then_ip_then_hostname() -> None:
    devs = _by_id()
    sheets = [
        sheet("S-HOST", mac=None, ip=None, workstation="MON07.demo.example"),
        sheet("S-IP", mac="02:00:00:00:00:01", ip="10.50.0.20", workstation=None),
        sheet("S-MAC", mac=CT, ip="10.50.0.20", workstation="pacs"),
        sheet("S-NONE", mac=None, ip="10.99.0.1", workstation="ghost"),
    ]
    matches = match_sheets(devs, sheets)
    assert matches == {"S-MAC": (CT, "mac"), "S-IP": (PACS, "ip"), "S-HOST": (MONITOR, "hostname")}
    assert devs[CT].sheet_id == "S-MAC" and devs[MONITOR].sheet_match == "hostname"


def test_a_device_matches_one_sheet_only() -> None:
    devs = _by_id()
    matches = match_sheets(devs, [sheet("A"), sheet("B")])
    assert list(matches) == ["A"]


def _checks(result: list[dict]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    out: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for row in result:
        out.setdefault(row["check"], []).append(row)
    return out


def test_clean_sheet_gives_no_discrepancy_for_its_device() -> None:
    devs = _by_id()
    sheets = [sheet()]
    convs = [conversation("10.10.110.5", "10.50.0.20", 104, client_mac=CT, app="dicom"),
             conversation("10.10.110.5", "10.50.0.3", 53, client_mac=CT),            # DNS: infrastructure
             conversation("10.10.110.5", "224.0.0.251", 5353, client_mac=CT)]        # multicast
    result = check_rows(devices=devs, sheets=sheets, matches=match_sheets(devs, sheets), conversations=convs, min_window=0, now=NOW)
    assert [r for r in result if r["sheet_id"] == "SH-0001"] == []
    assert {r["mac"] for r in _checks(result)["undeclared-device"]} == {MONITOR}


def test_every_discrepancy() -> None:
    devs = _by_id()
    devs[CT].os = "Windows 10"
    devs[CT].connection = "wifi"
    sheets = [sheet(vlan=111, last_review="2024-01-01",
                    servers=[{"name": "10.50.0.20", "role": "pacs"}, {"name": "backup01"}]),
              sheet("SH-GONE", mac="02:00:00:00:00:09", ip="10.10.110.99", workstation="gone")]
    convs = [conversation("10.10.110.5", "203.0.113.9", 443, client_mac=CT),
             conversation("10.10.110.5", "10.50.0.20", 104, client_mac=CT)]
    result = _checks(check_rows(devices=devs, sheets=sheets, matches=match_sheets(devs, sheets), conversations=convs, min_window=0,
                                remote=[remote("198.51.100.7", "10.10.110.5")], now=NOW))
    assert set(result) == {"undeclared-device", "declared-not-seen", "connection-mismatch", "vlan-mismatch",
                           "undeclared-peer", "declared-server-silent", "remote-maintenance-mismatch", "os-mismatch",
                           "review-overdue"}
    assert [r["peer"] for r in result["undeclared-peer"]] == ["203.0.113.9"]
    assert result["undeclared-peer"][0]["_evidence"][0].frame_no == 7
    assert {r["peer"] for r in result["declared-server-silent"]} == {"backup01"}  # pacs resolved by role and contacted
    assert result["vlan-mismatch"][0]["declared"] == "111" and result["vlan-mismatch"][0]["observed"] == "110"
    assert result["os-mismatch"][0]["observed"] == "Windows 10"
    assert result["remote-maintenance-mismatch"][0]["observed"] == "teamviewer@198.51.100.7"
    assert [r["sheet_id"] for r in result["declared-not-seen"]] == ["SH-GONE"]
    assert {r["sheet_id"]: r["days_since_review"] for r in result["review-overdue"]}["SH-0001"] == 882
    keys = [(r["check"], r["_key"]) for rs in result.values() for r in rs]
    assert len(keys) == len(set(keys))  # finding id = rule + key: distinct per rule


def test_remote_maintenance_through_declared_gateway_is_fine() -> None:
    devs = _by_id()
    devs["00:60:00:00:00:10"] = Device(mac="00:60:00:00:00:10", ips=["10.60.0.10"], hostname="bastion")
    sheets = [sheet(remote_maintenance={"method": "rdp", "gateway": "bastion"})]
    ok = check_rows(devices=devs, sheets=sheets, matches=match_sheets(devs, sheets),
                    remote=[remote("10.60.0.10", "10.10.110.5", "rdp")], now=NOW)
    assert "remote-maintenance-mismatch" not in _checks(ok)
    other = check_rows(devices=devs, sheets=sheets, matches=match_sheets(devs, sheets),
                       remote=[remote("10.20.0.8", "10.10.110.5", "rdp"), remote("10.60.0.10", "10.10.110.5", "vnc")], now=NOW)
    assert sorted(r["observed"] for r in _checks(other)["remote-maintenance-mismatch"]) == ["rdp@10.20.0.8", "vnc@10.60.0.10"]


def test_os_comparison() -> None:
    assert os_differs("Windows 7", "Windows 10")
    assert os_differs("Linux", "Windows 10")
    assert not os_differs("Windows 10", "Microsoft Windows 10 Pro")
    assert not os_differs("Windows", "Windows 7")
    assert not os_differs("Windows 10 22H2", "Windows 10")


def test_review_recent_is_not_overdue() -> None:
    devs = _by_id()
    sheets = [sheet(last_review="2026-01-10"), sheet("SH-NEVER", last_review=None, mac=None, ip=None, workstation=None)]
    result = _checks(check_rows(devices=devs, sheets=sheets, matches=match_sheets(devs, sheets), now=NOW))
    assert [(r["sheet_id"], r["days_since_review"]) for r in result["review-overdue"]] == [("SH-NEVER", None)]


def test_provider_on_a_context() -> None:
    devs = _by_id()
    ctx = SimpleNamespace(devices=devs, sheets=[sheet(vlan=120)], matches=None, now=NOW,
                          site=SimpleNamespace(min_observed_hours=0),  # hand-made devices carry no times
                          observations={"conversation": [], "remote_access": []})
    produced = list(rows(ctx))
    assert SUBJECT == "sheet"
    assert {r["check"] for r in produced} == {"vlan-mismatch", "declared-server-silent", "undeclared-device"}
    assert all(isinstance(r["_key"], str) and r["_key"] for r in produced)
