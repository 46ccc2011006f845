"""End of support per Windows edition and release, from the table generated out of endoflife.date's data.

The dates asserted are Microsoft's (through endoflife.date): Windows 10 Home/Pro 22H2 ended on
2025-10-14, Windows 10 Enterprise LTSC 2021 ends on 2027-01-12, Windows 10 IoT Enterprise LTSC 2021 on
2032-01-13, Windows Embedded Standard 7 ended on 2020-10-13.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.os_eol import EolVerdict, edition_named, eol_entry, eol_verdict, load_eol, refine_with_declared
from analyzer.os_eol_refresh import generate
from analyzer.paths import data_file
from analyzer.sheets import Sheet
from collector.schema import HostSighting, OsHint

TODAY = dt.date(2026, 12, 7)
MAC = "00:09:fb:20:00:50"


def _table() -> tuple:
    return load_eol(data_file("os_eol.yaml"))


def _verdict(version: str, family: str = "Windows", today: dt.date = TODAY) -> EolVerdict:
    verdict = eol_verdict(family, version, _table(), today)
    assert verdict is not None, version
    return verdict


@pytest.mark.parametrize(("version", "obsolete", "eol"), [
    ("10 IoT Enterprise LTSC 2021", False, dt.date(2032, 1, 13)),
    ("10 Enterprise LTSC 2021", False, dt.date(2027, 1, 12)),
    ("10 Enterprise LTSC 2019", False, dt.date(2029, 1, 9)),
    ("10 IoT Enterprise LTSC 2019", False, dt.date(2029, 1, 9)),  # IoT LTSC 2019 follows Enterprise LTSC
    ("10 Enterprise LTSB 2016", True, dt.date(2026, 10, 13)),
    ("10 Pro", True, dt.date(2025, 10, 14)),
    ("10 Pro 21H2", True, dt.date(2023, 6, 13)),
    ("10 Enterprise 10.0.19044", True, dt.date(2024, 6, 11)),  # the build names the release (21H2)
    ("7 Embedded", True, dt.date(2020, 10, 13)),
    ("Embedded Standard 7", True, dt.date(2020, 10, 13)),
    ("Embedded POSReady 7", True, dt.date(2021, 10, 12)),
    ("7", True, dt.date(2020, 1, 14)),
    ("11 IoT Enterprise LTSC 2024", False, dt.date(2034, 10, 10)),
    ("Server 2008 R2", True, dt.date(2020, 1, 14)),
    ("Server 2019", False, dt.date(2029, 1, 9)),
    ("XP", True, dt.date(2014, 4, 8)),
])
def test_each_edition_gets_its_own_date(version: str, obsolete: bool, eol: dt.date) -> None:
    verdict = _verdict(version)
    assert (verdict.obsolete, verdict.entry.eol) == (obsolete, eol), verdict.basis
    assert eol_entry("Windows", version, _table(), TODAY) == (verdict.entry if obsolete else None)


def test_the_edition_is_read_however_the_hint_spells_it() -> None:
    assert not _verdict("Windows 10 IoT Enterprise LTSC 2021 19044").obsolete
    assert not _verdict("Microsoft Windows 10 IoT Enterprise LTSC 2021").obsolete
    assert edition_named("Windows 10 Pro for Workstations") == "w"
    assert edition_named("Windows 10 Education") == "e"
    assert edition_named("Windows Embedded Standard 7601 Service Pack 1") == "embedded-standard"
    assert edition_named("Windows 10") is None


def test_an_unnamed_edition_is_assumed_and_the_evidence_says_so() -> None:
    verdict = _verdict("10")
    assert verdict.obsolete and verdict.entry.eol == dt.date(2025, 10, 14)
    assert "names no edition" in verdict.basis and "release (assumed the latest, 22H2)" in verdict.basis
    # where every edition and release has ended, there is nothing to assume
    assert "assumed" not in _verdict("7").basis and "assumed" not in _verdict("10 Pro").basis


def test_before_their_dates_nothing_is_obsolete_and_unknown_versions_get_no_verdict() -> None:
    assert not _verdict("10 Pro", today=dt.date(2025, 10, 13)).obsolete
    assert _verdict("10 Pro", today=dt.date(2025, 10, 14)).obsolete
    assert eol_verdict("Windows", "10/11/2016+", _table(), TODAY) is None  # NTLM: 10, 11 or a server
    assert eol_verdict("Windows", None, _table(), TODAY) is None
    assert eol_verdict("Linux", "2.6.32", _table(), TODAY) is not None  # hand entries are kept


def test_the_device_carries_the_verdict_and_its_basis() -> None:
    def device(version: str):  # noqa: ANN202
        obs = [HostSighting(ts=1.0, mac=MAC, ip="10.10.110.30", vlan=110, first_ts=1.0, last_ts=1.0),
               OsHint(ts=1.0, mac=MAC, method="smb-ntlm", family="Windows", version=version, confidence=0.9)]
        [d] = analyze(obs, rules=[], now=dt.datetime(2026, 12, 7, tzinfo=dt.UTC)).devices
        return d

    ltsc = device("10 IoT Enterprise LTSC 2021")
    assert not ltsc.os_eol and "2032-01-13" in ltsc.os_eol_evidence[0]
    plain = device("10")
    assert plain.os_eol and "names no edition" in plain.os_eol_evidence[0]


def test_a_sheet_names_the_edition_the_wire_does_not() -> None:
    obs = [HostSighting(ts=1.0, mac=MAC, ip="10.10.110.30", vlan=110, first_ts=1.0, last_ts=1.0),
           OsHint(ts=1.0, mac=MAC, method="dhcp", family="Windows", version="10", confidence=0.5)]
    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    ltsc = Sheet(id="SH-LTSC", software_name="Monitoring", mac=MAC, os_name="Windows 10 IoT Enterprise",
                 os_version="LTSC 2021")
    [d] = analyze(obs, rules=[], now=now, sheets=[ltsc]).devices
    assert d.sheet_id == "SH-LTSC" and not d.os_eol
    assert "2032-01-13" in d.os_eol_evidence[0] and "sheet SH-LTSC" in d.os_eol_evidence[0]
    [d] = analyze(obs, rules=[], now=now).devices  # without the sheet: assumed Home/Pro, obsolete
    assert d.os_eol
    # a sheet about another version, or naming nothing more, changes nothing
    assert refine_with_declared("Windows", "10", "Windows 7 Embedded", _table(), TODAY) is None
    assert refine_with_declared("Windows", "10", "Windows 10", _table(), TODAY) is None
    assert refine_with_declared("Windows", "7", "Linux 2.6", _table(), TODAY) is None


def test_the_table_records_its_source_and_every_windows_entry_comes_from_it() -> None:
    path = data_file("os_eol.yaml")
    header = path.read_text(encoding="utf-8")
    assert re.search(r"^# source-commit: [0-9a-f]{40}$", header, re.MULTILINE)
    assert re.search(r"^# source-date: \d{4}-\d{2}-\d{2}$", header, re.MULTILINE)
    assert "from: windows/10-21h2-iot-lts" in header


PAGE = """---
title: Microsoft Windows
releases:
  - releaseCycle: "10-21h2-iot-lts"
    releaseLabel: "10 21H2 IoT"
    releaseDate: 2021-11-16
    eol: 2032-01-13
    latest: 10.0.19044
  - releaseCycle: "10-22h2"
    releaseDate: 2022-10-18
    eol: 2025-10-14
    latest: 10.0.19045
  - releaseCycle: "10-22h2-future"
    eol: true
---

Text.
"""


def test_the_generator_turns_endoflife_pages_into_entries(tmp_path: Path) -> None:
    page = tmp_path / "windows.md"
    page.write_text(PAGE, encoding="utf-8")
    hand = [{"family": "Linux", "version": "2.", "eol": dt.date(2016, 2, 1), "reference": "by hand"}]
    text = generate([page], hand, "a" * 40, dt.date(2026, 8, 22))
    out = tmp_path / "os_eol.yaml"
    out.write_text(text, encoding="utf-8")
    table = load_eol(out)
    assert [(e.family, e.version, e.release, e.edition) for e in table] == [
        ("Linux", "2.", None, None), ("Windows", "10", "21H2", "iot-lts"), ("Windows", "10", "22H2", None)]
    assert table[1].names == ("LTSC 2021",) and table[1].build == "10.0.19044"
    assert "# source-commit: " + "a" * 40 in text and "# source-date: 2026-08-22" in text
    assert not eol_verdict("Windows", "10 IoT Enterprise LTSC 2021", table, TODAY).obsolete  # type: ignore[union-attr]
