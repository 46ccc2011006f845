"""Vendor enrichment: the offline IEEE OUI registry (netaddr) plus the alias table rules/vendors.yaml.

The registry gives an organisation name ("Philips Patient Monitoring"); the alias table maps it to a
manufacturer name used in reports (Philips) and flags medical manufacturers and the makers of
embedded radio/serial modules (Silex, Lantronix, Espressif...), whose OUI is a weak Wi-Fi hint.
Locally administered (randomised) MACs have no meaningful OUI and get no vendor.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import netaddr

from analyzer.macs import is_locally_administered
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
    """IEEE registry organisation of the MAC's OUI (offline), None when unknown or randomised."""
    if is_locally_administered(mac):
        return None
    index = _oui_index() if _MAC48.fullmatch(mac) else None
    if index is not None:
        entry = index.get(int(mac[0:2] + mac[3:5] + mac[6:8], 16))
        return None if entry is None else _oui_record_org(*entry)
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip() or None
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, ValueError):
        return None


_MAC48 = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_OUI_INDEX_LINE = re.compile(rb"^(\d+),(\d+),(\d+)\s*$", re.MULTILINE)


@lru_cache(maxsize=1)
def _oui_index() -> dict[int, tuple[int, int]] | None:
    """netaddr's OUI index (OUI -> offset and size of its first record in oui.txt), read in one pass.

    netaddr's own loader takes 0.15 s on first use (csv module, every line); the registry and its
    records are the same, so the organisation names are too.  None when the files cannot be read
    (netaddr is then asked directly).
    """
    try:
        data = (importlib.resources.files("netaddr.eui") / "oui.idx").read_bytes()
    except (OSError, ModuleNotFoundError):
        return None
    index: dict[int, tuple[int, int]] = {}
    for key, offset, size in _OUI_INDEX_LINE.findall(data):
        index.setdefault(int(key), (int(offset), int(size)))
    return index


@lru_cache(maxsize=4096)
def _oui_record_org(offset: int, size: int) -> str | None:
    """The organisation of the oui.txt record at offset (parsed as netaddr.eui.OUI does)."""
    with (importlib.resources.files("netaddr.eui") / "oui.txt").open("rb") as fh:
        fh.seek(offset)
        data = fh.read(size).decode("UTF-8")
    org = ""
    try:
        for line in data.split("\n"):
            line = line.strip()
            if line and "(hex)" in line:
                org = line.split(None, 2)[2]
    except IndexError:
        return None
    return org.strip() or None


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
