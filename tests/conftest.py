"""Shared fixtures: paths to the repo, the bundled captures and the real public captures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A fixed pseudonymisation key for the suite (never the key file of the person running it).
os.environ.setdefault("MEDTAP_PSEUDONYM_KEY", "medtap-test-suite-key")
REAL_PCAPS = (REPO / ".." / "shared" / "pcaps" / "real").resolve()


def real_pcap(name: str) -> Path:
    """Path of a real public capture in ../shared/pcaps/real.

    In CI (env CI set) a missing file is a failure, never a skip: those captures are always there.
    """
    path = REAL_PCAPS / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"real capture {path} is missing in CI")
        pytest.skip(f"real capture {path} not available")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite golden files from the current output.")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


SCORES: list[str] = []
"""Lines of the precision/recall table, filled by tests/golden/test_demo.py, printed at the end of the run."""


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    if SCORES:
        write = terminalreporter.write_line  # type: ignore[attr-defined]
        write("")
        write("Precision and recall of the rule catalogue on the demo hospital (pcaps/demo/expected.yaml):")
        for line in SCORES:
            write(line)
