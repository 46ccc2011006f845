"""Remote-access tools by name (issue 20 item 4): `devices[].protocols` and findings name the tool a
signature or detector recognised by content or server name, never the signature family
(`remote-signatures-*`); a port-only match is a hint and names no tool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.models import Report
from analyzer.site import load_site
from collector.pipeline import replay
from collector.sinks import ListSink
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "pcaps" / "fixtures"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TOOLS = {"teamviewer", "anydesk", "radmin", "nomachine", "rdp", "vnc", "screenconnect", "splashtop",
         "logmein", "beyondtrust", "ssh", "telnet"}


def _report(name: str, site: bool = False) -> Report:
    sink = ListSink()
    replay([FIXTURES / f"{name}.pcap"], sink, key=TEST_KEY)
    policy = load_site(FIXTURES / "site-rules.yaml") if site else None
    return analyze(sink.observations, site=policy, now=NOW)


def _names(report: Report) -> set[str]:
    return {p.rsplit("/", 1)[0] for d in report.devices for p in d.protocols}


@pytest.mark.parametrize("name, tools", [
    ("teamviewer-session", {"teamviewer"}),  # TCP and UDP handshakes
    ("remote-sni", {"anydesk", "screenconnect", "splashtop", "logmein", "beyondtrust"}),  # server names
    ("remote-misc", {"nomachine", "radmin", "ssh"}),  # banners and handshakes
    ("rdp-cookie", {"rdp"}),
    ("vnc-banner", {"vnc"}),
    ("telnet-login", {"telnet"}),
])
def test_tool_named_by_content(name: str, tools: set[str]) -> None:
    names = _names(_report(name))
    assert tools <= names, f"{name}: {sorted(names)}"
    assert not any(n.startswith("remote-signatures") for n in names)


@pytest.mark.parametrize("name", ["teamviewer-negative", "remote-misc-negative", "remote-sni-negative"])
def test_port_alone_names_no_tool(name: str) -> None:
    names = _names(_report(name))
    assert not names & TOOLS - {"ssh"}, f"{name}: {sorted(names)}"
    assert not any(n.startswith("remote-signatures") for n in names)


@pytest.mark.parametrize("name, tool", [("teamviewer-session", "teamviewer"), ("remote-misc", "radmin"),
                                        ("remote-misc", "nomachine")])
def test_findings_name_the_tool(name: str, tool: str) -> None:
    report = _report(name, site=True)
    texts = [e.text for f in report.findings for e in f.evidence]
    texts += [f.recommendation for f in report.findings]
    assert any(f" {tool} " in f" {t} " or t.startswith(f"{tool} ") for t in texts), texts
    assert not any("remote-signatures" in t for t in texts)
