"""Vendor enrichment: the OUI registry read directly gives netaddr's organisation names."""

from __future__ import annotations

import netaddr

from analyzer.enrich import _oui_index, oui_org
from analyzer.macs import is_locally_administered


def _netaddr_org(mac: str) -> str | None:
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip() or None
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, ValueError):
        return None


def test_direct_registry_lookup_matches_netaddr() -> None:
    index = _oui_index()
    assert index is not None and len(index) > 10_000
    keys = sorted(index)[::97] + [0x000000, 0x00095B, 0x0050C2, 0x123456, 0xFCFFFE]
    checked = 0
    for key in keys:
        mac = ":".join(f"{b:02x}" for b in (key >> 16, (key >> 8) & 0xFF, key & 0xFF, 0x12, 0x34, 0x56))
        if is_locally_administered(mac):
            continue
        assert oui_org.__wrapped__(mac) == _netaddr_org(mac), mac
        checked += 1
    assert checked > 100


def test_other_spellings_still_go_through_netaddr() -> None:
    assert oui_org("00-09-FB-20-00-50") == _netaddr_org("00-09-FB-20-00-50") == oui_org("00:09:fb:20:00:50")
    assert oui_org("02:00:00:00:00:01") is None  # locally administered
