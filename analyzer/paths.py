"""Where medtap finds its data files (rules, signatures, vendor tables): <repo>/rules unless MEDTAP_RULES_DIR
says."""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]


def rules_dir() -> Path:
    """The rules/ data folder (env MEDTAP_RULES_DIR overrides, for packaged or site-specific catalogues)."""
    return Path(os.environ.get("MEDTAP_RULES_DIR") or REPO_DIR / "rules")


RULES_DIR = rules_dir()
