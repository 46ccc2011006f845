"""YAML with line numbers: libyaml when present, the same data and lines, the pure parser's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analyzer import yamlload
from collector import yamlsafe

REPO = Path(__file__).resolve().parents[2]


def _pure(text: str) -> tuple[object, dict[yamlload.Loc, int]]:
    data, node = yamlsafe._load(yamlsafe.StrictLoader(text), yamlsafe.DEFAULT_LIMITS)
    lines: dict[yamlload.Loc, int] = {}
    if node is not None:
        yamlload._walk(node, (), lines)
    return data, lines


def test_libyaml_parses_when_pyyaml_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # it once looked for CParser on `yaml`, which does not export it: every rule file went through the
    # pure-Python parser (0.4 s of each command's start-up) and the comparison below compared it with itself
    assert yaml.__with_libyaml__ and yamlsafe.StrictCLoader is not None
    used: list[str] = []
    real = yamlsafe._load

    def spy(loader: object, limits: yamlsafe.Limits) -> object:
        used.append(type(loader).__name__)
        return real(loader, limits)

    monkeypatch.setattr(yamlsafe, "_load", spy)
    yamlsafe.safe_load("a: 1\n")
    assert used == ["StrictCLoader"]


def test_same_data_and_lines_as_the_pure_parser() -> None:
    files = sorted(REPO.glob("rules/**/*.yaml")) + sorted(REPO.glob("pcaps/**/*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert yamlload.load_with_lines(text) == _pure(text), path
        assert yamlload.safe_load(text) == yaml.safe_load(text), path


@pytest.mark.parametrize("text", ["a: b: c\n", "zones:\n  - name: x\n   kind: dm\n", "a: [1, 2\n", "\tzones: []\n"])
def test_errors_are_the_pure_parsers(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as fast:
        yamlload.load_with_lines(text)
    with pytest.raises(yaml.YAMLError) as pure:
        _pure(text)
    assert str(fast.value) == str(pure.value)
    with pytest.raises(yaml.YAMLError) as fast_plain:
        yamlload.safe_load(text)
    with pytest.raises(yaml.YAMLError) as pure_plain:
        yaml.safe_load(text)
    assert str(fast_plain.value) == str(pure_plain.value)
