"""Sharding frames over worker processes, and merging what the workers flush back into one stream.

Several pipelines (collector.pipeline) run side by side, one per worker process, each on a share
of the frames; their facts merge per flush period (collector.facts) before anything is stored or
analysed, so the store and the analysis cannot tell how many workers there were.

Which worker a frame goes to (`shard_of`): a **symmetric** hash of its two IP addresses (CRC-32
of the lower address then the higher), so both directions of a flow, every connection between two
hosts (a DICOM association and its C-STORE connections, the FTP control and data connections) and
every IPv4 fragment (they share addresses, not ports) meet in the same worker, which holds the
whole conversation and its TCP streams as the single pipeline would.  Ports are left out on
purpose: a conversation (client, server, server port) spans many client ports, and its stream
budget (collector.flows) must be counted in one place.  Outer addresses key tunnels (GRE, VXLAN,
CAPWAP: one tunnel, one worker).  Ethernet frames that carry no IP (ARP, LLDP, CDP, STP, EAPOL)
go by a hash of their **source MAC**: a device's link-layer announcements stay in one worker
(its per-device state: repeats of identical ARP or LLDP frames), and an ARP storm or a switch's
LLDP is spread over the workers instead of loading one.  Link types without Ethernet or IP
framing that this module does not parse (802.11 with radiotap, PPP, ...) go to worker 0: they
are rare on a SPAN port, and one worker keeps a Wi-Fi station's frames together.

`Rounds` is the merge side: every worker sends its batches, then a flush marker, per flush period;
once each worker has closed period k, the records of period k are merged per fact
(`collector.facts.merge`, in worker order, so the batches are the same from one run to the next
with the same number of workers; a host seen by two workers in one period is one host record of
that period) and emitted in batches of at most `BATCH_MAX`; then the sink's
`flushed()` runs, as after a single pipeline's flush.  The workers send each record with its fact
key and its stored blob (collector.facts.Prepared), and a sink that takes them (`emit_prepared`:
the store's) gets them along: the merging process writes the store, and is the one to spare.
`merge_stats` adds the workers' run counters into one `CaptureStats`, with the frames of each worker
in `workers`.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from collector.factblob import encode, merge_blob
from collector.facts import SUMMED, Prepared, fact_key, merge
from collector.outbox import Sends
from collector.pcapfile import ReadStats
from collector.schema import CaptureStats, Observation
from collector.sinks import Sink, send_prepared

BATCH_MAX = 5000
"""Records per batch emitted to the sink (collector.pipeline emits early at the same size)."""
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
RAW_IP_LINKTYPES = frozenset({12, 14, 101, 228, 229})


def shard_of(data: bytes, linktype: int, workers: int) -> int:
    """Worker (0..workers-1) of a frame: symmetric in its endpoints (see the module docstring)."""
    if workers <= 1:
        return 0
    size = len(data)
    if linktype == 1:
        if size < 14:
            return 0
        off = 12
        et = (data[12] << 8) | data[13]
        while et in VLAN_TPIDS and size >= off + 6:
            off += 4
            et = (data[off] << 8) | data[off + 1]
        l3 = off + 2
    elif linktype == 113 and size >= 16:  # Linux cooked capture
        et, l3 = (data[14] << 8) | data[15], 16
    elif linktype == 276 and size >= 20:  # Linux cooked capture v2
        et, l3 = (data[0] << 8) | data[1], 20
    elif linktype in RAW_IP_LINKTYPES and size:
        version = data[0] >> 4
        et, l3 = (0x0800 if version == 4 else 0x86DD if version == 6 else 0), 0
    else:
        return 0
    if et == 0x0800 and size >= l3 + 20:
        a, b = data[l3 + 12 : l3 + 16], data[l3 + 16 : l3 + 20]
    elif et == 0x86DD and size >= l3 + 40:
        a, b = data[l3 + 8 : l3 + 24], data[l3 + 24 : l3 + 40]
    elif linktype == 1:
        return zlib.crc32(data[6:12]) % workers
    else:
        return 0
    return zlib.crc32(a + b if a <= b else b + a) % workers


_Entry = tuple[str, Observation, bytes | None]
"""A record of a period with its fact key and its blob (None: not computed)."""


def _merged(parts: list[list[_Entry]]) -> dict[str, tuple[Observation, bytes | None]]:
    """The period's records (and blobs) merged per fact (collector.facts.merge), worker by worker.

    A host or conversation record is one per period and table entry: the same host seen by two
    workers in one period is still one record of the period (count: the larger, not the sum), as
    the single pipeline would have emitted it; its frame and byte counters are summed.  A record
    merged here keeps a blob only when it follows from the workers' (collector.factblob.merge_blob).
    """
    out: dict[str, tuple[Observation, bytes | None]] = {}
    for part in parts:
        for key, o, blob in part:
            cur = out.get(key)
            if cur is None:
                out[key] = (o, blob)
                continue
            was, was_blob = cur
            merged = merge(was, o)
            if o.kind in SUMMED:
                merged = merged.model_copy(update={"count": max(was.count, o.count)})
            out[key] = (merged, merge_blob(was, was_blob, o, blob))
    return out


class Rounds:
    """Collects each worker's flush periods and emits each period, merged, once every worker closed it."""

    def __init__(self, sink: Sink | None, workers: int, *, merge_facts: bool = True) -> None:
        self.sink = sink
        self.merge_facts = merge_facts
        self.open: list[list[_Entry]] = [[] for _ in range(workers)]
        self.closed: list[deque[list[_Entry]]] = [deque() for _ in range(workers)]
        self.periods = 0

    def batch(self, worker: int, prepared: Prepared) -> None:
        """Records a worker emitted in its current period (early batches included), with their fact keys
        and blobs (what its PipeSink sent)."""
        blobs = prepared.blobs if prepared.blobs is not None else repeat(None)
        self.open[worker].extend(zip(prepared.keys, prepared.records, blobs, strict=False))

    def flushed(self, worker: int) -> None:
        """The worker closed its current period: emit every period all workers have closed."""
        self.closed[worker].append(self.open[worker])
        self.open[worker] = []
        while all(self.closed):
            self._emit([q.popleft() for q in self.closed])

    def _emit(self, parts: list[list[_Entry]]) -> None:
        self.periods += 1
        sink = self.sink
        if sink is None:
            return
        if self.merge_facts:
            merged = _merged(parts)
            keys = list(merged)
            records = [o for o, _ in merged.values()]
            blobs = [blob for _, blob in merged.values()]
        else:
            keys = [key for part in parts for key, _, _ in part]
            records = [o for part in parts for _, o, _ in part]
            blobs = [blob for part in parts for _, _, blob in part]
        for start in range(0, len(records), BATCH_MAX):
            end = start + BATCH_MAX
            send_prepared(sink, Prepared(records[start:end], keys[start:end], blobs[start:end]))
        flushed = getattr(sink, "flushed", None)
        if flushed is not None:  # the period is complete: a store may analyze what changed
            flushed()


