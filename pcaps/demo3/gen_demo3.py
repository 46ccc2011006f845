"""The third demo hospital's captures (pcaps/demo3/<name>.pcap, written by pcaps/make_samples.py).

Deterministic like pcaps/demo and pcaps/demo2: explicit packet times on Monday 2026-03-02
08:00-11:00 UTC, no randomness.  Plan: pcaps/demo3/plan.py; scenes: pcaps/demo3/scenes.py; truth:
expected.yaml.  Two SPAN sources: demo3-nord is the Nord core trunk (802.1Q), demo3-sud the
provider-edge link where every Sud frame carries the operator's 802.1ad service tag (TPID 0x88a8,
S-VLAN 3000) above its customer 802.1Q tag.  Each frame is built once on its VLAN and filed here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache

from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw

from pcaps.demo3 import plan as P
from pcaps.demo3.scenes import clinical, core, office, wifi_tunnel

TPID_8021AD = 0x88A8


def _vlan(pkt: Packet) -> int:
    return int(pkt[Dot1Q].vlan) if Dot1Q in pkt else 0


def qinq(pkt: Packet, s_vlan: int = P.S_VLAN) -> Packet:
    """The same frame as the provider edge carries it: an 802.1ad S-tag inserted before the C-tag.

    The customer part is serialised once into a Raw payload (no re-dissection: generation stays fast)."""
    out = Ether(src=pkt[Ether].src, dst=pkt[Ether].dst, type=TPID_8021AD) / Raw(
        struct.pack("!HH", s_vlan, 0x8100) + bytes(pkt[Dot1Q])
    )
    out.time = pkt.time
    return out


@cache
def _split() -> tuple[tuple[Packet, ...], tuple[Packet, ...]]:
    every = sorted(core() + clinical() + office() + wifi_tunnel(), key=lambda p: float(p.time))
    nord = tuple(p for p in every if _vlan(p) not in P.SUD_VLANS)
    sud = tuple(qinq(p) for p in every if _vlan(p) in P.SUD_VLANS)
    return nord, sud


def nord() -> list[Packet]:
    return list(_split()[0])


def sud() -> list[Packet]:
    return list(_split()[1])


CAPTURES: dict[str, Callable[[], list[Packet]]] = {"demo3-nord": nord, "demo3-sud": sud}
