"""MAC address helpers shared by the analyzer (no scapy)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_HEX = re.compile(r"[0-9a-fA-F]")


def normalise_mac(value: str) -> str:
    """Accept aa:bb:cc:dd:ee:ff, AA-BB-..., aabb.ccdd.eeff or 12 hex digits; return lower-case colon form."""
    digits = "".join(_HEX.findall(value))
    if len(digits) != 12 or len(digits) != len(re.sub(r"[:\-.\s]", "", value)):
        raise ValueError(f"not a MAC address: {value!r}")
    digits = digits.lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_locally_administered(mac: str) -> bool:
    """Bit 1 of the first octet: a randomised or locally assigned MAC, whose OUI means nothing."""
    return bool(int(mac[:2], 16) & 0x02)


def is_multicast(mac: str) -> bool:
    """Bit 0 of the first octet (includes broadcast)."""
    return bool(int(mac[:2], 16) & 0x01)


# --- IEEE MAC block registries (MA-L, MA-M, MA-S, IAB): longest-prefix organisation lookup ---------

REGISTRY_FILE = "ieee_mac_blocks.tsv"
"""The dated snapshot in the rules folder (collector.datafiles.registry_file); analyzer.oui_refresh
regenerates it."""

REGISTRY_MAX_AGE_DAYS = 180
"""Older than this, `medtap rules check` says the snapshot is stale (a warning, never a failure)."""

_BITS = {6: 24, 7: 28, 9: 36}


@dataclass(frozen=True)
class MacRegistry:
    """One snapshot: its data date and source, and per block width (36, 28, 24 bits) prefix -> org."""

    path: Path
    date: dt.date
    source: str
    blocks: dict[int, dict[int, str]]

    def org(self, mac: str) -> str | None:
        """Organisation of the longest registered block holding the MAC (lower-case colon form)."""
        value = int(mac.replace(":", ""), 16)
        for bits in (36, 28, 24):
            org = self.blocks[bits].get(value >> (48 - bits))
            if org is not None:
                return org
        return None

    def age_days(self, today: dt.date) -> int:
        return (today - self.date).days

    def staleness(self, today: dt.date, max_age_days: int = REGISTRY_MAX_AGE_DAYS) -> str | None:
        """A sentence when the snapshot is older than max_age_days on `today`, else None."""
        age = self.age_days(today)
        if age <= max_age_days:
            return None
        return (f"{self.path.name}: IEEE MAC block snapshot dated {self.date.isoformat()} is {age} days old "
                f"(stale after {max_age_days}); regenerate it with `python -m analyzer.oui_refresh`")


@lru_cache(maxsize=4)
def load_registry(path: Path) -> MacRegistry:
    """Read a snapshot written by analyzer.oui_refresh; DataFileError naming the file when it is invalid."""
    from analyzer.paths import DataFileError

    date: dt.date | None = None
    source = ""
    blocks: dict[int, dict[int, str]] = {36: {}, 28: {}, 24: {}}
    names: dict[str, str] = {}  # one string per organisation
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                if key.strip() == "snapshot-date":
                    try:
                        date = dt.date.fromisoformat(value.strip())
                    except ValueError:
                        raise DataFileError(f"{path}:{number}: snapshot-date is not a date: "
                                            f"{value.strip()!r}") from None
                elif key.strip() == "source":
                    source = value.strip()
                continue
            prefix, tab, org = line.rstrip("\n").partition("\t")
            bits = _BITS.get(len(prefix))
            if not tab or bits is None or not org:
                raise DataFileError(f"{path}:{number}: expected a 6, 7 or 9 hex digit block, a tab, "
                                    "an organisation")
            try:
                key_value = int(prefix, 16)
            except ValueError:
                raise DataFileError(f"{path}:{number}: {prefix!r} is not hexadecimal") from None
            blocks[bits][key_value] = names.setdefault(org, org)
    if date is None:
        raise DataFileError(f"{path}: no '# snapshot-date: YYYY-MM-DD' header line")
    return MacRegistry(path, date, source, blocks)


def mac_registry() -> MacRegistry:
    """The snapshot of the rules folder (or the one installed with medtap)."""
    from collector.datafiles import registry_file

    return load_registry(registry_file(REGISTRY_FILE))
