"""Shared fixtures: paths to the repo, the bundled captures and the real public captures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A fixed pseudonymisation key for the suite (never the key file of the person running it).
os.environ.setdefault("MEDTAP_PSEUDONYM_KEY", "medtap-test-suite-key")
# The CLI's tables as in a pipe (200 columns), whatever terminal, or none, the test workers have.
os.environ["COLUMNS"] = "200"


def _real_pcaps() -> Path:
    """../shared/pcaps/real beside the checkout; for a clone made elsewhere (the `mktemp -d` proof),
    MEDTAP_SHARED_PCAPS or the workplace's /work/shared/pcaps/real."""
    for candidate in (os.environ.get("MEDTAP_SHARED_PCAPS"), REPO / ".." / "shared" / "pcaps" / "real",
                      "/work/shared/pcaps/real"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    return (REPO / ".." / "shared" / "pcaps" / "real").resolve()


REAL_PCAPS = _real_pcaps()


def real_pcap(name: str) -> Path:
    """Path of a real public capture in ../shared/pcaps/real.

    In CI (env CI set) a missing file is a failure, never a skip: those captures are always there.
    """
    path = REAL_PCAPS / name
    if not path.is_file():
        from tests import needs

        needs.missing(f"real capture {path}", "../shared/pcaps/real beside the checkout")
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


SCORES_FILE = REPO / "tests" / "artifacts" / "demo-scores.txt"
"""The same table on disk: with several workers (pytest-xdist) the test runs in a worker, the summary here."""


def save_scores() -> None:
    SCORES_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCORES_FILE.write_text("\n".join(SCORES) + "\n", encoding="utf-8")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a plain run), before any worker tests
        SCORES_FILE.unlink(missing_ok=True)
        for path in SCORES_FILE.parent.glob("accuracy-*.txt"):
            path.unlink()


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    accuracy = sorted(SCORES_FILE.parent.glob("accuracy-*.txt")) if SCORES_FILE.parent.is_dir() else []
    if accuracy:  # tests/accuracy/test_hospitals.py: every demo hospital, tuned on or not
        write = terminalreporter.write_line  # type: ignore[attr-defined]
        write("")
        write("Precision and recall per rule on every demo hospital (tests/accuracy, make accuracy):")
        for path in accuracy:
            for line in path.read_text(encoding="utf-8").splitlines():
                write(line)
    lines = SCORES or (SCORES_FILE.read_text(encoding="utf-8").splitlines() if SCORES_FILE.is_file() else [])
    if lines:
        write = terminalreporter.write_line  # type: ignore[attr-defined]
        write("")
        write("Precision and recall of the rule catalogue on the demo hospital (pcaps/demo/expected.yaml):")
        for line in lines:
            write(line)
