"""Vendor enrichment: the dated snapshot of the four IEEE MAC block registries, longest prefix first.

The organisations asserted here are the IEEE's assignments (MA-L, MA-M, MA-S, IAB), checked against the
registry; netaddr's bundled MA-L list of 2024 knows none of the post-2024 blocks nor any sub-block
(it answers "IEEE Registration Authority" or nothing), which is what the snapshot replaces.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netaddr
import pytest
from typer.testing import CliRunner

from analyzer.enrich import load_aliases, oui_org, vendor_of
from analyzer.macs import REGISTRY_MAX_AGE_DAYS, load_registry, mac_registry
from analyzer.oui_refresh import main as refresh
from analyzer.paths import DataFileError, data_file


def _netaddr_org(mac: str) -> str | None:
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip() or None
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, ValueError):
        return None


@pytest.mark.parametrize(("mac", "org", "registry"), [
    ("70:b3:d5:b3:40:2a", "Medtronic", "MA-S (36 bits) in the 70:B3:D5 block"),
    ("00:50:c2:2e:00:7f", "Baxter International Inc", "IAB (36 bits) in the 00:50:C2 block"),
    ("1c:87:74:01:23:45", "Philips Personal Health Solutions", "MA-M (28 bits)"),
    ("38:0b:26:00:00:01", "Mindray Co., Ltd.", "MA-L assigned after netaddr's 2024 list"),
    ("54:fa:89:10:20:30", "Medtronic CRM", "MA-L assigned after netaddr's 2024 list"),
    ("00:09:fb:20:00:50", "Philips Patient Monitoring", "MA-L of long standing"),
])
def test_each_registry_resolves_to_its_organisation(mac: str, org: str, registry: str) -> None:
    assert oui_org(mac) == org, registry
    if "long standing" in registry:  # names the 2024 list already had are kept as the IEEE writes them
        assert _netaddr_org(mac) == org
    else:
        assert _netaddr_org(mac) != org, "the case must be one netaddr's list gets wrong"


def test_longest_prefix_wins_and_unassigned_sub_blocks_are_unknown() -> None:
    registry = mac_registry()
    # 70:B3:D5:B3:4 is a Medtronic MA-S; its neighbours belong to others or to nobody, never to Medtronic
    assert registry.org("70:b3:d5:b3:40:00") == registry.org("70:b3:d5:b3:4f:ff") == "Medtronic"
    assert registry.org("70:b3:d5:b3:50:00") != "Medtronic"
    assert registry.org("70:b3:d5:00:00:00") != "IEEE Registration Authority"
    # the parent MA-L of a subdivided block says nothing of a device: never the answer
    assert "IEEE Registration Authority" not in {registry.org(f"70:b3:d5:{i:02x}:00:00") for i in range(256)}


def test_medical_vendors_from_new_blocks_are_flagged_medical() -> None:
    aliases = load_aliases(data_file("vendors.yaml"))
    for mac, name in (("38:0b:26:00:00:01", "Mindray"), ("70:b3:d5:b3:40:2a", "Medtronic"),
                      ("00:50:c2:2e:00:7f", "Baxter")):
        info = vendor_of(mac, aliases)
        assert (info.vendor, info.medical) == (name, True), mac


def test_other_spellings_randomised_and_garbage() -> None:
    assert oui_org("00-09-FB-20-00-50") == oui_org("0009.fb20.0050") == oui_org("00:09:fb:20:00:50")
    assert oui_org("02:00:00:00:00:01") is None  # locally administered
    assert oui_org("not a mac") is None


def test_the_snapshot_is_dated_sourced_compact_and_covers_all_four_registries() -> None:
    registry = mac_registry()
    assert registry.date >= dt.date(2026, 10, 24) and "IEEE" in registry.source
    sizes = {bits: len(blocks) > 5000 for bits, blocks in registry.blocks.items()}
    assert sizes == {24: True, 28: True, 36: True}
    assert len(registry.blocks[24]) > 40_000  # netaddr's 2024 list has about 35,000 MA-L blocks
    assert registry.path.stat().st_size < 4_000_000


def test_staleness_is_reported_for_a_date_not_asserted_against_the_calendar() -> None:
    registry = mac_registry()
    assert registry.staleness(registry.date) is None
    assert registry.staleness(registry.date + dt.timedelta(days=REGISTRY_MAX_AGE_DAYS)) is None
    late = registry.staleness(registry.date + dt.timedelta(days=REGISTRY_MAX_AGE_DAYS + 1))
    assert late is not None and registry.date.isoformat() in late and "analyzer.oui_refresh" in late


def test_rules_check_reports_the_snapshot_date_and_age() -> None:
    from api.cli import app

    result = CliRunner().invoke(app, ["rules", "check"])
    assert result.exit_code == 0, result.output
    assert f"IEEE MAC block snapshot {mac_registry().date.isoformat()}" in result.output


def _csv(path: Path, registry: str, rows: list[tuple[str, str]]) -> Path:
    lines = ["Registry,Assignment,Organization Name,Organization Address"]
    lines += [f'{registry},{block},"{org}","Somewhere  XX 12345"' for block, org in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_refresh_from_the_official_csvs_and_a_manuf_file(tmp_path: Path) -> None:
    oui = _csv(tmp_path / "oui.csv", "MA-L",
               [("001122", "Maker  One, Inc."), ("70B3D5", "IEEE Registration Authority")])
    mam = _csv(tmp_path / "mam.csv", "MA-M", [("0011223", "Maker Two")])
    oui36 = _csv(tmp_path / "oui36.csv", "MA-S", [("70B3D5123", "Maker Three")])
    iab = _csv(tmp_path / "iab.csv", "IAB", [("0050C2456", "Maker Four")])
    manuf = tmp_path / "manuf"
    manuf.write_text("# comment\n00:11:22\tMakerOne\tSomeone Else\n01:80:C2:00:00:00/48\tLLDP\n"
                     "AA:BB:CC\tShort\tMaker Five Ltd\nAA:BB:CC:D0/28\tShort6\tMaker Six\n", encoding="utf-8")
    out = tmp_path / "blocks.tsv"
    code = refresh([str(oui), str(mam), str(oui36), str(iab), "--manuf", str(manuf), "--date", "2026-01-02",
                    "--source", "test files", "--output", str(out)])
    assert code == 0
    registry = load_registry(out)
    assert (registry.date, registry.source) == (dt.date(2026, 1, 2), "test files")
    assert registry.org("00:11:22:30:00:00") == "Maker Two"
    assert registry.org("00:11:22:40:00:00") == "Maker One, Inc."  # the official CSV wins over manuf
    assert registry.org("70:b3:d5:12:30:00") == "Maker Three"
    assert registry.org("70:b3:d5:12:40:00") is None
    assert registry.org("00:50:c2:45:60:01") == "Maker Four"
    assert registry.org("aa:bb:cc:d1:00:00") == "Maker Six"
    assert registry.org("aa:bb:cc:e0:00:00") == "Maker Five Ltd"
    assert registry.org("01:80:c2:00:00:00") is None
    assert registry.staleness(dt.date(2026, 1, 2) + dt.timedelta(days=REGISTRY_MAX_AGE_DAYS + 1)) is not None


def test_a_snapshot_without_date_or_with_a_bad_line_is_an_error_naming_the_file(tmp_path: Path) -> None:
    undated = tmp_path / "undated.tsv"
    undated.write_text("001122\tMaker\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="undated.tsv: no '# snapshot-date"):
        load_registry(undated)
    bad = tmp_path / "bad.tsv"
    bad.write_text("# snapshot-date: 2026-01-01\n00112\tMaker\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="bad.tsv:2"):
        load_registry(bad)


def test_a_site_rules_folder_without_the_snapshot_uses_the_installed_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.datafiles import packaged_rules_dir, registry_file

    monkeypatch.setenv("MEDTAP_RULES_DIR", str(tmp_path))
    assert registry_file("ieee_mac_blocks.tsv") == packaged_rules_dir() / "ieee_mac_blocks.tsv"
    own = tmp_path / "ieee_mac_blocks.tsv"
    own.write_text("# snapshot-date: 2027-01-01\n001122\tSite Maker\n", encoding="utf-8")
    assert registry_file("ieee_mac_blocks.tsv") == own
    with pytest.raises(DataFileError, match="nothing.tsv: data table missing"):
        registry_file("nothing.tsv")
