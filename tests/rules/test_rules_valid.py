"""Every rule file loads, compiles against its subject's fields, and passes the catalogue validators;
the loader refuses broken rules naming the file, line and reason."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from analyzer.rules import RuleError, load_rule_file, load_rules
from analyzer.rules.loader import rule_files
from analyzer.rules.validators import validate

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"
CATALOGUE = ["dm-on-wifi", "flat-network", "cross-zone-flow", "dm-internet", "remote-access-unapproved",
             "cleartext-admin", "cleartext-medical", "legacy-smb1", "obsolete-os", "mac-multi-vlan",
             "unmanaged-switch", "rogue-dhcp", "new-device", "new-conversation", "table-overflow"]


@pytest.mark.parametrize("path", rule_files(RULES_DIR), ids=lambda p: p.stem)
def test_rule_file_loads(path: Path) -> None:
    rule = load_rule_file(path)
    assert rule.id == path.stem
    assert validate([rule]) == []
    for test_path in rule.tests.positive + rule.tests.negative:
        assert test_path.startswith("pcaps/fixtures/rule-"), test_path


def test_catalogue_complete() -> None:
    ids = {r.id for r in load_rules(RULES_DIR)}
    assert set(CATALOGUE) <= ids


GOOD = """id: {id}
title: T
severity: low
service: it
match:
  subject: device
  where:
    {where}
tests: {{positive: [a.pcap], negative: [b.pcap]}}
playbook: Do this first.
playbook_fr: Faire ceci d'abord.
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    area = tmp_path / "area"
    area.mkdir(exist_ok=True)
    path = area / f"{name}.yaml"
    if "uid:" not in text and text.startswith("id:") and text.endswith("\n"):  # every rule needs one; last
        text += f"uid: {uuid.uuid5(uuid.NAMESPACE_URL, name)}\n"  # line, so the tests' line numbers hold
    path.write_text(text)
    return path


def test_unknown_field_refused_with_line(tmp_path: Path) -> None:
    _write(tmp_path, "x", GOOD.format(id="x", where="is_dmm: true"))
    with pytest.raises(RuleError, match=r"x\.yaml:8: match\.where\.is_dmm: unknown field 'is_dmm'"):
        load_rules(tmp_path)


def test_unknown_modifier_refused(tmp_path: Path) -> None:
    _write(tmp_path, "x", GOOD.format(id="x", where="vlan_count|bigger: 1"))
    with pytest.raises(RuleError, match=r"x\.yaml:8: .*unknown modifier 'bigger'"):
        load_rules(tmp_path)


def test_unknown_subject_and_bad_severity(tmp_path: Path) -> None:
    _write(tmp_path, "x", GOOD.format(id="x", where="a: 1").replace("subject: device", "subject: nothing"))
    _write(tmp_path, "y", GOOD.format(id="y", where="is_dm: true").replace("severity: low", "severity: huge"))
    with pytest.raises(RuleError) as exc:
        load_rules(tmp_path)
    assert "x.yaml:6: match.subject: unknown subject 'nothing'" in str(exc.value)
    assert "y.yaml:3: severity:" in str(exc.value)


def test_validators(tmp_path: Path) -> None:
    _write(tmp_path, "wrong-name", GOOD.format(id="other", where="is_dm: true"))
    high = GOOD.format(id="h", where="is_dm: true").replace("severity: low", "severity: high")
    _write(tmp_path, "h", high.replace("tests: {positive: [a.pcap], negative: [b.pcap]}", "tests: {positive: [a.pcap]}"))
    with pytest.raises(RuleError) as exc:
        load_rules(tmp_path)
    text = str(exc.value)
    assert "file name must be the rule id (other.yaml)" in text
    assert "h.yaml: a high rule needs at least one reference" in text
    assert "h.yaml: tests need at least one positive and one negative capture" in text


def test_duplicate_ids(tmp_path: Path) -> None:
    _write(tmp_path, "d", GOOD.format(id="d", where="is_dm: true"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "d.yaml").write_text(GOOD.format(id="d", where="is_dm: true")
                                             + "uid: 00000000-0000-4000-8000-000000000001\n")
    with pytest.raises(RuleError, match="duplicate rule id 'd'"):
        load_rules(tmp_path)


def test_invalid_yaml(tmp_path: Path) -> None:
    _write(tmp_path, "b", "id: b\ntitle: [unclosed\n")
    with pytest.raises(RuleError, match=r"b\.yaml:\d+: not valid YAML"):
        load_rules(tmp_path)


def test_a_rule_without_a_playbook_is_refused(tmp_path: Path) -> None:
    text = GOOD.format(id="x", where="is_dm: true").replace("playbook_fr: Faire ceci d'abord.\n", "")
    _write(tmp_path, "x", text)
    with pytest.raises(RuleError, match=r"x\.yaml: a rule needs a first-response `playbook`"):
        load_rules(tmp_path)


def test_every_rule_carries_its_playbook_onto_its_findings() -> None:
    """The engine copies the rule's first response onto each finding (API and UI show it from there)."""
    for rule in load_rules(RULES_DIR):
        assert rule.playbook.strip() and rule.playbook_fr.strip(), rule.id
