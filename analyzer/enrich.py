"""Vendor enrichment: the offline IEEE OUI registry (netaddr) plus the alias table rules/vendors.yaml.

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

import netaddr
import yaml

from analyzer.macs import is_locally_administered


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
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip() or None
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, ValueError):
        return None


def vendor_of(mac: str, aliases: tuple[VendorAlias, ...]) -> VendorInfo:
    org = oui_org(mac)
    if org is None:
        return VendorInfo(None, None, False, False)
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
