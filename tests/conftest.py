"""Shared fixtures: paths to the repo, the bundled captures and the real public captures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
