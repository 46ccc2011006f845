"""Link-layer header types (tcpdump.org LINKTYPE_* registry) that the fast path understands.

The numbers are the pcap/pcapng LINKTYPE values (https://www.tcpdump.org/linktypes.html);
`name()` gives the short name recorded in `CaptureStats.linktypes`.
"""

from __future__ import annotations

NULL = 0  # BSD loopback, 4-byte address family in host byte order
ETHERNET = 1
RAW_12 = 12  # raw IP on some BSDs
RAW_14 = 14  # raw IP on OpenBSD
PPP = 9
RAW = 101
IEEE802_11 = 105
IEEE802_11_PRISM = 119  # Prism II monitor-mode header (or an AVS header, told apart by its magic)
LOOP = 108  # OpenBSD loopback, family in network byte order
LINUX_SLL = 113
IEEE802_11_RADIOTAP = 127
IEEE802_11_AVS = 163  # AVS monitor-mode header
IPV4 = 228
IPV6 = 229
LINUX_SLL2 = 276

NAMES: dict[int, str] = {
    NULL: "null",
    ETHERNET: "ethernet",
    PPP: "ppp",
    RAW_12: "raw",
    RAW_14: "raw",
    RAW: "raw",
    IEEE802_11: "ieee802_11",
    IEEE802_11_PRISM: "ieee802_11_prism",
    LOOP: "loop",
    LINUX_SLL: "linux_sll",
    IEEE802_11_RADIOTAP: "ieee802_11_radiotap",
    IEEE802_11_AVS: "ieee802_11_avs",
    IPV4: "ipv4",
    IPV6: "ipv6",
    LINUX_SLL2: "linux_sll2",
}

SUPPORTED = frozenset(NAMES)


def name(linktype: int) -> str:
    """Short name of a link type, `linktype-N` when unknown."""
    return NAMES.get(linktype, f"linktype-{linktype}")
