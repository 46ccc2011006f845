"""Passive OS hints: the first TCP SYN (initial TTL, window, option layout), NTLM versions, User-Agents.

The SYN heuristic follows p0f v3 in spirit, much coarser: the initial TTL is the next of 64, 128,
255 above the observed TTL (<= 64 Linux/Unix/macOS/embedded, <= 128 Windows, <= 255 network gear
or Solaris); the option layout refines it (Windows: MSS,NOP,WS,NOP,NOP,SACK; Linux: MSS,SACK,TS,
NOP,WS; macOS/iOS: MSS,NOP,WS,NOP,NOP,TS,SACK,EOL).  Confidence stays low (0.3-0.5).
`ntlm_os()` maps an NTLMSSP version (MS-NLMP 2.2.2.10) and `ua_os()` a User-Agent to a hint with
a higher confidence, for smb.py and http.py.
"""

from __future__ import annotations

import re

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import OsHint

# Validation skipped for the SYN hint: its fields are the packet's text addresses and constants of the
# right types; tests/golden re-validates every record through the schema.
_os_hint = _fast_env(OsHint)

OPT_NAMES = {0: "EOL", 1: "NOP", 2: "MSS", 3: "WS", 4: "SACK", 5: "SACKB", 8: "TS"}
LAYOUTS: dict[tuple[str, ...], str] = {
    ("MSS", "NOP", "WS", "NOP", "NOP", "SACK"): "Windows",
    ("MSS", "NOP", "WS", "SACK", "TS"): "Windows",
    ("MSS", "NOP", "NOP", "SACK"): "Windows",
    ("MSS", "SACK", "TS", "NOP", "WS"): "Linux",
    ("MSS", "NOP", "NOP", "SACK", "NOP", "WS"): "Linux",
    ("MSS", "NOP", "WS", "NOP", "NOP", "TS", "SACK", "EOL"): "macOS",
    ("MSS", "NOP", "WS", "NOP", "NOP", "TS", "SACK", "EOL", "EOL"): "macOS",
}
NTLM_VERSIONS = {
    (5, 0): "2000",
    (5, 1): "XP",
    (5, 2): "XP/2003",
    (6, 0): "Vista/2008",
    (6, 1): "7",
    (6, 2): "8/2012",
    (6, 3): "8.1/2012R2",
    (10, 0): "10/11/2016+",
}
UA_WINDOWS = {
    "5.0": "2000",
    "5.1": "XP",
    "5.2": "XP/2003",
    "6.0": "Vista",
    "6.1": "7",
    "6.2": "8",
    "6.3": "8.1",
    "10.0": "10/11",
}
UA_WINDOWS_RE = re.compile(r"Windows NT (\d+\.\d+)")
UA_PATTERNS = (
    (re.compile(r"Android (\d+(?:\.\d+)?)"), "Android"),
    (re.compile(r"(?:iPhone|iPad).*? OS (\d+)[_.]"), "iOS"),
    (re.compile(r"Mac OS X (\d+[_.]\d+)"), "macOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Linux"), "Linux"),
)


def option_layout(options: bytes) -> tuple[str, ...]:
    """Option kinds in wire order (unknown kinds as 'K<n>'); stops at a malformed length."""
    out: list[str] = []
    i = 0
    while i < len(options):
        kind = options[i]
        out.append(OPT_NAMES.get(kind, f"K{kind}"))
        if kind in (0, 1):
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break
        i += options[i + 1]
    return tuple(out)


def ttl_family(ttl: int) -> tuple[str, int]:
    """(family guess, initial TTL bucket) from an observed TTL."""
    if ttl <= 64:
        return "Linux/Unix", 64
    if ttl <= 128:
        return "Windows", 128
    return "network-device", 255


def syn_hint(ttl: int | None, window: int | None, options: bytes) -> tuple[str, float] | None:
    """(family, confidence) for a SYN, or None without a TTL."""
    if ttl is None:
        return None
    family, initial = ttl_family(ttl)
    layout = option_layout(options)
    by_layout = LAYOUTS.get(layout)
    if by_layout is None:
        return family, 0.3
    consistent = (by_layout == "Windows") == (initial == 128) and initial != 255
    if consistent:
        return by_layout, 0.5
    return family, 0.3


def decode(pkt: Packet, ctx: DecodeContext) -> list[OsHint]:
    """One OsHint about the SYN sender."""
    hint = syn_hint(pkt.ip_ttl, pkt.tcp_window, pkt.tcp_options)
    if hint is None:
        return []
    family, confidence = hint
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return [
        _os_hint(
            envelope,
            mac=pkt.src_mac,
            ip=pkt.src_ip,
            method="tcp-syn",
            family=family,
            confidence=confidence,
        )
    ]


WINDOWS_10_CLIENT_BUILDS = frozenset({10240, 10586, 15063, 16299, 17134, 18362, 18363, 19041, 19042, 19043,
                                      19044, 19045})
"""Windows 10 builds that no Windows Server shares (14393 is also Server 2016, 17763 Server 2019)."""
WINDOWS_SERVER_ONLY_BUILDS = {20348: "Server 2022"}
WINDOWS_SHARED_BUILDS = frozenset({14393, 17763, 26100})
"""Builds of both a client and a server release (26100: Windows 11 24H2 and Server 2025): NTLM cannot tell
them apart, so the version stays generic and no end-of-support date is assumed."""


def ntlm_os(major: int, minor: int, build: int) -> tuple[str, str | None]:
    """(family, version) from an NTLMSSP version structure (MS-NLMP 2.2.2.10) or a browser announcement.

    Windows 10, 11 and Server 2016+ all say 10.0: the build tells them apart where only one release has
    it, and is kept in the version ("10 (build 19045)") so the end-of-support table finds the release.
    """
    if major == 10 and minor == 0 and build:
        if build in WINDOWS_SERVER_ONLY_BUILDS:
            return "Windows", f"{WINDOWS_SERVER_ONLY_BUILDS[build]} (build {build})"
        if build in WINDOWS_10_CLIENT_BUILDS:
            return "Windows", f"10 (build {build})"
        if build >= 22000 and build not in WINDOWS_SHARED_BUILDS:
            return "Windows", f"11 (build {build})"
        return "Windows", f"{NTLM_VERSIONS[(10, 0)]} (build {build})"
    if major in (5, 6, 10):
        return "Windows", NTLM_VERSIONS.get((major, minor), f"{major}.{minor}")
    return "unknown", f"{major}.{minor}.{build}"


def ua_os(user_agent: str) -> tuple[str, str | None] | None:
    """(family, version) from an HTTP User-Agent, None when it names no OS."""
    m = UA_WINDOWS_RE.search(user_agent)
    if m:
        return "Windows", UA_WINDOWS.get(m.group(1), m.group(1))
    for pattern, family in UA_PATTERNS:
        m = pattern.search(user_agent)
        if m:
            version = m.group(1).replace("_", ".") if m.groups() else None
            return family, version
    return None


DETECTOR = Detector(
    name="os-syn",
    layer="tcp_syn",
    decode=decode,
    description="OS family hint from the first SYN: initial TTL, window and TCP option layout.",
)
