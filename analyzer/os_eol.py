"""Operating-system end of support: rules/os_eol.yaml (vendor lifecycle dates with a reference).

An OS is end-of-life when its family matches and its version starts with an entry's version,
and the entry's end-of-support date is on or before the analysis date.  DHCP option 55
fingerprints (rules/os_fingerprints.yaml) give a weak OS guess when no other hint exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analyzer.paths import DataFileError
from analyzer.yamlload import load_file


@dataclass(frozen=True)
class EolEntry:
    family: str
    version: str
    eol: dt.date
    reference: str


@dataclass(frozen=True)
class DhcpFingerprint:
    fingerprint: str
    family: str
    version: str | None
    confidence: float


@lru_cache(maxsize=8)
def load_eol(path: Path) -> tuple[EolEntry, ...]:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return tuple(
        EolEntry(str(e["family"]), str(e["version"]), e["eol"] if isinstance(e["eol"], dt.date)
                 else dt.date.fromisoformat(str(e["eol"])), str(e.get("reference", "")))
        for e in data.get("os_eol", [])
    )


@lru_cache(maxsize=8)
def load_fingerprints(path: Path) -> tuple[DhcpFingerprint, ...]:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return tuple(
        DhcpFingerprint(str(e["fingerprint"]), str(e["family"]), None if e.get("version") is None
                        else str(e["version"]), float(e.get("confidence", 0.4)))
        for e in data.get("fingerprints", [])
    )


def eol_entry(family: str | None, version: str | None, table: tuple[EolEntry, ...],
              today: dt.date) -> EolEntry | None:
    """The most specific (longest version) entry matching family + version whose date has passed."""
    if not family or not version:
        return None
    best: EolEntry | None = None
    for e in table:
        if e.family.lower() != family.lower():
            continue
        v, ev = version.lower(), e.version.lower()
        exact = (v == ev or v.startswith(ev + ".") or v.startswith(ev + " ")
                 or (ev.endswith(".") and v.startswith(ev)))
        if exact and (best is None or len(e.version) > len(best.version)):
            best = e
    return best if best is not None and best.eol <= today else None
