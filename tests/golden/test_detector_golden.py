"""Golden tests in the spirit of suricata-verify: a fixture capture in, expected observations out.

Each `tests/golden/detectors/<name>.yaml` names a capture and checks: `count` observations
(a record merged from several, collector.facts, counts for its `count`) matching `match` (partial, field equality; a list compares with the record's tuple), and
`absent_strings` that must appear nowhere in the JSON of the observations (patient data).
Every observation is also validated against the documented schema.  The detector fixture
generators (pcaps/fixtures/gen_{infra,medical,remote,wifi}.py) each give every capture a golden
file and every detector a positive and a negative capture; the patient data the absent-string
checks look for really is in the captures; medical detectors do not claim each other's traffic;
the Wi-Fi tunnel detectors hand their inner frames back to the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.schema import parse_observation
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "detectors"
CASES = sorted(GOLDEN.glob("*.yaml"))
DETECTOR_GENERATORS = ("gen_infra", "gen_medical", "gen_remote", "gen_wifi")
INFRA_PREFIXES = {"arp", "dhcp", "dns", "netbios", "ssdp", "lldp", "cdp", "http", "tls", "ssh", "smb", "snmp", "ntp",
                  "os-syn"}
MEDICAL_KINDS = {"dicom", "hl7", "sdc", "intellivue", "poct", "astm"}


def _captures(generator: str) -> dict[str, Any]:
    import importlib

    return dict(importlib.import_module(f"pcaps.fixtures.{generator}").CAPTURES)


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
    stats = replay([pcap], sink, key=TEST_KEY)
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
        # a record merged from identical observations (collector.facts) counts for as many
        found = [r for r in records if _matches(r, check["match"]) for _ in range(r.get("count", 1))]
        if "count" in check:
            assert len(found) == check["count"], f"{case.name}: {check['match']} -> {len(found)} records, want {check['count']}"
        if "min_count" in check:
            assert len(found) >= check["min_count"], f"{case.name}: {check['match']} -> {len(found)} records"
    blob = json.dumps(records)
    for secret in spec.get("absent_strings", []):
        assert secret not in blob, f"{case.name}: {secret!r} leaked into the observations"


@pytest.mark.parametrize("generator", DETECTOR_GENERATORS)
def test_every_fixture_capture_has_a_golden_file(generator: str) -> None:
    for name in _captures(generator):
        spec = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text(encoding="utf-8"))
        assert spec["pcap"] == f"pcaps/fixtures/{name}.pcap", name
        assert spec.get("checks"), name


def test_every_detector_has_a_positive_and_a_negative_capture() -> None:
    infra = _captures("gen_infra")
    prefixes = {n.rsplit("-", 1)[0] for n in infra if n.endswith("-negative")}
    assert prefixes >= INFRA_PREFIXES
    for prefix in prefixes:
        assert any(n.startswith(prefix) and not n.endswith("-negative") for n in infra), prefix
    medical = _captures("gen_medical")
    assert {n.split("-")[0] for n in medical} == MEDICAL_KINDS
    for kind in MEDICAL_KINDS:
        assert f"{kind}-negative" in medical


def test_patient_data_is_really_in_the_carriers() -> None:
    """The absent-string checks mean something only if the captures hold those strings."""
    planted = [("dicom-associate", b"DOE^JOHN"), ("hl7-oru", b"PAT12345"), ("poct-hello", b"DOE^JOHN"),
               ("astm-header", b"DOE^JOHN"), ("sdc-hello", b"NURSE42"), ("dicom-associate", b"dr.house")]
    for name, secret in planted:
        assert secret in (REPO / "pcaps" / "fixtures" / f"{name}.pcap").read_bytes(), (name, secret)
        spec = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text(encoding="utf-8"))
        assert secret.decode() in spec.get("absent_strings", []), (name, secret)


@pytest.mark.parametrize("name", sorted(_captures("gen_medical")))
def test_medical_detectors_do_not_claim_each_others_traffic(name: str) -> None:
    """Replaying a medical capture yields medical records of its own detector's kind only."""
    kinds = {r["kind"] for r in replay_observations(REPO / "pcaps" / "fixtures" / f"{name}.pcap")}
    assert kinds & MEDICAL_KINDS <= {name.split("-")[0]}, (name, kinds)


@pytest.mark.parametrize(("name", "tunnel", "linktypes"), [
    ("capwap-data", "capwap", {105, 1}), ("lwapp-data", "lwapp", {105}), ("aruba-gre", "aruba-gre", {105}),
])
def test_tunnel_captures_hand_inner_frames_back(name: str, tunnel: str, linktypes: set[int]) -> None:
    from tests.collector.replay_helpers import run

    inner = run(REPO / "pcaps" / "fixtures" / f"{name}.pcap").inner
    assert inner, name
    assert {t for _d, _l, t in inner} == {tunnel}
    assert {lt for _d, lt, _t in inner} == linktypes
    # the re-injected 802.11 frames have their Frame Control in standard order: a data frame, ToDS
    for data, linktype, _t in inner:
        if linktype == 105:
            assert (data[0] >> 2) & 3 == 2 and data[1] & 0x03 == 0x01, name
