"""Where medtap's data files live (rule catalogue, signatures, vendor, OS and DICOM tables): one place.

The `rules` folder is package data: installed with medtap (a plain `pip install .` or the Docker
image works from any folder), found through the `rules` package; `MEDTAP_RULES_DIR` points at
another folder (a site's own catalogue).  Every table medtap needs must be there: a missing one
is an error naming the file, never a silently empty table.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

RULES_ENV = "MEDTAP_RULES_DIR"


class DataFileError(ValueError):
    """A data table is missing or invalid; the message names the file."""


def rules_dir() -> Path:
    """The rules folder: MEDTAP_RULES_DIR, else the installed `rules` package (the repository's rules/)."""
    override = os.environ.get(RULES_ENV)
    if override:
        return Path(override)
    return packaged_rules_dir()


def data_file(name: str) -> Path:
    """A required data table of the rules folder (e.g. "vendors.yaml"); DataFileError when it is missing."""
    path = rules_dir() / name
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (reinstall medtap, or set {RULES_ENV} "
                            f"to a rules folder that has it)")
    return path


REQUIRED = ("vendors.yaml", "os_eol.yaml", "os_fingerprints.yaml", "classification.yaml", "endpoints.yaml",
            "dicom_sop_classes.yaml", "signatures/remote_access.yaml")
"""Tables every replay, capture and analysis needs (the rule files themselves are checked by their loader)."""


def require_data_files() -> Path:
    """Check at start that every required table is there; the rules folder, or DataFileError naming the
    file."""
    for name in REQUIRED:
        data_file(name)
    return rules_dir()


@lru_cache(maxsize=1)
def packaged_rules_dir() -> Path:
    """The rules folder installed with medtap (the repository's rules/), whatever MEDTAP_RULES_DIR says.

    Found once per process: resolving it costs ~25 us, and detectors ask for their tables per decode
    (collector.protocols.dicom_sop on every DICOM association)."""
    try:
        import rules
    except ImportError:  # not installed: running from a source checkout
        return Path(__file__).resolve().parents[1] / "rules"
    return Path(rules.__file__).resolve().parent


def registry_file(name: str) -> Path:
    """A reference registry (e.g. the IEEE MAC block snapshot "ieee_mac_blocks.tsv"): the rules folder's
    copy when it has one (a site may ship a fresher snapshot), else the one installed with medtap, so a
    site's own rules folder need not copy the registries; DataFileError when neither has it."""
    for folder in (rules_dir(), packaged_rules_dir()):
        path = folder / name
        if path.is_file():
            return path
    raise DataFileError(f"{rules_dir() / name}: data table missing (reinstall medtap, or set {RULES_ENV} "
                        f"to a rules folder that has it)")
