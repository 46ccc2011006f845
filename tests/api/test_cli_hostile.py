"""Issue 18 item 6: names from the wire print literally in the terminal; an unreachable database is one line.

A DHCP hostname `[/]` crashed rich's markup parser, `[link=...]` rendered as a link, and raw
ESC/BEL/C1 bytes (an OSC 8 hyperlink, a clear-screen CSI) reached the terminal.  Every command
that prints stored names is run on a database holding hostile names, in-process with typer's
CliRunner: the literal text (controls shown as `\\x1b`) is printed and no control byte is.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.models import Device, Evidence, Finding
from api.cli import app
from api.render import visible
from store.db import session_for
from store.records import save_devices, save_findings
from tests.conftest import REPO

runner = CliRunner()
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")  # what must never reach the terminal (\t, \n are layout)

HOSTNAME = "[/]"
VENDOR = "[link=http://x]acme[/link]"
OS = "\x1b]8;;http://x\x07os\x1b]8;;\x07"
PORT = "\x9b2J\u202eGi1/0/5"
TITLE = "[bold]cleartext[/bold] \x1b[31mred"
SUBJECT = "[/]x\x1b[2Jy"


@pytest.fixture
def hostile_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    device = Device(mac="02:00:00:00:00:01", ips=["10.0.0.1"], hostname=HOSTNAME, vendor=VENDOR, os=OS,
                    switch_port=PORT, names=[HOSTNAME])
    finding = Finding(id="MT-hostile", rule="cleartext-medical", severity="high", title=TITLE, subject=SUBJECT,
                      service="it", evidence=[Evidence(text=SUBJECT)])
    with session_for(db) as session:
        save_devices(session, [device])
        save_findings(session, [finding], today=dt.date(2026, 3, 2))
        session.commit()
    return db


def _printed(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output), repr(result.output)
    return result.output


def test_inventory_prints_hostile_names_literally(hostile_db: str) -> None:
    output = _printed(["inventory", "--db", hostile_db])
    for name in (HOSTNAME, VENDOR, OS, PORT):
        assert visible(name) in output, (visible(name), output)
    assert "\\x1b]8;;http://x\\x07os" in output and "\\x9b2J\\u202eGi1/0/5" in output


def test_findings_prints_hostile_title_and_subject_literally(hostile_db: str) -> None:
    output = _printed(["findings", "--db", hostile_db])
    assert visible(TITLE) in output and visible(SUBJECT) in output
    assert "[bold]cleartext[/bold] \\x1b[31mred" in output


def test_json_output_escapes_controls(hostile_db: str) -> None:
    assert "\\u001b]8;;http://x\\u0007os" in _printed(["inventory", "--json", "--db", hostile_db])
    assert "[/]x\\u001b[2Jy" in _printed(["findings", "--json", "--db", hostile_db])


def test_policy_suggest_and_check_print_literally(hostile_db: str, tmp_path: Path) -> None:
    _printed(["policy", "suggest", "--db", hostile_db])
    site = tmp_path / "[link=x]site[red].yaml"
    site.write_text('site: x\n"[/]\\e[2J": 1\nbogus: 2\n', encoding="utf-8")  # YAML's \e is ESC
    result = runner.invoke(app, ["policy", "check", str(site)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{site}:2: [/]\\x1b[2J: Extra inputs are not permitted\n{site}:3: bogus:" in result.output
    assert not CONTROL.search(result.output) and "Traceback" not in result.output


DEMO_PCAP = REPO / "pcaps" / "demo" / "demo-core.pcap"
UNREACHABLE = ["postgresql://nobody@127.0.0.1:1/x", "sqlite:////nonexistent-medtap-dir/sub/x.db"]
DB_COMMANDS = [
    ["inventory"], ["findings"], ["policy", "suggest"], ["token", "create", "--role", "viewer"], ["db", "upgrade"],
    ["sheets", "export", "{tmp}/out.csv"], ["sheets", "import", str(REPO / "pcaps" / "demo" / "sheets.csv")],
    ["baseline", "save", "{tmp}/b.json"], ["replay", str(DEMO_PCAP), "-q"], ["serve", "--port", "1"],
    ["capture", "--interface", "lo", "--duration", "0.1"],
]


@pytest.mark.parametrize("db", UNREACHABLE, ids=["postgresql-port-1", "sqlite-missing-dir"])
@pytest.mark.parametrize("command", DB_COMMANDS, ids=[" ".join(c[:2]) for c in DB_COMMANDS])
def test_unreachable_database_is_one_clear_line(command: list[str], db: str, tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: cannot open the database {db}: "), lines[0]
    assert "Traceback" not in result.output
