"""The sensor engine: frames in, observation batches out.

Every frame takes the fast path (collector.decode) into the host and conversation tables
(collector.flows); identity-bearing frames also take the deep path (collector.deep) through
the protocol detectors.  Observations reach the sink in batches: detector records are buffered
and emitted with the next flush (or early at `BATCH_MAX`), host and conversation records are
aggregated per flush period.  A replay flushes every `flush_interval` seconds of capture time,
a live capture on the wall clock (collector.live calls `flush()`), and `close()` flushes what is
left and emits the run's `CaptureStats`.  The sink is not closed: its owner does that.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import Any

from collector import linktypes
from collector.decode import Decoder
from collector.deep import (
    D_DONE,
    MALFORMED,
    S_C2S,
    S_S2C,
    UDP_PROBE_DATAGRAMS,
    DeepPath,
    DetectorIndex,
    Facts,
)
from collector.facts import Prepared, fact_key, identity_json, merge
from collector.flows import (
    C_BY_C2S,
    C_BY_S2C,
    C_DONE,
    C_ENV,
    C_FIRST,
    C_FRAME_NO,
    C_LAST,
    C_PK_C2S,
    C_PK_S2C,
    C_STREAM,
    C_STREAMS_LEFT,
    C_SYN,
    DEFAULT_MAX_CONVERSATIONS,
    DEFAULT_MAX_HOSTS,
    DEFAULT_TABLE_IDLE,
    H_BYTES,
    H_FIRST,
    H_FRAME_NO,
    H_FRAMES,
    H_LAST,
    H_SOURCE,
    H_WIFI,
    MAX_STREAMS_PER_CONVERSATION,
    Tables,
    sender_is_client,
)
from collector.pcapfile import ReadStats
from collector.protocols.base import Detector, pseudonymise
from collector.schema import CaptureStats, Observation, Weird
from collector.sinks import Sink
from collector.sources import FrameSource

BATCH_MAX = 5000
WIFI_TUNNELS = frozenset({"capwap", "lwapp", "aruba-gre", "dot11"})
MAX_TUNNEL_DEPTH = 3
P_COUNT, P_FIRST, P_LAST = range(3)
"""Slots of a pending repeat (`Pipeline.pending`): repeats, first evidence (ts, source, frame), last ts."""
GC_THRESHOLD0 = 100_000
"""Allocations between two young-generation collections of the cyclic GC during a replay (default 700)."""


class _Context:
    """DecodeContext offered to detectors (protocols/base.py)."""

    __slots__ = ("p",)

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    def pseudonymise(self, value: str) -> str:
        return pseudonymise(self.p.key, value)

    def weird(self, name: str, detail: str = "") -> None:
        self.p.weird(name, detail)

    def inner_frame(self, data: bytes, linktype: int, tunnel: str, ts: float, frame_no: int) -> None:
        self.p.inner_frame(data, linktype, tunnel, ts, frame_no)


class Pipeline(DeepPath):
    """Frames -> fast path tables + deep path detectors -> sink batches."""

    def __init__(
        self,
        sensor: str = "",
        *,
        key: bytes,
        sink: Sink | None = None,
        flush_interval: float = 10.0,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        max_hosts: int = DEFAULT_MAX_HOSTS,
        detectors: Iterable[Detector] | None = None,
        packet_time_flush: bool = True,
        read_stats: ReadStats | None = None,
        merge_facts: bool = True,
        table_idle: float = DEFAULT_TABLE_IDLE,
    ) -> None:
        if detectors is None:
            from collector.registry import all_detectors

            detectors = all_detectors()
        self.sensor = sensor
        self.table_idle = table_idle
        """Seconds after which idle table entries are dropped at a flush (0: never); counted in `aged_out`."""
        self.aged_out: dict[str, int] = {}
        self.merge_facts = merge_facts
        """Merge detector records stating the same fact within a flush (collector.facts); False keeps one
        record per decoded frame (cross-checks that compare frame by frame with Wireshark)."""
        self.key = require_key(key)
        self.sink = sink
        self.flush_interval = flush_interval
        self.packet_time_flush = packet_time_flush
        self.read_stats = read_stats if read_stats is not None else ReadStats()
        self.index = DetectorIndex(detectors)
        # TCP connections a conversation may follow: tcp_syn detectors only want its first one
        self.stream_budget = (MAX_STREAMS_PER_CONVERSATION if self.index.tcp
                              else 1 if self.index.tcp_syn else 0)
        self.decoder = Decoder()
        self.overflow: dict[str, int] = {}
        self.tables = Tables(sensor=sensor, max_conversations=max_conversations, max_hosts=max_hosts,
                             overflow=self.overflow)
        self.ctx = _Context(self)
        self.records: dict[bytes, Observation] = {}  # fact (digest of fact_key) -> detector records merged
        self.weirds: dict[str, int] = {}
        self.linktypes: dict[int, int] = {}
        self.packets = 0
        self.bytes = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.next_flush: float | None = None if packet_time_flush else float("inf")
        self.kernel_drops: int | None = None
        self.queue_drops = 0
        self.streams: dict[int, list[Any]] = {}  # id(conversation) -> conversation with a followed connection
        self.streams_refused = 0
        self.flushes = 0
        self.wifi_stations: set[bytes] = set()
        self.repeats: dict[int, tuple[str, Facts]] = {}
        self._serial = 0
        self.pending: dict[bytes, list[Any]] = {}  # fact -> [repeats, first evidence, last ts]
        self.deep_repeats = 0
        self.side_effects = 0
        self._cur: Sequence[Any] = (0.0, 0, b"", 0, 0, "", 0)  # the frame being processed (weird context)
        self._depth = 0
        self._closed = False
        self.malformed_frames = 0
        """Frames with at least one weird (a frame counts once, whatever number of weirds it raised)."""
        self._in_frame = False
        self._frame_weird = False

    # ------------------------------------------------------------------ input

    def feed(self, frame: Sequence[Any]) -> None:
        """One `RawFrame` (or a tuple in its field order)."""
        ts, linktype, data, wirelen, frame_no, source = frame[:6]
        self.packets += 1
        self.bytes += len(data)
        self.linktypes[linktype] = self.linktypes.get(linktype, 0) + 1
        if self.first_ts is None:
            self.first_ts = ts
            if self.packet_time_flush:
                self.next_flush = ts + self.flush_interval
        self.last_ts = ts
        if ts >= self.next_flush:
            self.flush()
            self.next_flush = ts + self.flush_interval
        self._cur = frame
        decoder = self.decoder
        before = decoder.count
        self._frame_weird = False
        self._in_frame = True
        try:
            self.process(data, linktype, ts, wirelen, frame_no, source, None)
        except MALFORMED:
            self.weird("frame_decode_error")
        finally:
            self._in_frame = False
        if self._frame_weird or decoder.count != before:
            self.malformed_frames += 1

    def run(self, frames: Iterable[Sequence[Any]]) -> None:
        """Feed many frames: `feed` with a fast lane for the bulk of established conversations.

        The fast lane takes untagged or 802.1Q Ethernet / IPv4 (no options, not a fragment) /
        TCP or UDP unicast frames of a known host and a known conversation that need no deep-path
        work (not a SYN, no pending stream prefix of its connection wanting this segment or its
        FIN/RST, not the first payload of a connection its conversation could still follow, no
        port-matched or probing UDP detector): it only updates counters.  Any other frame goes
        through `feed`, which does the whole job.
        """
        feed = self.feed
        tables = self.tables
        hosts_get = tables.hosts.get
        convs_get = tables.convs.get
        active_hosts = tables.active_hosts  # cleared in place by Tables.flush, never rebound
        active_convs = tables.active_convs
        index = self.index
        udp_ports = frozenset(index.udp_by_port)
        udp_any = bool(index.udp_any)
        lane_tcp = 6 not in index.ip_by_proto
        lane_udp = 17 not in index.ip_by_proto
        if 0x0800 in index.ether_by_type or 0x8100 in index.ether_by_type:
            lane_tcp = lane_udp = False
        lane = packets = nbytes = 0
        next_flush = self.next_flush if self.next_flush is not None else float("-inf")
        last_ts = self.last_ts
        try:
            for frame in frames:
                ts, lt, data, wirelen, frame_no, source, _ = frame
                size = len(data)
                if ts < next_flush and lt == 1 and size >= 42:
                    if data[12] == 0x81 and data[13] == 0:
                        vlan = ((data[14] & 0x0F) << 8) | data[15]
                        off = 18
                        ipv4 = data[16] == 8 and data[17] == 0
                    else:
                        vlan = None
                        off = 14
                        ipv4 = data[12] == 8 and data[13] == 0
                    if (ipv4 and size >= off + 28 and data[off] == 0x45 and not data[0] & 1
                            and not (data[off + 6] & 0x3F or data[off + 7])):
                        proto = data[off + 9]
                        l4 = off + 20
                        if (proto == 6 and lane_tcp and size >= off + 40 and not data[l4 + 13] & 0x02) or (
                                proto == 17 and lane_udp):
                            sip = data[off + 12 : off + 16]
                            dip = data[off + 16 : off + 20]
                            sport = (data[l4] << 8) | data[l4 + 1]
                            dport = (data[l4 + 2] << 8) | data[l4 + 3]
                            h = hosts_get((data[6:12], sip, vlan))
                            c = convs_get((vlan, proto, sip, dip, dport))
                            fwd = True
                            if c is None:
                                c = convs_get((vlan, proto, dip, sip, sport))
                                fwd = False
                            if h is not None and c is not None:
                                st = c[C_STREAM]
                                if proto == 6:
                                    if st is not None and (s := st.get(sport if fwd else dport)) is not None:
                                        # a followed connection wants its direction's payload and FIN/RST
                                        ok = (s[S_C2S] if fwd else s[S_S2C])[D_DONE] or (
                                            not data[l4 + 13] & 0x05
                                            and ((data[off + 2] << 8) | data[off + 3])
                                            - 20 - ((data[l4 + 12] >> 4) << 2) <= 0)
                                    else:
                                        # one not followed: its client's first payload while the conversation
                                        # has budget, unless it is a connection already followed (c[C_DONE])
                                        ok = not fwd or c[C_STREAMS_LEFT] <= 0 or sport in c[C_DONE] or (
                                            ((data[off + 2] << 8) | data[off + 3]) - 20
                                            - ((data[l4 + 12] >> 4) << 2) <= 0)
                                else:
                                    ok = not (sport in udp_ports or dport in udp_ports
                                              or (udp_any and st and st[0 if fwd else 1]))
                                if ok:
                                    lane += 1
                                    nbytes += size
                                    last_ts = ts
                                    if not h[H_FRAMES]:
                                        h[H_FIRST] = ts
                                        h[H_FRAME_NO] = frame_no
                                        h[H_SOURCE] = source
                                        active_hosts.append(h)
                                    h[H_LAST] = ts
                                    h[H_FRAMES] += 1
                                    h[H_BYTES] += wirelen
                                    if not (c[C_PK_C2S] or c[C_PK_S2C]):
                                        c[C_FIRST] = ts
                                        c[C_FRAME_NO] = frame_no
                                        c[C_ENV] = (data[6:12], data[0:6], sip, dip, sport, dport, None, None,
                                                 source)
                                        active_convs.append(c)
                                    c[C_LAST] = ts
                                    if fwd:
                                        c[C_PK_C2S] += 1
                                        c[C_BY_C2S] += wirelen
                                    else:
                                        c[C_PK_S2C] += 1
                                        c[C_BY_S2C] += wirelen
                                    continue
                self.packets += lane
                self.bytes += nbytes
                packets += lane
                lane = nbytes = 0
                feed(frame)
                last_ts = ts
                next_flush = self.next_flush if self.next_flush is not None else float("-inf")
        finally:
            self.packets += lane
            self.bytes += nbytes
            packets += lane
            if packets:
                self.linktypes[1] = self.linktypes.get(1, 0) + packets
            if last_ts is not None:
                self.last_ts = last_ts

    def inner_frame(self, data: bytes, linktype: int, tunnel: str, ts: float, frame_no: int) -> None:
        """A decapsulated frame re-enters the fast path (not counted as a captured frame)."""
        self.side_effects += 1
        if self._depth >= MAX_TUNNEL_DEPTH:
            self.weird("tunnel_too_deep")
            return
        saved = self._cur
        source = saved[5]
        self._cur = (ts, linktype, data, len(data), frame_no, source, 0)
        self._depth += 1
        try:
            self.process(data, linktype, ts, len(data), frame_no, source, tunnel)
        except MALFORMED:
            self.weird("frame_decode_error")
        finally:
            self._cur = saved
            self._depth -= 1

    def weird(self, name: str, detail: str = "") -> None:
        """Count a weird; its first occurrence is also recorded as a `Weird` observation."""
        self.side_effects += 1
        if self._in_frame:
            self._frame_weird = True
        else:  # a stream prefix decided at a flush: one weird, one frame
            self.malformed_frames += 1
        count = self.weirds.get(name, 0)
        self.weirds[name] = count + 1
        if count == 0:
            cur = self._cur
            ts, frame_no, source = cur[0], cur[4], cur[5]
            self._add([Weird(ts=ts, sensor=self.sensor, source=source, frame_no=frame_no, name=name,
                             detail=detail[:200])])

    # ------------------------------------------------------------------ fast path

    def process(self, data: bytes, linktype: int, ts: float, wirelen: int, frame_no: int, source: str,
                tunnel: str | None) -> None:
        h = self.decoder.decode(data, linktype)
        if h is None:
            return
        (src, dst, vlan, outer, et, l2off, ipver, sip, dip, proto, ttl, sport, dport, flags, l4off, poff,
         pend, _,
         wifi) = h
        is_wifi = wifi is not None or (tunnel is not None and tunnel in WIFI_TUNNELS)
        tables = self.tables
        index = self.index
        if src is not None:
            hk = (src, sip, vlan)
            e = tables.hosts.get(hk)
            if e is None:
                e = tables.new_host(hk, ttl, is_wifi, source, outer, tunnel)
            if e is not None:
                if not e[H_FRAMES]:
                    e[H_FIRST] = ts
                    e[H_SOURCE] = source
                    e[H_FRAME_NO] = frame_no
                    tables.active_hosts.append(e)
                e[H_LAST] = ts
                e[H_FRAMES] += 1
                e[H_BYTES] += wirelen
                if is_wifi and not e[H_WIFI]:
                    e[H_WIFI] = True
        if wifi is not None and wifi.station is not None and wifi.station not in self.wifi_stations:
            self._wifi(wifi, h, ts, frame_no, source, tunnel)
        if index.ether_by_type:
            dets = index.ether_by_type.get(et)
            if dets:
                self._deep(dets, h, data[l2off:], None, ts, frame_no, source, tunnel, is_wifi, data)
        if dst is not None and dst[0] & 1 and index.ether_by_mac:
            dets = index.ether_by_mac.get(dst)
            if dets:
                self._deep(dets, h, data[l2off:], None, ts, frame_no, source, tunnel, is_wifi, data)
        if 0 < et <= 1500 and index.ether_by_sap and l2off < len(data):  # 802.3 length: an 802.2 LLC frame
            dets = index.ether_by_sap.get(data[l2off])
            if dets:
                self._deep(dets, h, data[l2off:], None, ts, frame_no, source, tunnel, is_wifi, data)
        if not ipver:
            return
        if index.ip_by_proto:
            dets = index.ip_by_proto.get(proto)
            if dets:
                self._deep(dets, h, data[l4off if l4off is not None else poff:pend], None, ts, frame_no,
                           source,
                           tunnel, is_wifi)
        ported = proto == 6 or proto == 17 or proto == 132
        if ported and sport is None:
            return  # a later fragment or a truncated L4 header: no conversation key
        convs = tables.convs
        port_key = sport if ported else None
        c = convs.get((vlan, proto, sip, dip, dport if ported else None))
        fwd = True
        if c is None:
            c = convs.get((vlan, proto, dip, sip, port_key))
            fwd = False
            if c is None:
                fwd = sender_is_client(proto, sport, dport, flags)
                c = self._new_conv(h, fwd)
        if c is None:
            if proto == 17 and (index.udp_by_port or index.udp_any):
                self._udp(None, h, data, ts, frame_no, source, tunnel, is_wifi, fwd)
            return
        if not (c[C_PK_C2S] or c[C_PK_S2C]):
            c[C_FIRST] = ts
            c[C_FRAME_NO] = frame_no
            c[C_ENV] = (src, dst, sip, dip, sport, dport, outer, tunnel, source)
            tables.active_convs.append(c)
        c[C_LAST] = ts
        if fwd:
            c[C_PK_C2S] += 1
            c[C_BY_C2S] += wirelen
        else:
            c[C_PK_S2C] += 1
            c[C_BY_S2C] += wirelen
        if proto == 6:
            syn = fwd and flags & 0x12 == 0x02
            if syn:
                c[C_SYN] = True
            streams = c[C_STREAM]
            port = sport if fwd else dport
            st = streams.get(port) if streams is not None else None
            if st is None and fwd and (syn and (streams is not None or c[C_STREAMS_LEFT] > 0) or (
                    pend > poff and c[C_STREAMS_LEFT] > 0 and port not in c[C_DONE])):
                # a new connection of a known conversation: its client's SYN, or the client's first payload
                # when the SYN was not seen (never a connection already followed and finished, c[C_DONE])
                st = self._open_stream(c, port, syn)
            if st is not None:
                self._tcp(c, st, fwd, h, data, ts, frame_no, source, tunnel, is_wifi)
        elif proto == 17 and (index.udp_by_port or index.udp_any):
            self._udp(c, h, data, ts, frame_no, source, tunnel, is_wifi, fwd)

    def _new_conv(self, h: tuple[Any, ...], sender_client: bool) -> list[Any] | None:
        src, dst, vlan, _, _, _, _, sip, dip, proto, _, sport, dport, flags = h[:14]
        ported = proto == 6 or proto == 17 or proto == 132
        if sender_client:
            key = (vlan, proto, sip, dip, dport if ported else None)
            client_mac, server_mac, client_port = src, dst, sport if ported else None
        else:
            key = (vlan, proto, dip, sip, sport if ported else None)
            client_mac, server_mac, client_port = dst, src, dport if ported else None
        icmp = (sport, dport) if proto in (1, 58) and sport is not None else None
        syn = bool(proto == 6 and flags & 0x02)
        c = self.tables.new_conv(key, client_mac, server_mac, client_port, syn, icmp)
        if c is not None:
            if proto == 6:
                c[C_STREAMS_LEFT] = self.stream_budget
                if self.stream_budget:
                    self._start_stream(c, client_port, first=True)
            elif proto == 17 and self.index.udp_any:
                c[C_STREAM] = [UDP_PROBE_DATAGRAMS, UDP_PROBE_DATAGRAMS]
        return c

    # ------------------------------------------------------------------ output

    def _add(self, records: list[Observation]) -> Facts:
        """Buffer detector records as facts: a record stating a fact already buffered is merged into it.

        Returns the fact of each record, which a repeat of the frame counts again (`_repeat`); nothing
        when a record has a count other than 1.
        """
        facts = self.records
        added = []
        single = True
        for o in records:
            if self.merge_facts:
                key = blake2b(identity_json(o), digest_size=16).digest()  # fact_key's hash, not in hex
            else:  # a serial, never reused (a repeat names its record by key, across early emits too)
                self._serial += 1
                key = b"%d" % self._serial
            cur = facts.get(key)
            facts[key] = o if cur is None else merge(cur, o)
            added.append(key)
            if o.count != 1:  # a repeat counts 1 for each record: it may not stand for this decode
                single = False
        if len(facts) >= BATCH_MAX:
            self._settle_repeats()
            self._emit_facts(facts, [])
            facts.clear()
        return tuple(added) if single else ()

    def _repeat(self, facts: Facts, ts: float, frame_no: int, source: str) -> bool:
        """A frame that repeats an identity already decoded this period: its facts counted once more.

        The repeats wait in `pending` and are merged into their facts before these leave (one `merge`
        for many repeats).  False, nothing counted, when one of the facts has left already (emitted
        early, at BATCH_MAX): the frame is then decoded, its records starting the facts again.
        """
        records = self.records
        for key in facts:
            if key not in records:
                return False
        pending = self.pending
        for key in facts:
            p = pending.get(key)
            if p is None:
                pending[key] = [1, (ts, source, frame_no), ts]  # P_COUNT, P_FIRST, P_LAST
            else:
                p[P_COUNT] += 1
                if (ts, source, frame_no) < p[P_FIRST]:
                    p[P_FIRST] = (ts, source, frame_no)
                if ts > p[P_LAST]:
                    p[P_LAST] = ts
        return True

    def _settle_repeats(self) -> None:
        """Merge the pending repeats into their buffered facts (before the facts leave)."""
        facts = self.records
        for key, (n, (ts, source, frame_no), last) in self.pending.items():
            cur = facts[key]
            again = cur.model_copy(update={"ts": ts, "source": source, "frame_no": frame_no, "count": n,
                                           "last_ts": last})
            facts[key] = merge(cur, again)
        self.pending.clear()

    def _emit(self, batch: list[Observation]) -> None:
        if batch and self.sink is not None:
            self.sink.emit(batch)

    def _emit_facts(self, facts: dict[bytes, Observation], tables: list[Observation]) -> None:
        """Buffered detector records and the tables' records to the sink, with their fact keys when it
        takes them (`emit_prepared`, collector.facts.Prepared): `_add` keyed the buffered records to
        merge them, and the store would key them all again."""
        prepared = getattr(self.sink, "emit_prepared", None) if self.merge_facts else None
        if prepared is None or not (facts or tables):
            self._emit([*facts.values(), *tables])
            return
        keys = [key.hex() for key in facts]  # `_add`'s digest of identity_json: fact_key in hex
        keys.extend(fact_key(o) for o in tables)
        prepared(Prepared([*facts.values(), *tables], keys))

    def flush(self, final: bool = False) -> None:
        """Emit buffered detector records and the host/conversation records of the period."""
        self._settle_streams(final)
        self.repeats.clear()
        self._settle_repeats()
        facts, self.records = self.records, {}
        tables = self.tables.flush()
        if self.table_idle > 0 and self.last_ts is not None:
            for table, n in self.tables.age_out(self.last_ts - self.table_idle, self.streams).items():
                if n:
                    self.aged_out[table] = self.aged_out.get(table, 0) + n
        self._emit_facts(facts, tables)
        flushed = getattr(self.sink, "flushed", None)
        if flushed is not None:  # the flush period is complete: a store may now analyze what changed
            flushed()

    def stats(self) -> CaptureStats:
        """The run's counters so far."""
        weirds = dict(self.read_stats.weirds)
        for table in (self.decoder.weirds, self.weirds):
            for name, n in table.items():
                weirds[name] = weirds.get(name, 0) + n
        names: dict[str, int] = {}
        for lt, n in self.linktypes.items():
            names[linktypes.name(lt)] = names.get(linktypes.name(lt), 0) + n
        return CaptureStats(
            ts=self.first_ts or 0.0, sensor=self.sensor, packets=self.packets, bytes=self.bytes,
            malformed=self.malformed_frames + sum(self.read_stats.weirds.values()), weirds=weirds,
            first_ts=self.first_ts, last_ts=self.last_ts,
            kernel_drops=self.kernel_drops, queue_drops=self.queue_drops, truncated=self.read_stats.truncated,
            files=list(self.read_stats.files), linktypes=names, table_overflow=dict(self.overflow),
            deep_repeats=self.deep_repeats, tcp_streams_refused=self.streams_refused,
            aged_out=dict(self.aged_out),
        )

    def close(self) -> CaptureStats:
        """Final flush, then the `CaptureStats` record (emitted and returned)."""
        if not self._closed:
            self._closed = True
            self.flush(final=True)
            stats = self.stats()
            self._emit([stats])
            return stats
        return self.stats()


