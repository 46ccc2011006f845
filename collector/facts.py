"""Facts: observations that say the same thing, merged into one record with a count and first/last seen.

A fact is what an observation says once its evidence pointer and its counters are set aside:
"00:09:fb:20:00:50 asked DHCP for the name PUMP-07", "10.10.110.21 sent DICOM to 10.50.0.20:104
on VLAN 110".  IVRE's passive records and Zeek's known-hosts/known-services logs keep facts the
same way: one record per distinct value, with a count and the first and last time it was seen.
The collector merges the records of a flush period here before it emits them, and the store
(store.facts) upserts them across periods with the same `merge`, so storage and analysis
grow with what is new on the network, not with the frames seen.

Identity of a fact (`fact_key`): every field of the record but
- the evidence pointer and the counters of the envelope (`ts`, `last_ts`, `frame_no`, `source`, `count`);
- ports of the dynamic range (>= 32768, IANA and Linux ephemeral ports): they name one connection,
  not a service, so a DNS client asking the same name from two source ports states one fact;
- for `host` and `conversation` aggregates, their per-period counters and first-frame envelope
  (a conversation is keyed by sensor, VLAN, client, server, transport, server port, application
  and MACs, as analyzer.digest groups them).
`stats` records (one per run) are never merged.

Merging keeps the first record's envelope (its evidence pointer), sums `count` (and the byte and
packet counters of host and conversation records), and keeps the earliest first and latest last time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from collector.schema import Observation

EPHEMERAL_PORT_MIN = 32768
"""Ports from here up name a connection, not a service (IANA dynamic range starts at 49152, Linux at
32768)."""

ENVELOPE_VOLATILE = frozenset({"ts", "last_ts", "frame_no", "source", "count"})
SUMMED: dict[str, tuple[str, ...]] = {
    "host": ("frames", "bytes"),
    "conversation": ("packets_c2s", "packets_s2c", "bytes_c2s", "bytes_s2c"),
}
"""Counters added up when two records of a fact merge."""
VOLATILE: dict[str, frozenset[str]] = {
    "host": ENVELOPE_VOLATILE | {"first_ts", "ttl", "frames", "bytes"},
    "conversation": ENVELOPE_VOLATILE | {
        "first_ts", "client_port", "community_id", "syn_seen", "src_mac", "dst_mac", "src_ip", "dst_ip",
        "src_port", "dst_port", "packets_c2s", "packets_s2c", "bytes_c2s", "bytes_s2c",
    },
    # an ARP record states the sender's (mac, ip); whom it asked for or answered is evidence, not identity
    # (a host that ARPs for 2,000 peers is one fact with a count, not 2,000)
    "arp": ENVELOPE_VOLATILE | {"dst_mac", "target_mac", "target_ip"},
    # a passive OS hint is about (mac, ip): which frame, to whom and from which port is evidence, not identity
    "os_hint": ENVELOPE_VOLATILE | {"src_mac", "dst_mac", "src_ip", "dst_ip", "src_port", "dst_port"},
}
"""Fields that are not part of a fact's identity, per kind (ENVELOPE_VOLATILE for the other kinds)."""
NEVER_MERGED = frozenset({"stats"})


def _excluded(o: Observation) -> set[str]:
    src, dst = o.src_port, o.dst_port
    eph = EPHEMERAL_PORT_MIN
    key = (o.kind, src is not None and src >= eph, dst is not None and dst >= eph)
    out = _EXCLUDED.get(key)
    if out is None:
        out = _EXCLUDED[key] = _exclusion(*key)
    return out


def _exclusion(kind: str, src_ephemeral: bool, dst_ephemeral: bool) -> set[str]:
    if kind in NEVER_MERGED:
        return set()
    out = set(VOLATILE.get(kind, ENVELOPE_VOLATILE))
    if src_ephemeral:
        out.add("src_port")
    if dst_ephemeral:
        out.add("dst_port")
    return out


_EXCLUDED: dict[tuple[str, bool, bool], set[str]] = {}
"""The exclusion of each (kind, ephemeral source port, ephemeral destination port), built once (a fact key
is computed for every record the collector buffers and the store upserts) and never changed: a set, not a
frozenset, because pydantic's serializer takes a set three times faster."""


def identity_json(o: Observation) -> bytes:
    """The record without its volatile fields, as compact JSON (pydantic's serializer, stable field order)."""
    body: bytes = o.__pydantic_serializer__.to_json(o, exclude=_excluded(o))
    return o.kind.encode() + b"|" + body


def fact_key(o: Observation) -> str:
    """Stable identity of the fact an observation states: 32 hex digits (BLAKE2b-128 of `identity_json`)."""
    return hashlib.blake2b(identity_json(o), digest_size=16).hexdigest()


def last_seen(o: Observation) -> float:
    """Time of the last observation a record stands for."""
    return o.last_ts if o.last_ts is not None else o.ts


def first_seen(o: Observation) -> float:
    first = getattr(o, "first_ts", None)
    return o.ts if first is None else min(o.ts, first)


def envelope(a: Observation, b: Observation) -> Observation:
    """Which of two records of a fact a merge keeps the envelope of: the earlier evidence (ts, source,
    frame)."""
    return b if (b.ts, b.source, b.frame_no) < (a.ts, a.source, a.frame_no) else a


def merge(a: Observation, b: Observation) -> Observation:
    """One record for two records of the same fact (see the module docstring); neither is changed."""
    if envelope(a, b) is b:
        a, b = b, a
    update: dict[str, Any] = {"count": a.count + b.count, "last_ts": max(last_seen(a), last_seen(b))}
    summed = SUMMED.get(a.kind)
    if summed is not None:
        for name in summed:
            update[name] = getattr(a, name) + getattr(b, name)
        update["first_ts"] = min(a.first_ts, b.first_ts)  # type: ignore[attr-defined]
        if a.kind == "conversation":
            update["syn_seen"] = a.syn_seen or b.syn_seen  # type: ignore[attr-defined]
    return a.model_copy(update=update)


def aggregate(records: Iterable[Observation]) -> list[Observation]:
    """Records merged per fact, in the order each fact first appears."""
    return list(keyed(records).values())


def keyed(records: Iterable[Observation]) -> dict[str, Observation]:
    """Records merged per fact, keyed by fact key (what the store upserts)."""
    out: dict[str, Observation] = {}
    for o in records:
        key = fact_key(o)
        cur = out.get(key)
        out[key] = o if cur is None else merge(cur, o)
    return out


@dataclass(slots=True)
class Prepared:
    """A batch of records with their fact keys, and the blobs of those whose blob was computed already.

    Computed where the records are made (a worker process, the pipeline's per-period merge, which
    keys every record it buffers), so that the store (store.facts.store_batch) does not compute them
    again in the process that writes: `keys[i]` is `fact_key(records[i])` exactly, `blobs[i]`
    `collector.factblob.encode(records[i])` or None (not computed: the store encodes it if the fact
    is new).  Sinks that can use them define `emit_prepared` (collector.sinks.Sink).
    """

    records: list[Observation]
    keys: list[str]
    blobs: list[bytes | None] | None = None
    """None: no blob computed."""