SENT_MAX = 200_000
"""Fact keys a worker remembers having sent a blob for (about 20 MB); past it, it forgets them all."""


class PipeSink:
    """A worker's sink: every batch and every end of flush period goes over `conn` to the merging process.

    A batch goes with its fact keys and blobs (collector.facts.Prepared), computed here in parallel
    so that the merging process, which also writes the store, only looks keys up and encodes only
    what it merged.  The store needs the blob of a new fact only: a fact whose blob this worker sent
    in an earlier batch is stored by the time a later batch is (periods are stored in order), so it
    goes without one (`sent`; a blob missing where it is needed is encoded by the store, never wrong).
    """

    def __init__(self, conn: Sends) -> None:
        self.conn = conn
        self.sent: set[str] = set()

    def emit(self, batch: list[Observation]) -> None:
        records = [o for o in batch if not isinstance(o, CaptureStats)]  # the run's stats go once, at the end
        if records:
            self.emit_prepared(Prepared(records, [fact_key(o) for o in records]))

    def emit_prepared(self, batch: Prepared) -> None:
        """A batch the pipeline keyed already (collector.pipeline): the blobs of new facts are added here."""
        sent = self.sent
        if len(sent) > SENT_MAX:
            sent.clear()
        given = batch.blobs if batch.blobs is not None else repeat(None)
        blobs: list[bytes | None] = []
        for o, key, blob in zip(batch.records, batch.keys, given, strict=False):
            if blob is None and key not in sent:
                blob = encode(o)
                sent.add(key)
            blobs.append(blob)
        self.conn.send(("batch", Prepared(batch.records, batch.keys, blobs)))

    def flushed(self) -> None:
        self.conn.send(("flushed", None))

    def close(self) -> None:
        return None


def merge_stats(parts: Sequence[CaptureStats], read_stats: ReadStats | None = None, *,
                sensor: str = "") -> CaptureStats:
    """One run's counters from its workers' (in worker order) and the reader's (files, read weirds)."""

    def add(into: dict[str, int], more: dict[str, int]) -> None:
        for k, v in more.items():
            into[k] = into.get(k, 0) + v

    read = read_stats if read_stats is not None else ReadStats()
    weirds: dict[str, int] = dict(read.weirds)
    linktypes: dict[str, int] = {}
    overflow: dict[str, int] = {}
    aged: dict[str, int] = {}
    firsts = [p.first_ts for p in parts if p.first_ts is not None]
    lasts = [p.last_ts for p in parts if p.last_ts is not None]
    drops = [p.kernel_drops for p in parts if p.kernel_drops is not None]
    for p in parts:
        add(weirds, p.weirds)
        add(linktypes, p.linktypes)
        add(overflow, p.table_overflow)
        add(aged, p.aged_out)
    first = min(firsts) if firsts else None
    summed: dict[str, Any] = {
        name: sum(getattr(p, name) for p in parts)
        for name in ("packets", "bytes", "malformed", "queue_drops", "deep_repeats", "tcp_streams_refused")
    }
    summed["malformed"] += sum(read.weirds.values())
    return CaptureStats(
        ts=first or 0.0, sensor=sensor, weirds=weirds, first_ts=first, last_ts=max(lasts) if lasts else None,
        kernel_drops=sum(drops) if drops else None,
        truncated=read.truncated or any(p.truncated for p in parts),
        files=list(read.files), linktypes=linktypes, table_overflow=overflow, aged_out=aged,
        workers=[p.packets for p in parts], **summed,
    )
