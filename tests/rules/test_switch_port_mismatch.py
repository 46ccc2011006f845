"""switch-port-mismatch (issue 20 item 5, cabling): a sheet declares the switch and port a device is plugged
into; the rule fires when LLDP or CDP shows it elsewhere, naming the declared and the observed switch and port.

The capture (pcaps/fixtures/rule-switch-port-mismatch.pcap, gen_rules.cabling) holds an LLDP pairing
(SW-IMG-01 Gi1/0/5 <- the CT) and a CDP one (sw-mon-1.demo-hospital.example GigabitEthernet1/0/12 <-
the monitor); the sheets below are the positive and negative cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.engine import analyze
from analyzer.reconcile import same_port
from analyzer.sheets import Sheet
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "pcaps" / "fixtures" / "rule-switch-port-mismatch.pcap"
CT, MONITOR = "00:21:b7:10:00:23", "00:09:fb:20:00:50"


def _findings(*sheets: Sheet) -> list:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([CAPTURE], sink, key=TEST_KEY)
    report = analyze(sink.observations, sheets=sheets, rules_dir=REPO / "rules")
    return [f for f in report.findings if f.rule == "switch-port-mismatch"]


def test_fires_with_declared_and_observed_switch_and_port() -> None:
    ct = Sheet(id="SH-CT", software_name="CT console", mac=CT, switch="SW-IMG-01", switch_port="Gi1/0/7",
               wall_socket="B2-114")
    monitor = Sheet(id="SH-MON", software_name="Monitor", mac=MONITOR, switch="sw-mon-2", switch_port="Gi1/0/12")
    found = {tuple(f.devices): f for f in _findings(ct, monitor)}
    assert set(found) == {(CT,), (MONITOR,)}
    texts = " ".join(e.text for f in found.values() for e in f.evidence)
    assert "declared on switch SW-IMG-01 port Gi1/0/7 (wall socket B2-114), LLDP shows switch SW-IMG-01 port " \
           "Gi1/0/5" in texts
    assert "declared on switch sw-mon-2 port Gi1/0/12, CDP shows switch sw-mon-1.demo-hospital.example port " \
           "GigabitEthernet1/0/12" in texts


def test_silent_when_the_cabling_matches_up_to_case_domain_and_abbreviation() -> None:
    ct = Sheet(id="SH-CT", software_name="CT console", mac=CT, switch="sw-img-01.demo-hospital.example",
               switch_port="GigabitEthernet1/0/5")
    monitor = Sheet(id="SH-MON", software_name="Monitor", mac=MONITOR, switch="SW-MON-1", switch_port="gi 1/0/12")
    only_switch = Sheet(id="SH-X", software_name="x", mac="00:21:b7:10:00:30", switch="elsewhere")  # no LLDP/CDP
    assert _findings(ct, monitor, only_switch) == []


@pytest.mark.parametrize(("declared", "observed", "same"), [
    ("Gi1/0/13", "GigabitEthernet1/0/13", True), ("Fa0/1", "FastEthernet0/1", True), ("13", "Gi1/0/13", False),
    ("Gi1/0/13", "Te1/0/13", False), ("Gi1/0/13", "Gi1/0/14", False), ("ge-0/0/1", "ge-0/0/1", True),
])
def test_same_port(declared: str, observed: str, same: bool) -> None:
    assert same_port(declared, observed) is same
