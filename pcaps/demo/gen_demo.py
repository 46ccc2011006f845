"""The demo hospital captures: one Monday morning (2026-03-02, 08:00-12:00 UTC) on a SPAN of the core trunk.

`CAPTURES` maps a capture name (written to pcaps/demo/<name>.pcap by pcaps/make_samples.py) to a
function returning scapy packets with explicit, increasing times; nothing depends on the wall clock
and every pseudo-random byte comes from a fixed pattern or a seeded `random.Random`.  Address plan:
pcaps/demo/hosts.py; what each capture must and must not raise: pcaps/demo/expected.yaml.
"""

from __future__ import annotations

from collections.abc import Callable

from scapy.packet import Packet

from pcaps.demo.core import clinical, core
from pcaps.demo.edge import office, remote, wifi_capture


def _sorted(build: Callable[[], list[Packet]]) -> Callable[[], list[Packet]]:
    def run() -> list[Packet]:
        return sorted(build(), key=lambda p: float(p.time))  # stable: equal times keep their order

    run.__name__ = build.__name__
    run.__doc__ = build.__doc__
    return run


CAPTURES: dict[str, Callable[[], list[Packet]]] = {
    "demo-core": _sorted(core),
    "demo-clinical": _sorted(clinical),
    "demo-remote": _sorted(remote),
    "demo-wifi": _sorted(wifi_capture),
    "demo-office": _sorted(office),
}
