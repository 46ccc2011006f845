"""The second demo hospital's captures (pcaps/demo2/<name>.pcap, written by pcaps/make_samples.py).

Deterministic like pcaps/demo: explicit packet times on Monday 2026-03-02 08:00-12:00 UTC, no
randomness.  Plan: pcaps/demo2/plan.py; scenes: pcaps/demo2/scenes.py; truth: expected.yaml.
"""

from __future__ import annotations

from collections.abc import Callable

from scapy.packet import Packet

from pcaps.demo2.scenes import clinical, core, office


def _sorted(build: Callable[[], list[Packet]]) -> Callable[[], list[Packet]]:
    def run() -> list[Packet]:
        return sorted(build(), key=lambda p: float(p.time))

    run.__name__ = build.__name__
    return run


CAPTURES: dict[str, Callable[[], list[Packet]]] = {
    "demo2-core": _sorted(core),
    "demo2-clinical": _sorted(clinical),
    "demo2-office": _sorted(office),
}
