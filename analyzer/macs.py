"""MAC address helpers shared by the analyzer (no scapy)."""

from __future__ import annotations

import re

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