@contextmanager
def relaxed_gc(threshold0: int = GC_THRESHOLD0) -> Iterator[None]:
    """Fewer cyclic-GC passes while a replay (or an analysis) runs, the previous thresholds restored after.

    Every frame allocates short-lived tuples that reference counting frees at once, yet each
    700 of them start a young-generation pass, and the passes over the older generations walk
    the whole host and conversation tables: on the 1M-frame bench mix, 474 collections and
    0.35 s of the replay with the default thresholds, one collection and 0.02 s with these.
    The pipeline creates no reference cycles per frame, so collecting them less often costs no
    memory growth with the number of frames.  store.loop and store.service hold it over the whole
    replay job and over each re-analysis (the analysis allocates devices, facts and rows while
    the tables stay alive); nesting is harmless.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], threshold0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def require_key(key: bytes) -> bytes:
    """The caller's pseudonymisation key, refused when empty.

    There is deliberately no default: a key shipped in the source would let anyone who reads it
    reverse pseudonyms by hashing candidate names.  Deployments use the key of
    store.loop.pseudonym_key() (MEDTAP_PSEUDONYM_KEY or a random key file).
    """
    if not isinstance(key, bytes) or not key:
        raise ValueError("a pseudonymisation key (non-empty bytes) is required: no default key exists")
    return key


def replay(
    paths: Sequence[Path | str],
    sink: Sink,
    *,
    sensor: str = "",
    key: bytes,
    progress: Callable[[int, int, int], None] | None = None,
    **options: Any,
) -> CaptureStats:
    """Replay capture files (folders expanded, files in time order) into `sink`."""
    read_stats = ReadStats()
    source = FrameSource(paths, read_stats)
    pipe = Pipeline(sensor=sensor, key=key, sink=sink, read_stats=read_stats, **options)
    with relaxed_gc():
        _replay_frames(pipe, source, progress)
        return pipe.close()


def _replay_frames(pipe: Pipeline, source: FrameSource,
                   progress: Callable[[int, int, int], None] | None) -> None:
    if progress is None:
        pipe.run(source)
    else:
        from itertools import chain

        clock = time.monotonic
        frames = iter(source)
        deadline = clock() + 0.1
        while True:
            first = next(frames, None)
            if first is None:
                break
            # slices of 4096 frames streamed from the source, not copied into a list (a list holds
            # 4096 frame buffers at once, out of the CPU caches: 0.2-0.3 s on the 1M-frame mix);
            # progress at most ~10 times a second
            pipe.run(chain((first,), islice(frames, 4095)))
            if clock() >= deadline:
                progress(pipe.packets, source.bytes_read(), source.total_bytes)
                deadline = clock() + 0.1
        progress(pipe.packets, source.total_bytes, source.total_bytes)
