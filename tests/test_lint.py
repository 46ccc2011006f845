"""`make test` includes the linters: ruff and mypy must be clean on collector/, analyzer/, store/ and api/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["collector", "analyzer", "store", "api"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args, *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_ruff_clean() -> None:
    result = _run("ruff", "check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
