"""Checks that a demo hospital's truth (expected.yaml) is coherent with its sheets and the rule catalogue.

One definition for every hospital: each expected subject names a device the truth lists, or a sheet of
the hospital's sheets.csv, under a rule that exists; no subject is also listed as normal traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def assert_truth_coherent(folder: Path, expected: dict[str, Any], *, sheet_prefix: str, min_sheets: int) -> None:
    from analyzer.sheet_io import read_sheets

    parsed = read_sheets((folder / "sheets.csv").read_bytes(), fmt="csv")
    assert parsed.errors == [] and len(parsed.sheets) >= min_sheets
    sheet_ids = {s.id for s in parsed.sheets}
    for rule, spec in expected["rules"].items():
        assert list(ROOT.glob(f"rules/**/{rule}.yaml")), rule
        for subject in spec["subjects"]:
            if subject.count(":") == 5:
                assert subject in expected["devices"], (rule, subject)
            elif subject.startswith(sheet_prefix):
                assert subject.split("|")[0] in sheet_ids, (rule, subject)
    fired = {s for spec in expected["rules"].values() for s in spec["subjects"]}
    assert fired & set(expected["normal"]) == set()
