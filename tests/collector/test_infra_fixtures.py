"""The infrastructure fixture captures against their golden files, through the detectors alone.

tests/golden/test_detector_golden.py replays the same captures through the full pipeline; this
test proves the infrastructure part of those expectations with a stand-in for the pipeline's deep
path (tests/collector/infra_replay.py), so the golden files are right before the pipeline exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from scapy.utils import rdpcap, wrpcap

from collector.protocols.base import SimpleContext
from collector.schema import parse_observation
from pcaps.fixtures.gen_infra import CAPTURES
from tests.collector.infra_replay import infra_detectors, replay

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "detectors"
INFRA_KINDS = {
    "arp",
    "dhcp",
    "dns",
    "netbios",
    "ssdp",
    "lldp",
    "cdp",
    "http",
    "tls",
    "ssh",
    "smb",
    "snmp",
    "os_hint",
}


def _matches(record: dict[str, Any], match: dict[str, Any]) -> bool:
    for key, want in match.items():
        have = record.get(key)
        if isinstance(want, list):
            have = list(have) if isinstance(have, (list, tuple)) else have
        if have != want:
            return False
    return True


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_fixture_meets_its_golden_file(name: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text(encoding="utf-8"))
    assert spec["pcap"] == f"pcaps/fixtures/{name}.pcap"
    path = tmp_path / f"{name}.pcap"
    wrpcap(str(path), CAPTURES[name]())
    assert path.stat().st_size < 50_000
    records = [
        o.model_dump(mode="json") for o in replay(list(rdpcap(str(path))), infra_detectors(), SimpleContext())
    ]
    for record in records:
        parse_observation(record)
    checked = 0
    for check in spec["checks"]:
        assert check["match"]["kind"] in INFRA_KINDS
        found = [r for r in records if _matches(r, check["match"])]
        assert len(found) == check["count"], f"{check['match']}: {len(found)} records"
        checked += 1
    assert checked
    blob = json.dumps(records)
    for secret in spec.get("absent_strings", []):
        assert secret not in blob


def test_captures_are_deterministic() -> None:
    for name, make in CAPTURES.items():
        first, second = make(), make()
        assert [bytes(p) for p in first] == [bytes(p) for p in second], name
        assert [float(p.time) for p in first] == [float(p.time) for p in second], name


def test_every_detector_has_a_positive_and_a_negative_capture() -> None:
    prefixes = {n.rsplit("-", 1)[0] for n in CAPTURES if n.endswith("-negative")}
    assert prefixes >= {
        "arp",
        "dhcp",
        "dns",
        "netbios",
        "ssdp",
        "lldp",
        "cdp",
        "http",
        "tls",
        "ssh",
        "smb",
        "snmp",
        "os-syn",
    }
    for prefix in prefixes:
        assert any(n.startswith(prefix) and not n.endswith("-negative") for n in CAPTURES), prefix
