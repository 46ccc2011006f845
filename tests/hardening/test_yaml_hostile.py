"""Hostile and ambiguous YAML (issue 18, items 11 and 13): every loader refuses with `file:line: reason`.

Alias bombs, recursive anchors, deep nesting, oversize files and impossible dates are refused
within a second and without a traceback; a duplicate key is refused instead of silently
keeping the last one; `19:00` reads as the string "19:00", not the base-60 integer 1140.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from analyzer.classify import load_roles
from analyzer.rules.loader import RuleError, load_rule_file
from analyzer.sheet_io import read_sheets
from analyzer.site import SiteError, load_site, parse_site
from api.web.i18n import load_catalogue
from collector import yamlsafe
from collector.protocols.dicom_sop import load_sop_table
from collector.protocols.signatures import SignatureFileError, load_signatures

REPO = Path(__file__).resolve().parents[2]

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
ZONE_TWICE_CIDRS = "site: x\nzones:\n  - name: a\n    kind: dm\n    cidrs: [10.0.0.0/24]\n    cidrs: [10.0.1.0/24]\n"


def _load_site_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.process_time()  # the work it costs, whatever else the machine is doing
    with pytest.raises(SiteError) as exc:
        load_site(path)
    assert time.process_time() - started < 1.0
    return str(exc.value)


def test_billion_laughs_refused_fast(tmp_path: Path) -> None:
    message = _load_site_text(tmp_path, LAUGHS)
    assert message.startswith(f"{tmp_path / 'site.yaml'}:")
    assert "aliases expand the document" in message


def test_recursive_anchor_refused_with_line(tmp_path: Path) -> None:
    message = _load_site_text(tmp_path, "site: x\nzones: &z\n  - *z\n")
    assert message == f"{tmp_path / 'site.yaml'}:2: not valid YAML: recursive alias (an anchor used inside itself)"


def test_recursive_merge_key_refused(tmp_path: Path) -> None:
    assert "recursive alias" in _load_site_text(tmp_path, "a: &m\n  b: 1\n  <<: *m\n")


def test_impossible_date_refused_with_line(tmp_path: Path) -> None:
    message = _load_site_text(tmp_path, "site: x\nexceptions:\n  - {rule: r, subject: s, expires: 2026-02-30}\n")
    assert message.startswith(f"{tmp_path / 'site.yaml'}:3: not valid YAML: invalid date '2026-02-30'")


@pytest.mark.parametrize("depth", [150, 5000])
def test_deep_nesting_refused(tmp_path: Path, depth: int) -> None:
    message = _load_site_text(tmp_path, "site: " + "[" * depth + "]" * depth + "\n")
    assert "nest" in message and "Traceback" not in message


def test_oversize_file_refused_before_parsing(tmp_path: Path) -> None:
    message = _load_site_text(tmp_path, "site: x\n# " + "x" * (yamlsafe.DEFAULT_LIMITS.max_bytes + 1) + "\n")
    assert message == f"{tmp_path / 'site.yaml'}:1: larger than {yamlsafe.DEFAULT_LIMITS.max_bytes} bytes"


def test_limits_are_configurable() -> None:
    text = "a: &a [1]\nb: [*a, *a, *a]\n"
    assert yamlsafe.safe_load(text) == {"a": [1], "b": [[1], [1], [1]]}
    with pytest.raises(yamlsafe.YamlRefused, match="more than 2 alias uses"):
        yamlsafe.safe_load(text, yamlsafe.Limits(max_aliases=2))
    with pytest.raises(yamlsafe.YamlRefused, match="nested deeper than 2 levels"):
        yamlsafe.safe_load(text, yamlsafe.Limits(max_depth=2))
    with pytest.raises(yamlsafe.YamlRefused, match="larger than 10 bytes"):
        yamlsafe.safe_load(text, yamlsafe.Limits(max_bytes=10))


def test_duplicate_key_refused_in_site_policy() -> None:
    with pytest.raises(SiteError) as exc:
        parse_site(ZONE_TWICE_CIDRS, "site.yaml")
    assert str(exc.value) == "site.yaml:6: not valid YAML: duplicate key 'cidrs' (first at line 5)"


def test_duplicate_key_in_a_flow_mapping_and_merge_keys_still_allowed() -> None:
    with pytest.raises(yamlsafe.YamlRefused, match=r"duplicate key 'a' \(first at line 1\)"):
        yamlsafe.safe_load("{a: 1, a: 2}\n")
    # an explicit key overriding a merged one is what merge keys are for
    assert yamlsafe.safe_load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n")["d"] == {"x": 1, "y": 3}


def test_times_are_strings_other_scalars_unchanged() -> None:
    data = yamlsafe.safe_load("t: 19:00\nu: 1:20:30.5\ni: 1_000\nh: 0x1f\no: 017\nf: 1.5\ne: 1e3\n"
                              "inf: .inf\nb: yes\nd: 2026-03-02\nn: ~\n")
    assert data["t"] == "19:00" and data["u"] == "1:20:30.5"
    assert (data["i"], data["h"], data["o"], data["f"], data["inf"], data["b"]) == (1000, 31, 15, 1.5, float("inf"), True)
    assert data["e"] == "1e3" == yaml.safe_load("e: 1e3\n")["e"]  # YAML 1.1 needs a dot: unchanged
    assert str(data["d"]) == "2026-03-02" and data["n"] is None


def test_unquoted_window_time_in_site_policy() -> None:
    site = parse_site("maintenance:\n  gateways:\n    - name: g\n      window: {start: 07:00, end: 19:00}\n")
    window = site.maintenance.gateways[0].window
    assert window is not None and (window.start, window.end) == ("07:00", "19:00")


def test_duplicate_key_refused_by_every_loader(tmp_path: Path) -> None:
    """Rules, signatures, data tables, sheets and locales all read through the strict loader."""
    dup = "a: 1\na: 2\n"
    rule = tmp_path / "rules" / "x" / "r.yaml"
    rule.parent.mkdir(parents=True)
    rule.write_text("id: r\n" + dup)
    with pytest.raises(RuleError, match=r"r\.yaml:3: not valid YAML: duplicate key 'a'"):
        load_rule_file(rule)
    sigs = tmp_path / "signatures"
    sigs.mkdir()
    (sigs / "s.yaml").write_text("signatures: []\n" + dup)
    with pytest.raises(SignatureFileError, match=r"s\.yaml:3: duplicate key 'a'"):
        load_signatures(sigs)
    table = tmp_path / "sop.yaml"
    table.write_text("classes: {}\n" + dup)
    with pytest.raises(ValueError, match=r"sop\.yaml:3: duplicate key 'a'"):
        load_sop_table(table)
    roles = tmp_path / "classification.yaml"
    roles.write_text(dup)
    with pytest.raises(ValueError, match=r"classification\.yaml:2: duplicate key 'a'"):
        load_roles(roles)
    (tmp_path / "en.yaml").write_text(dup)
    with pytest.raises(ValueError, match=r"en\.yaml:2: duplicate key 'a'"):
        load_catalogue("en", tmp_path)
    result = read_sheets("sheets:\n  - id: S1\n    id: S2\n", fmt="yaml")
    assert [(e.line, e.reason) for e in result.errors] == [(3, "not valid yaml: duplicate key 'id' (first at line 2)")]


def test_project_yaml_files_still_load() -> None:
    """No shipped file relied on a duplicate key or a base-60 number."""
    for path in sorted(REPO.glob("rules/**/*.yaml")) + sorted(REPO.glob("pcaps/**/*.yaml")) \
            + sorted(REPO.glob("api/web/locales/*.yaml")):
        assert yamlsafe.load_file(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path
