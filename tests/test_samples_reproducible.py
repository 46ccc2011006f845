"""Committed sample captures are exactly what pcaps/make_samples.py generates; the demo data is coherent.

Regenerating must give byte-identical files (explicit packet times, seeded randomness, a pcap header
with nothing time-dependent); `check()` must notice a changed, missing or extra file; the demo
captures stay within the demo morning, 802.1Q-tagged and small; the demo sheets (CSV as a French
Excel export, and YAML) are the same sheets; the site policy validates; expected.yaml covers the
whole rule catalogue of issues 5 and 6.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from pathlib import Path

import pytest
import yaml

from pcaps import make_samples

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pcaps" / "demo"
DEMO_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp()
DEMO_END = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()

CATALOGUE = [  # issue 5 (analyzer) and issue 6 (reconciliation)
    "dm-on-wifi", "flat-network", "cross-zone-flow", "dm-internet", "remote-access-unapproved",
    "cleartext-admin", "cleartext-medical", "legacy-smb1", "obsolete-os", "mac-multi-vlan",
    "unmanaged-switch", "rogue-dhcp",
    "new-device", "new-conversation",
    "undeclared-device", "declared-not-seen", "connection-mismatch", "vlan-mismatch", "undeclared-peer",
    "declared-server-silent", "remote-maintenance-mismatch", "os-mismatch", "review-overdue",
]


# one worker for the module: its fixture regenerates every sample (7 s), once rather than once per worker
pytestmark = pytest.mark.xdist_group("samples")


@pytest.fixture(scope="module")
def problems() -> list[str]:
    return make_samples.check()


def test_committed_samples_are_byte_identical_to_a_fresh_generation(problems: list[str]) -> None:
    assert problems == [], "run `python pcaps/make_samples.py` and commit:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", sorted((ROOT / "pcaps" / "fixtures").glob("*.pcap")), ids=lambda p: p.name)
def test_fixture_capture_is_small(path: Path) -> None:
    assert path.stat().st_size < 50_000


def _few_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    """check() and main() over three demo captures and one fixture: the comparison logic is the same for
    every generator, and the whole generation is already compared once with the committed files (the
    `problems` fixture: a generation in this process equal to bytes generated in an earlier one is the
    determinism check)."""
    chosen = [g for g in make_samples.generators()
              if (g[0], g[1]) in {("demo", "demo-core"), ("demo", "demo-wifi"), ("demo", "demo-office")}]
    chosen.append(next(g for g in make_samples.generators() if g[0] == "fixtures"))
    assert len(chosen) == 4, [g[:2] for g in chosen]
    monkeypatch.setattr(make_samples, "generators", lambda: iter(chosen))


def test_check_reports_changed_missing_and_extra_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _few_generators(monkeypatch)
    committed = tmp_path / "pcaps"
    make_samples.generate(committed)
    assert make_samples.check(committed) == []
    core = committed / "demo" / "demo-core.pcap"
    data = bytearray(core.read_bytes())
    data[-1] ^= 0xFF
    core.write_bytes(bytes(data))
    (committed / "demo" / "demo-wifi.pcap").unlink()
    shutil.copy(committed / "demo" / "demo-office.pcap", committed / "fixtures" / "hand-made.pcap")
    assert make_samples.check(committed) == [
        "differs: pcaps/demo/demo-core.pcap",
        "missing: pcaps/demo/demo-wifi.pcap",
        "extra (no generator): pcaps/fixtures/hand-made.pcap",
    ]


def test_main_check_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], problems: list[str]) -> None:
    monkeypatch.setattr(make_samples, "check", lambda root=None: list(problems))
    assert make_samples.main(["--check"]) == (1 if problems else 0)
    monkeypatch.undo()
    _few_generators(monkeypatch)
    monkeypatch.setattr(make_samples, "PCAPS", tmp_path)
    assert make_samples.main(["--check"]) == 1  # nothing committed in an empty tree
    assert "missing: pcaps/demo/demo-core.pcap" in capsys.readouterr().out


def test_write_pcap_refuses_packets_without_explicit_time(tmp_path: Path) -> None:
    from scapy.layers.l2 import Ether

    with pytest.raises(ValueError, match="no packet"):
        make_samples.write_pcap(tmp_path / "empty.pcap", [])
    pkt = Ether()
    pkt.time = None
    with pytest.raises(ValueError, match="explicit time"):
        make_samples.write_pcap(tmp_path / "untimed.pcap", [pkt])


def _demo_files() -> list[Path]:
    files = sorted(DEMO.glob("demo-*.pcap"))
    assert len(files) >= 5
    return files


@pytest.mark.parametrize("path", _demo_files(), ids=lambda p: p.name)
def test_demo_capture_header_times_tags_and_size(path: Path) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Dot1Q
    from scapy.utils import rdpcap

    raw = path.read_bytes()
    assert len(raw) < 1_000_000
    assert struct.unpack("<IHHiIII", raw[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pkts = rdpcap(str(path))
    assert 10 <= len(pkts) <= 3000
    times = [float(p.time) for p in pkts]
    assert times == sorted(times)
    assert DEMO_START <= times[0] and times[-1] <= DEMO_END
    untagged_ip = [i for i, p in enumerate(pkts) if IP in p and Dot1Q not in p]
    assert untagged_ip == []  # the SPAN carries the trunk: every IP frame has its VLAN tag


def test_demo_sheets_csv_is_a_french_excel_export_of_the_yaml_sheets() -> None:
    from analyzer.sheet_io import read_sheets
    from analyzer.sheets import Sheet

    raw = (DEMO / "sheets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n", 1)[0].decode("utf-8").split(";")
    for column in ("Nom du logiciel", "Fournisseur", "Poste informatique", "Adresse MAC", "Télémaintenance",
                   "Système d'exploitation", "Date de revue"):
        assert column in header
    parsed = read_sheets(raw, fmt="csv")
    assert parsed.errors == []
    from_yaml = [Sheet.model_validate(item) for item in yaml.safe_load((DEMO / "sheets.yaml").read_text())]
    assert 6 <= len(from_yaml) <= 10
    assert parsed.sheets == from_yaml


def test_demo_site_policy_is_valid_and_declares_the_plan() -> None:
    from analyzer.site import load_site

    site = load_site(DEMO / "site.yaml")
    assert {v for z in site.zones for v in z.vlans} == {50, 60, 110, 120, 130, 200, 300}
    assert site.dhcp_servers == ["10.50.0.2"]
    assert site.gateway_for("10.60.0.10") is not None
    today = dt.date(2026, 3, 2)
    assert sorted(e.active(today) for e in site.exceptions) == [False, True]  # one expired, one not


def test_expected_covers_the_whole_catalogue() -> None:
    expected = yaml.safe_load((DEMO / "expected.yaml").read_text())
    rules = expected["rules"]
    missing = [r for r in CATALOGUE if not rules.get(r, {}).get("subjects")]
    assert missing == []
    for rule, spec in rules.items():
        assert spec["run"] == "plain" or spec["run"] in ("baseline", "overflow"), rule
        assert list(ROOT.glob(f"rules/**/{rule}.yaml")), f"no rule file for {rule}"
    firing = {rule for sub in ("plain",) for rule, spec in rules.items() if spec["run"] == sub}
    normal = set(expected["normal"])
    overlap = {s for r in firing for s in rules[r]["subjects"]} & normal
    assert overlap == set()
