"""The first few records of a group in analysis order, kept as evidence pointers.

One definition for every table the digest keeps (conversation groups, DHCP servers, remote sessions,
write paths, HL7 senders): `put` keeps the `size` smallest keys, `evidence()` turns payloads of
(source, frame_no, ts, text) into the findings' Evidence.
"""

from __future__ import annotations

from bisect import insort
from typing import Any

from analyzer.models import Evidence

Key = tuple[Any, ...]


class Top:
    """The first `size` (key, payload) pairs in analysis order (keys are unique: they end with the arrival
    counter)."""

    __slots__ = ("items", "size")

    def __init__(self, size: int) -> None:
        self.items: list[tuple[Key, Any]] = []
        self.size = size

    def wants(self, key: Key) -> bool:
        return len(self.items) < self.size or key < self.items[-1][0]

    def put(self, key: Key, payload: Any) -> None:
        insort(self.items, (key, payload))
        if len(self.items) > self.size:
            self.items.pop()

    def evidence(self) -> list[Evidence]:
        """Payloads (source, frame_no, ts, text) as Evidence, in analysis order (no source or frame: None)."""
        return [Evidence(source=source or None, frame_no=frame_no or None, ts=ts, text=text)
                for _, (source, frame_no, ts, text) in self.items]
