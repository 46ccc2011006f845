"""One guard for "this test needs tool X": skipped on a developer's machine without it, a failure in CI.

CI (`.ci/run` sets CI=1) has every tool and service the suite uses, so a missing one there is a broken
build, never a quietly skipped test.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def missing(what: str, how: str) -> NoReturn:
    """Fail in CI, skip elsewhere: `what` is missing, `how` says how to get it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI ({how})")
    pytest.skip(f"{what} not available ({how})")


def tool(name: str, package: str | None = None) -> str:
    """The path of an executable the test needs (Debian `package`, default the same name)."""
    path = shutil.which(name)
    if path is None:
        missing(name, f"apt-get install {package or name}")
    return path


def postgres(url: str) -> None:
    """The PostgreSQL server at `url` answers."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL at {url.split('@')[-1]}", f"start it: {exc}".splitlines()[0])
