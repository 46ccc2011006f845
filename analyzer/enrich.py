"""Vendor enrichment: the offline IEEE MAC block registries (rules/ieee_mac_blocks.tsv, analyzer.macs)
plus the alias table rules/vendors.yaml.

The registry gives an organisation name ("Philips Patient Monitoring"); the alias table maps it to a
manufacturer name used in reports (Philips) and flags medical manufacturers and the makers of
embedded radio/serial modules (Silex, Lantronix, Espressif...), whose OUI is a weak Wi-Fi hint.
Locally administered (randomised) MACs have no meaningful OUI and get no vendor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analyzer.macs import is_locally_administered, mac_registry, normalise_mac
from analyzer.paths import DataFileError
from analyzer.yamlload import load_file


@dataclass(frozen=True)
class VendorAlias:
    pattern: re.Pattern[str]
    name: str
    medical: bool = False
    radio_module: bool = False


@dataclass(frozen=True)
class VendorInfo:
    vendor: str | None
    oui_vendor: str | None
    medical: bool
    radio_module: bool


@lru_cache(maxsize=8)
def load_aliases(path: Path) -> tuple[VendorAlias, ...]:
    """Read rules/vendors.yaml (cached per path; the table is immutable)."""
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return tuple(
        VendorAlias(re.compile(str(v["match"]), re.IGNORECASE), str(v["name"]), bool(v.get("medical", False)),
                    bool(v.get("radio_module", False)))
        for v in data.get("vendors", [])
    )


@lru_cache(maxsize=4096)
def oui_org(mac: str) -> str | None:
    """IEEE registry organisation of the MAC's block (offline snapshot, longest prefix: MA-S/IAB 36 bits,
    then MA-M 28, then MA-L 24), None when unknown, randomised or not a MAC."""
    try:
        mac = normalise_mac(mac)
    except ValueError:
        return None
    if is_locally_administered(mac):
        return None
    return mac_registry().org(mac)


def vendor_of(mac: str, aliases: tuple[VendorAlias, ...]) -> VendorInfo:
    org = oui_org(mac)
    if org is None:
        return VendorInfo(None, None, False, False)
    # per alias table (kept alive here, so its id stays its own), per organisation
    cache = _VENDOR_CACHE.get(id(aliases))
    if cache is None or cache[0] is not aliases:
        if len(_VENDOR_CACHE) > 16:
            _VENDOR_CACHE.clear()
        cache = _VENDOR_CACHE[id(aliases)] = (aliases, {})
    info = cache[1].get(org)
    if info is None:
        info = cache[1][org] = _vendor_of_org(org, aliases)
    return info


_VENDOR_CACHE: dict[int, tuple[tuple[VendorAlias, ...], dict[str, VendorInfo]]] = {}


def _vendor_of_org(org: str, aliases: tuple[VendorAlias, ...]) -> VendorInfo:
    for alias in aliases:
        if alias.pattern.search(org):
            return VendorInfo(alias.name, org, alias.medical, alias.radio_module)
    return VendorInfo(org, org, False, False)


def alias_name(text: str | None, aliases: tuple[VendorAlias, ...]) -> VendorAlias | None:
    """The alias entry matching a free-text manufacturer (LLDP-MED, POCT, ASTM headers)."""
    if not text:
        return None
    for alias in aliases:
        if alias.pattern.search(text):
            return alias
    return None
