"""Every rule speaks French too (issue 19 item 6): title, description, rationale and remediation, the French
remediation with exactly the placeholders of the English one (both are filled from the same row)."""

from __future__ import annotations

import re

import pytest

from analyzer.rules import load_rules

RULES = load_rules()
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_its_french_texts(rule) -> None:  # type: ignore[no-untyped-def]
    for name in ("title", "description", "rationale", "remediation"):
        english, french = getattr(rule, name), getattr(rule, f"{name}_fr")
        if english:
            assert french.strip(), f"{rule.path}: {name}_fr missing"
            assert french != english, f"{rule.path}: {name}_fr is the English text"
    assert set(PLACEHOLDER.findall(rule.remediation_fr)) == set(PLACEHOLDER.findall(rule.remediation))


def test_findings_carry_the_french_recommendation() -> None:
    from analyzer.engine import fill

    rule = next(r for r in RULES if r.id == "flat-network")
    row = {"hostname": "CT-01", "mac": "00:1b:00:00:00:01", "role": "ct", "vlans": "110",
           "segment_neighbours": "PC-1"}
    assert fill(rule.remediation_fr, row).startswith("Séparez CT-01 (00:1b:00:00:00:01, ct, VLAN 110) de PC-1")
