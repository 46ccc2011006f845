"""Catalogue-level checks on loaded rules: unique ids and uids, file name = id, references for high
and critical rules, fixture tests listed (one positive, one negative).  Each returns error strings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analyzer.rules.schema import Rule


def unique_ids(rules: Sequence[Rule]) -> list[str]:
    seen: dict[str, str] = {}
    errors: list[str] = []
    for r in rules:
        if r.id in seen:
            errors.append(f"{r.path}: duplicate rule id {r.id!r} (also in {seen[r.id]})")
        seen.setdefault(r.id, r.path)
    return errors


def unique_uids(rules: Sequence[Rule]) -> list[str]:
    """A uid names one rule for ever: two files with the same one (a copied rule) are refused."""
    seen: dict[str, str] = {}
    errors: list[str] = []
    for r in rules:
        if r.uid in seen:
            errors.append(f"{r.path}: duplicate rule uid {r.uid} (also in {seen[r.uid]}); a new rule needs "
                          "a new one: python3 -c 'import uuid; print(uuid.uuid4())'")
        seen.setdefault(r.uid, r.path)
    return errors


def filename_is_id(rules: Sequence[Rule]) -> list[str]:
    return [f"{r.path}: file name must be the rule id ({r.id}.yaml)" for r in rules
            if Path(r.path).stem != r.id]


def references_for_severe(rules: Sequence[Rule]) -> list[str]:
    return [f"{r.path}: a {r.severity} rule needs at least one reference" for r in rules
            if r.severity in ("high", "critical") and not r.references]


def tests_present(rules: Sequence[Rule]) -> list[str]:
    """Capture-driven rules list fixture captures; `sheet` rules compare declarations and are unit-tested."""
    return [f"{r.path}: tests need at least one positive and one negative capture" for r in rules
            if r.status != "deprecated" and r.match.subject != "sheet"
            and (not r.tests.positive or not r.tests.negative)]


def playbook_present(rules: Sequence[Rule]) -> list[str]:
    """Every active rule says what to do first, in English and French (shown on its findings)."""
    return [f"{r.path}: a rule needs a first-response `playbook` and `playbook_fr`" for r in rules
            if r.status != "deprecated" and (not r.playbook.strip() or not r.playbook_fr.strip())]


def validate(rules: Sequence[Rule]) -> list[str]:
    return (unique_ids(rules) + unique_uids(rules) + filename_is_id(rules) + references_for_severe(rules)
            + tests_present(rules) + playbook_present(rules))
