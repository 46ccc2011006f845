"""The `medtap` command line end to end on the demo hospital (in-process, typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import REPO

DEMO = REPO / "pcaps" / "demo"
COMMANDS = [
    ["replay"], ["capture"], ["inventory"], ["findings"], ["serve"], ["sheets", "import"], ["sheets", "export"],
    ["token", "create"], ["token", "list"], ["token", "revoke"], ["policy", "check"], ["policy", "suggest"], ["baseline", "save"], ["baseline", "reset"],
    ["db", "upgrade"], ["rules", "check"],
]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{folder / 'demo.db'}"
    result = runner.invoke(
        app,
        ["replay", *map(str, sorted(DEMO.glob("*.pcap"))), "--site", str(DEMO / "site.yaml"),
         "--sheets", str(DEMO / "sheets.csv"), "--db", db, "--report", str(folder / "r.json"), "-q"],
    )
    assert result.exit_code == 0, result.output
    return db


def test_inventory_and_findings_as_json(demo_db: str) -> None:
    devices = json.loads(runner.invoke(app, ["inventory", "--json", "--db", demo_db]).output)
    findings = json.loads(runner.invoke(app, ["findings", "--json", "--db", demo_db]).output)
    assert any(d["hostname"] == "CT-SCANNER-01" and d["switch_port"] == "SW-IMG-01 Gi1/0/5" for d in devices)
    assert {"remote-access-unapproved", "dm-internet"} <= {f["rule"] for f in findings}
    only_high = json.loads(runner.invoke(app, ["findings", "--json", "--severity", "high", "--db", demo_db]).output)
    assert only_high and all(f["severity"] == "high" for f in only_high)


def test_tables_name_the_teamviewer_finding(demo_db: str) -> None:
    result = runner.invoke(app, ["findings", "--db", demo_db])
    assert result.exit_code == 0
    assert "remote-access-unapproved" in result.output
    assert "203.0.113.50->10.10.110.30:5938/teamviewer" in result.output


@pytest.mark.parametrize("ext", ["csv", "json", "yaml"])
def test_sheets_export_then_import_changes_nothing(demo_db: str, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"sheets.{ext}"
    exported = runner.invoke(app, ["sheets", "export", str(out), "--db", demo_db])
    assert exported.exit_code == 0, exported.output
    declared = len(yaml.safe_load((DEMO / "sheets.yaml").read_text(encoding="utf-8")))
    assert f"exported {declared} sheet(s)" in exported.output
    before = out.read_bytes()
    again = runner.invoke(app, ["sheets", "import", str(out), "--db", demo_db])
    assert again.exit_code == 0, again.output
    runner.invoke(app, ["sheets", "export", str(out), "--db", demo_db])
    assert out.read_bytes() == before


def test_bad_sheet_row_is_refused_with_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Nom du logiciel;Adresse MAC;VLAN\nScanner;00:11:22:33:44:55;110\nPompe;pas-une-mac;120\n", encoding="utf-8-sig")
    db = f"sqlite:///{tmp_path / 'm.db'}"
    result = runner.invoke(app, ["sheets", "import", str(bad), "--db", db])
    assert result.exit_code == 1
    assert "3" in result.output and "mac" in result.output.lower()
    partial = runner.invoke(app, ["sheets", "import", str(bad), "--db", db, "--partial"])
    assert partial.exit_code == 0 and "imported 1" in partial.output


def test_policy_check_names_the_line(tmp_path: Path) -> None:
    assert runner.invoke(app, ["policy", "check", str(DEMO / "site.yaml")]).exit_code == 0
    bad = tmp_path / "site.yaml"
    bad.write_text("site: x\nzones:\n  - name: a\n    kind: dm\n    cidrs: [10.0.0.0/33]\n", encoding="utf-8")
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert "site.yaml:5" in result.output.replace("\n", "")


def test_policy_suggest_proposes_a_valid_policy(demo_db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "suggest", "--db", demo_db])
    assert result.exit_code == 0, result.output
    proposal = tmp_path / "suggested.yaml"
    proposal.write_text(result.output, encoding="utf-8")
    assert yaml.safe_load(result.output)["zones"]
    assert runner.invoke(app, ["policy", "check", str(proposal)]).exit_code == 0


def test_baseline_save_and_reset(demo_db: str, tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    assert runner.invoke(app, ["baseline", "save", str(path), "--db", demo_db]).exit_code == 0
    data = json.loads(path.read_text())
    assert data["devices"] and data["conversations"]
    assert runner.invoke(app, ["baseline", "reset", str(path)]).exit_code == 0
    assert not path.exists()


def test_tokens_rules_and_db_upgrade(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--db", db]).exit_code == 0
    token = runner.invoke(app, ["token", "create", "--role", "viewer", "--db", db])
    assert token.exit_code == 0 and len(token.output.strip()) >= 20
    assert runner.invoke(app, ["token", "create", "--role", "god", "--db", db]).exit_code == 1
    rules = runner.invoke(app, ["rules", "check"])
    assert rules.exit_code == 0 and "rules valid" in rules.output


def test_missing_capture_exits_4(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.pcap"), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 4


def test_dissector_tshark_labels_what_medtap_does_not_decode(tmp_path: Path) -> None:
    from tests.conftest import real_pcap

    pcap = real_pcap("ndpi-modbus.pcap")
    report = tmp_path / "r.json"
    db = f"sqlite:///{tmp_path / 'm.db'}"
    result = runner.invoke(app, ["replay", str(pcap), "--dissector", "tshark", "--db", db, "--report", str(report), "-q"])
    assert result.exit_code == 0, result.output
    devices = json.loads(report.read_text())["devices"]
    assert any(p.startswith("tshark:modbus/") for d in devices for p in d["protocols"]), [d["protocols"] for d in devices]
    plain = runner.invoke(app, ["replay", str(pcap), "--db", f"sqlite:///{tmp_path / 'p.db'}", "--report", str(tmp_path / "p.json"), "-q"])
    assert plain.exit_code == 0
    assert not any("tshark:" in p for d in json.loads((tmp_path / "p.json").read_text())["devices"] for p in d["protocols"])


def test_replaying_the_same_captures_twice_stores_them_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'twice.db'}"
    args = ["replay", str(DEMO / "demo-core.pcap"), "--db", db, "--report", str(tmp_path / "r.json"), "-q"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    once = json.loads((tmp_path / "r.json").read_text())
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "not stored twice" in second.output.replace("\n", " ")
    twice = json.loads((tmp_path / "r.json").read_text())
    assert twice["stats"]["packets"] == once["stats"]["packets"]
    assert [d["mac"] for d in twice["devices"]] == [d["mac"] for d in once["devices"]]


def test_analyze_status_and_purge_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`medtap analyze` re-runs the analysis with the stored policy, `status` tells when, `db purge` drops raw rows."""
    db = f"sqlite:///{tmp_path / 'm.db'}"
    demo = REPO / "pcaps" / "demo"
    with monkeypatch.context() as env:
        env.setenv("MEDTAP_RAW_RETENTION_DAYS", "1")
        assert runner.invoke(app, ["replay", str(demo / "demo-core.pcap"), "--site", str(demo / "site.yaml"),
                                   "--db", db, "-q"]).exit_code == 0
    analyzed = runner.invoke(app, ["analyze", "--db", db])
    assert analyzed.exit_code == 0 and "devices" in analyzed.output
    state = runner.invoke(app, ["status", "--db", db, "--json"])
    data = json.loads(state.stdout)
    assert data["up_to_date"] is True and data["last_analysis"] and data["sensors"][0]["sensor"] == "local"
    purged = runner.invoke(app, ["db", "purge", "--db", db, "--days", "0"])
    assert purged.exit_code == 0 and "raw observation row(s) dropped" in purged.output
    assert int(purged.output.split()[0]) > 0
