"""`medtap diff` on two generated captures (pcaps/fixtures/gen_diff.py): the CT gains a service (tcp/80,
a web interface) and loses a peer (the HL7 engine); the monitor does the same thing on both days.

The JSON output is compared whole with tests/golden/diff/diff-before-after.json (regenerate with
`pytest --update-golden` after checking the change is meant).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

REPO = Path(__file__).resolve().parents[2]
BEFORE, AFTER = REPO / "pcaps/fixtures/diff-before.pcap", REPO / "pcaps/fixtures/diff-after.pcap"
GOLDEN = REPO / "tests/golden/diff/diff-before-after.json"
CT, MONITOR = "00:21:b7:10:00:21", "00:09:fb:20:00:50"


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, ["diff", str(BEFORE), str(AFTER), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_diff_json_matches_golden(update_golden: bool) -> None:
    got = json.loads(_run("--format", "json"))
    if update_golden:
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_diff_names_the_gained_service_and_the_lost_peer() -> None:
    devices = {d["mac"]: d for d in json.loads(_run("--format", "json"))["devices"]}
    ct = devices[CT]
    assert ct["services_added"] == ["tcp/80"] and ct["peers_removed"] == ["10.50.0.30"]
    assert ct["peers_added"] == ["10.20.0.11"] and ct["protocols_removed"] == ["hl7/client"]
    assert devices[MONITOR]["verdict"] == "unchanged"
    for key in ("mac", "ips", "peers_added", "peers_removed", "services_added", "services_removed",
                "protocols_added", "protocols_removed", "identity_changed"):
        assert all(key in d for d in devices.values()), key


def test_diff_device_filter_by_ip_and_text_output() -> None:
    only = json.loads(_run("--format", "json", "--device", "10.10.110.21"))["devices"]
    assert [d["mac"] for d in only] == [CT]
    text = _run("--device", CT)
    assert "services gained: tcp/80" in text and "peers lost: 10.50.0.30" in text


def test_diff_no_patient_data() -> None:
    assert b"DOE^JOHN" in BEFORE.read_bytes()  # the HL7 messages carry a synthetic PID segment
    assert "DOE" not in _run("--format", "json")


def test_diff_usage_errors() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["diff", str(BEFORE)]).exit_code == 2
    assert runner.invoke(app, ["diff", str(BEFORE), str(AFTER), "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["diff", str(BEFORE), str(REPO / "nope.pcap")]).exit_code == 4
    assert runner.invoke(app, ["diff", str(BEFORE), str(AFTER), "--device", "10.99.99.99"]).exit_code == 1
