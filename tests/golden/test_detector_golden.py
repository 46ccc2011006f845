"""Golden tests in the spirit of suricata-verify: a fixture capture in, expected observations out.

Each `tests/golden/detectors/<name>.yaml` names a capture and checks: `count` observations
matching `match` (partial, field equality; a list compares with the record's tuple), and
`absent_strings` that must appear nowhere in the JSON of the observations (patient data).
Every observation is also validated against the documented schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.schema import parse_observation

REPO = Path(__file__).resolve().parents[2]
CASES = sorted((REPO / "tests" / "golden" / "detectors").glob("*.yaml"))


def _matches(record: dict[str, Any], match: dict[str, Any]) -> bool:
    for key, want in match.items():
        have = record.get(key, None)
        if isinstance(want, list):
            want = list(want)
            have = list(have) if isinstance(have, (list, tuple)) else have
        if have != want:
            return False
    return True


def replay_observations(pcap: Path) -> list[dict[str, Any]]:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    stats = replay([pcap], sink)
    records = [o.model_dump(mode="json") for o in sink.observations]
    records.append(stats.model_dump(mode="json"))
    return records


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_detector_golden(case: Path) -> None:
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    pcap = REPO / spec["pcap"]
    assert pcap.is_file(), f"{case.name}: capture {spec['pcap']} missing (run `make samples`)"
    records = replay_observations(pcap)
    for record in records:
        parse_observation(record)  # every output conforms to the documented schema
    for check in spec.get("checks", []):
        found = [r for r in records if _matches(r, check["match"])]
        if "count" in check:
            assert len(found) == check["count"], f"{case.name}: {check['match']} -> {len(found)} records, want {check['count']}"
        if "min_count" in check:
            assert len(found) >= check["min_count"], f"{case.name}: {check['match']} -> {len(found)} records"
    blob = json.dumps(records)
    for secret in spec.get("absent_strings", []):
        assert secret not in blob, f"{case.name}: {secret!r} leaked into the observations"
