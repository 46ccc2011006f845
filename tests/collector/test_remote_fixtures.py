"""The remote-access and Wi-Fi fixture captures against their golden files, through the detectors alone.

tests/golden/test_detector_golden.py replays the same captures through the full pipeline; this
test checks the remote/Wi-Fi part of those expectations with the stand-in deep path of
tests/collector/remote_replay.py, so the golden files are proven before the pipeline runs.
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
from pcaps.fixtures import gen_remote, gen_wifi
from tests.collector.remote_replay import replay

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "detectors"
CAPTURES = {**gen_remote.CAPTURES, **gen_wifi.CAPTURES}
MY_KINDS = {"remote_access", "wifi"}


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
    ctx = SimpleContext()
    records = [o.model_dump(mode="json") for o in replay(list(rdpcap(str(path))), None, ctx)]
    for record in records:
        parse_observation(record)
    for check in spec["checks"]:
        assert check["match"].get("kind") in MY_KINDS
        found = [r for r in records if _matches(r, check["match"])]
        if "count" in check:
            assert len(found) == check["count"], (check["match"], records)
        if "min_count" in check:
            assert len(found) >= check["min_count"], (check["match"], records)
    blob = json.dumps(records)
    for secret in spec.get("absent_strings", []):
        assert secret not in blob


def test_every_capture_is_deterministic() -> None:
    for name, build in CAPTURES.items():
        first, second = build(), build()
        assert [bytes(p) for p in first] == [bytes(p) for p in second], name
        assert [float(p.time) for p in first] == [float(p.time) for p in second], name


def test_tunnel_captures_hand_inner_frames_back() -> None:
    for name, tunnel, linktypes in (("capwap-data", "capwap", {105, 1}), ("lwapp-data", "lwapp", {105}),
                                    ("aruba-gre", "aruba-gre", {105})):
        ctx = SimpleContext()
        replay(CAPTURES[name](), None, ctx)
        assert ctx.inner, name
        assert {t for _d, _l, t in ctx.inner} == {tunnel}
        assert {lt for _d, lt, _t in ctx.inner} == linktypes
        # the re-injected 802.11 frames have their Frame Control in standard order: a data frame, ToDS
        for data, linktype, _t in ctx.inner:
            if linktype == 105:
                assert (data[0] >> 2) & 3 == 2 and data[1] & 0x03 == 0x01, name
