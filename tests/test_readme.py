"""The README is for users: it starts with the two commands and its rule catalogue is complete."""

from __future__ import annotations

from analyzer.rules import load_rules
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:800]
    assert "make run" in head and "make test" in head


def test_ci_calls_the_readme_test_command() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_every_rule_is_in_the_readme_catalogue() -> None:
    missing = [r.id for r in load_rules() if f"| `{r.id}` |" not in README]
    assert not missing, f"rules missing from the README catalogue: {missing}"
