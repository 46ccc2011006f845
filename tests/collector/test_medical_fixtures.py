"""The medical fixture captures against their golden files, through the detectors alone.

tests/golden/test_detector_golden.py replays the same captures through the full pipeline; this test
checks the medical detectors' part of those expectations with a stand-in for the pipeline's deep
path (tests/collector/medical_replay.py), so the golden files are proven before the pipeline runs.
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
from pcaps.fixtures.gen_medical import CAPTURES
from tests.collector.medical_replay import medical_detectors, replay

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "detectors"
MEDICAL_KINDS = {"dicom", "hl7", "sdc", "intellivue", "poct", "astm"}


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
    observations = replay(list(rdpcap(str(path))), medical_detectors(), SimpleContext())
    records = [o.model_dump(mode="json") for o in observations]
    for record in records:
        parse_observation(record)
    for check in spec["checks"]:
        if check["match"].get("kind") not in MEDICAL_KINDS:
            continue
        found = [r for r in records if _matches(r, check["match"])]
        assert len(found) == check["count"], f"{check['match']}: {len(found)} records"
    blob = json.dumps(records)
    for secret in spec.get("absent_strings", []):
        assert secret not in blob


def test_every_capture_has_a_golden_file_and_a_negative() -> None:
    detectors = {n.split("-")[0] for n in CAPTURES}
    assert detectors == MEDICAL_KINDS
    for det in detectors:
        assert f"{det}-negative" in CAPTURES
    for name in CAPTURES:
        assert (GOLDEN / f"{name}.yaml").is_file(), name


def test_captures_are_deterministic() -> None:
    for name, build in CAPTURES.items():
        first, second = build(), build()
        assert [bytes(p) for p in first] == [bytes(p) for p in second], name
        assert [float(p.time) for p in first] == [float(p.time) for p in second], name


def test_patient_data_is_really_in_the_carriers() -> None:
    """The absent-string checks mean something only if the captures hold those strings."""
    planted = [("dicom-associate", b"DOE^JOHN"), ("hl7-oru", b"PAT12345"), ("poct-hello", b"DOE^JOHN"),
               ("astm-header", b"DOE^JOHN"), ("sdc-hello", b"NURSE42"), ("dicom-associate", b"dr.house")]
    for name, secret in planted:
        assert any(secret in bytes(p) for p in CAPTURES[name]()), (name, secret)


def test_medical_detectors_do_not_claim_each_others_traffic() -> None:
    """Replaying each capture yields records of its own detector's kind only."""
    for name, build in CAPTURES.items():
        kinds = {o.kind for o in replay(build(), medical_detectors(), SimpleContext())}
        assert kinds <= {name.split("-")[0]}, (name, kinds)
