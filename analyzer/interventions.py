"""Interventions as the analysis sees them, and the declared flows an intervention broke.

The store records interventions (store.interventions) and hands them to the analysis on the digest
(`Digest.interventions`, a tuple of `InterventionRef`): the rule engine is not touched, and the
`intervention` subject (analyzer/subjects/intervention.py) reads them with the digest's conversation
groups.  `declared_usage` tells, for one intervention on a device matched to a sheet, which declared
interfaces and servers of the sheet were used before it and which are still used after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("update", "maintenance", "interface")
"""What was done: a software or firmware update, a maintenance visit, an interface change."""


@dataclass(frozen=True)
class InterventionRef:
    """One recorded intervention: device MAC, kind, packet-clock time (epoch seconds), and the observed
    traffic after it that a verdict needs (seconds)."""

    id: int
    mac: str
    kind: str
    at: float
    window: float = 86400.0


@dataclass
class DeclaredUsage:
    """A declared peer of the sheet (interface or server) and whether it was used before and after."""

    name: str
    declared_as: str
    ips: set[str]
    used_before: bool = False
    used_after: bool = False
    last_seen: float | None = None
    pointer: tuple[str | None, int | None] = (None, None)
    """(capture, frame) of the first frame of the conversation last seen with it."""


def declared_usage(sheet: Any, device: Any, conversations: list[Any], at: float,
                   resolver: Any) -> list[DeclaredUsage]:
    """Per declared interface/server of `sheet`: used before `at`, used from `at` on (conversation groups
    between one of the device's addresses and one of the peer's)."""
    own = set(device.ips)
    declared = [(i.peer, "interface") for i in sheet.interfaces] + [(s.name, "server") for s in sheet.servers]
    out: dict[str, DeclaredUsage] = {}
    for name, role in declared:
        if name not in out:
            out[name] = DeclaredUsage(name=name, declared_as=role, ips=resolver.ips(name))
    for c in conversations:
        if c.client_ip in own or c.client_mac == device.mac:
            peer = c.server_ip
        elif c.server_ip in own or c.server_mac == device.mac:
            peer = c.client_ip
        else:
            continue
        for usage in out.values():
            if peer in usage.ips:
                usage.used_before |= c.first_ts < at
                usage.used_after |= c.last_ts >= at
                if usage.last_seen is None or c.last_ts > usage.last_seen:
                    usage.last_seen = c.last_ts
                    top = getattr(c, "top", None)
                    if top is not None and top.items:
                        source, frame_no = top.items[0][1][:2]
                        usage.pointer = (source or None, frame_no or None)
    return [out[k] for k in sorted(out)]
