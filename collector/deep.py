"""The deep path: which detector sees which frame, TCP stream prefixes, the per-frame boundary.

Only identity-bearing bytes reach a detector (collector/protocols/base.py explains the layers):
ether detectors by ethertype or destination MAC, ip detectors by protocol number, udp
detectors by port (any-port detectors probe only the first `UDP_PROBE_DATAGRAMS` datagrams of
each conversation), tcp detectors on the first payload bytes of each direction of each followed
TCP connection (`STREAM_PREFIX` bytes over at most `STREAM_SEGMENTS` segments, decided when the
prefix is full, the direction ends (FIN/RST) or at the next flush), tcp_syn detectors on the
first SYN (and SYN/ACK) of a new conversation.  After its prefix a connection only counts
bytes, so the bulk of a DICOM transfer costs a header walk.

TCP connections of one conversation (same client, server, server port, VLAN) are followed each
on its own, keyed by client port, so parallel connections opened before the first one spoke
(browsers, DICOM modalities with several associations, HL7 engines with several links) all have
their hellos parsed.  A connection is followed from its client's SYN or, when the SYN was not
captured (a capture that began mid-connection, or kept only some packets), from its client's
first payload segment (the client speaks first; a server-first banner was sent before the
capture anyway); the conversation's first frame, whatever it is, starts its first connection.
Bounds: `MAX_PARALLEL_STREAMS` followed at once per conversation and
`MAX_STREAMS_PER_CONVERSATION` in all (collector/flows.py).  A connection stops being followed
when both its prefixes are decided, or when one is and the other side has shown nothing (no
SYN, no payload: that direction is not in the capture, as when the two directions cross the
SPAN port on different VLANs).  At the bound, a stale connection (no SYN seen, its client
prefix decided, or followed since before the previous flush) gives its slot to a new one; a
SYN that finds every slot taken by a fresh connection is counted in
`CaptureStats.tcp_streams_refused` (one beyond the budget is not).  The client ports of
finished connections are kept (C_DONE) while the conversation has budget left, so their later
segments never start them again as connections seen mid-way.

Identity repeats: within one flush period, an ether/ip/udp-layer frame whose identity key
(detector name, VLAN, outer VLAN, tunnel, Wi-Fi, source and destination MAC, ethertype, source
and destination IP, transport, ports outside the dynamic range, and the detector's `identity`
bytes of the payload: the whole payload by default, DNS/mDNS/LLMNR/NetBIOS-NS without their
transaction id, NTP without its timestamps, ARP without its target) equals that of a frame
already decoded into records states the same facts (collector.facts.fact_key) as that decode: it
is counted in `CaptureStats.deep_repeats` and in the `count` and `last_ts` of those facts
(pipeline `_repeat`) instead of decoded again.  So the facts a flush emits are those a decode of
every frame would give, evidence pointers aside (a fact keeps its earliest frame either way).
A repeat whose facts have left in an early batch (BATCH_MAX) is decoded again.  Memory: the
keys (64-bit hashes, each with the 16-byte digests of its facts, ~230 bytes an entry, at most
`REPEAT_CAP` per period; when full, frames decode normally) are forgotten at every flush; the
records are never kept beyond their batch for a repeat (5,000 records were 12 MiB).  Only a
decode that produced records without side effects (no weird counted, no inner frame re-injected)
is remembered, so a tunnel's inner frames and a malformed frame's weirds are never skipped; TCP
stream detectors are not concerned (one prefix per direction of a connection already).

Any exception a decoder raises on malformed bytes (struct.error, IndexError, ValueError,
UnicodeDecodeError, KeyError, OverflowError) becomes the weird `<detector>_malformed`; the
frame still counts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from collector.decode import (  # positions of the header tuple
    DIP,
    DPORT,
    DST,
    ETYPE,
    FLAGS,
    IPVER,
    L4OFF,
    OUTER,
    PEND,
    POFF,
    PROTO,
    SEQ,
    SIP,
    SPORT,
    SRC,
    TTL,
    VLAN,
)
from collector.facts import EPHEMERAL_PORT_MIN
from collector.flows import C_APP, C_DONE, C_LAST, C_STREAM, C_STREAMS_LEFT, MAX_PARALLEL_STREAMS, TRANSPORTS
from collector.protocols.base import STREAM_PREFIX, Detector, Packet, never
from collector.schema import Observation, RemoteAccessObs, WifiObs

STREAM_SEGMENTS = 4
UDP_PROBE_DATAGRAMS = 8
REPEAT_CAP = 65_536
REPEAT_LAYERS = frozenset({"ether", "ip", "udp"})
TXID_DETECTORS = frozenset({"dns", "mdns", "llmnr", "netbios-ns"})
"""Detector names whose payload[0:2] is a transaction id: their identity leaves it out even without an
`identity` function (base.after_txid)."""
Facts = tuple[bytes, ...]
"""The fact (16-byte digest of its identity) of each record a decode gave, which a repeat of its frame
counts again; empty when a record had a count other than 1 (the repeat is then decoded)."""
MALFORMED = (struct.error, IndexError, ValueError, UnicodeDecodeError, KeyError, OverflowError)

# A direction of a TCP stream prefix: [buffer, segments, first frame info, next seq, syn handled, done]
D_BUF, D_SEGS, D_FIRST, D_SEQ, D_SYN, D_DONE = range(6)
# A followed TCP connection: [client port, client->server direction, server->client direction,
# first connection of its conversation (tcp_syn detectors), flush count when it was started]
S_PORT, S_C2S, S_S2C, S_FIRST, S_EPOCH = range(5)


def app_of(det: Detector, records: Sequence[Observation]) -> str:
    """The application that `det`'s records name on their conversation ("" for none): its `app`, else the
    remote-access tool a signature recognised by content or server name (a port-only match is a hint
    and names nothing), else the detector's name."""
    if det.app:
        return det.app
    remote = [o for o in records if isinstance(o, RemoteAccessObs)]
    if remote:
        return next((o.method for o in remote if o.evidence != "port"), "")
    return det.name


def new_direction() -> list[Any]:
    return [bytearray(), 0, None, None, False, False]


def _mac_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", "").replace("-", ""))


class DetectorIndex:
    """Detectors grouped by how the pipeline reaches them (built once per pipeline)."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.all: tuple[Detector, ...] = tuple(detectors)
        self.ether_by_type: dict[int, list[Detector]] = {}
        self.ether_by_mac: dict[bytes, list[Detector]] = {}
        self.ether_by_sap: dict[int, list[Detector]] = {}
        self.ip_by_proto: dict[int, list[Detector]] = {}
        self.udp_by_port: dict[int, list[Detector]] = {}
        self.udp_any: list[Detector] = []
        self.tcp: list[Detector] = []
        self.tcp_syn: list[Detector] = []
        for det in self.all:
            if det.layer == "ether":
                for et in det.ethertypes:
                    self.ether_by_type.setdefault(et, []).append(det)
                for mac in det.dst_macs:
                    self.ether_by_mac.setdefault(_mac_bytes(mac), []).append(det)
                for sap in det.llc_saps:
                    self.ether_by_sap.setdefault(sap, []).append(det)
            elif det.layer == "ip":
                for proto in det.ip_protos:
                    self.ip_by_proto.setdefault(proto, []).append(det)
            elif det.layer == "udp":
                for port in det.ports:
                    self.udp_by_port.setdefault(port, []).append(det)
                if det.any_port:
                    self.udp_any.append(det)
            elif det.layer == "tcp":
                self.tcp.append(det)
            elif det.layer == "tcp_syn":
                self.tcp_syn.append(det)

    def udp_for(self, sport: int, dport: int) -> Sequence[Detector]:
        """Port-matched udp detectors of a datagram (either port), without duplicates."""
        a = self.udp_by_port.get(dport)
        b = self.udp_by_port.get(sport)
        if a and b and a is not b:
            return a + [d for d in b if d not in a]
        return a or b or ()

    def tcp_candidates(self, prefix: bytes, server_port: int | None) -> list[Detector]:
        """TCP detectors to decode a stream prefix: content probes first, then port-only signatures."""
        by_content: list[Detector] = []
        by_port: list[Detector] = []
        for det in self.tcp:
            hit = False
            if det.probe is not never:
                try:
                    hit = bool(det.probe(prefix))
                except Exception:  # noqa: BLE001 - a probe must never raise; a buggy one is ignored
                    hit = False
            if hit:
                by_content.append(det)
            elif server_port is not None and server_port in det.ports:
                by_port.append(det)
        return by_content + by_port

    def udp_any_hits(self, payload: bytes) -> list[Detector]:
        out = []
        for det in self.udp_any:
            try:
                if det.probe(payload):
                    out.append(det)
            except Exception:  # noqa: BLE001 - see tcp_candidates
                continue
        return out


def stream_prefix_full(direction: list[Any]) -> bool:
    return direction[D_SEGS] >= STREAM_SEGMENTS or len(direction[D_BUF]) >= STREAM_PREFIX


def add_segment(direction: list[Any], payload: bytes, seq: int | None) -> None:
    """Append a segment to a direction's prefix, skipping plain retransmissions."""
    nxt = direction[D_SEQ]
    if nxt is not None and seq is not None:
        delta = (seq - nxt) & 0xFFFFFFFF
        if delta >= 0x80000000:  # starts before what we already have
            overlap = (nxt - seq) & 0xFFFFFFFF
            if overlap >= len(payload):
                return
            payload = payload[overlap:]
            seq = nxt
    buf = direction[D_BUF]
    room = STREAM_PREFIX - len(buf)
    if room > 0:
        buf += payload[:room]
    direction[D_SEGS] += 1
    if seq is not None:
        direction[D_SEQ] = (seq + len(payload)) & 0xFFFFFFFF


class DeepPath:
    """The deep-path half of `collector.pipeline.Pipeline` (a mixin: it uses the pipeline's state)."""

    tables: Any
    index: DetectorIndex
    ctx: Any
    sensor: str
    streams: dict[int, list[Any]]
    wifi_stations: set[bytes]
    last_ts: float | None
    flush_interval: float
    repeats: dict[int, tuple[str, Facts]]
    """identity key hash -> (app name, the facts its decode gave); cleared at every flush"""
    deep_repeats: int
    streams_refused: int  # SYNs of connections not followed: MAX_PARALLEL_STREAMS fresh ones were followed
    flushes: int  # flushes so far (a followed connection's age)
    side_effects: int  # weirds counted + inner frames injected (a decode with side effects is not skipped)

    def weird(self, name: str, detail: str = "") -> None:
        raise NotImplementedError

    def _add(self, records: list[Observation]) -> Facts:
        raise NotImplementedError

    def _repeat(self, facts: Facts, ts: float, frame_no: int, source: str) -> bool:
        raise NotImplementedError

    def _packet(self, h: tuple[Any, ...], payload: bytes, ts: float, frame_no: int, source: str,
                tunnel: str | None, is_wifi: bool, frame: bytes | None = None, **extra: Any) -> Packet:
        text = self.tables.text
        proto = h[PROTO]
        flags = h[FLAGS]
        tcp_options = b""
        window = None
        ported = proto in (6, 17, 132)
        l4 = h[L4OFF]
        if proto == 6 and frame is not None and l4 is not None and h[IPVER]:
            window = (frame[l4 + 14] << 8) | frame[l4 + 15]
            tcp_options = frame[l4 + 20 : h[POFF]]
        return Packet(
            ts=ts, frame_no=frame_no, source=source, sensor=self.sensor, vlan=h[VLAN], outer_vlan=h[OUTER],
            src_mac=text.mac(h[SRC]), dst_mac=text.mac(h[DST]), ethertype=h[ETYPE], src_ip=text.ip(h[SIP]),
            dst_ip=text.ip(h[DIP]), ip_ttl=h[TTL],
            transport=TRANSPORTS.get(proto, "other") if h[IPVER] else None,
            src_port=h[SPORT] if ported else None, dst_port=h[DPORT] if ported else None,
            tcp_flags=flags, tcp_window=window, tcp_options=tcp_options, payload=payload, tunnel=tunnel,
            wifi=is_wifi, **extra,
        )

    def _run(self, det: Detector, pkt: Packet) -> list[Observation]:
        try:
            return list(det.decode(pkt, self.ctx))
        except MALFORMED as exc:
            self.weird(f"{det.name}_malformed", type(exc).__name__)
            return []

    def _deep(self, dets: Sequence[Detector], h: tuple[Any, ...], payload: bytes, conv: list[Any] | None,
              ts: float, frame_no: int, source: str, tunnel: str | None, is_wifi: bool,
              frame: bytes | None = None,
              **extra: Any) -> None:
        pkt = None
        repeats = self.repeats
        for det in dets:
            key = None
            if det.layer in REPEAT_LAYERS:
                if det.identity is not None:
                    ident = det.identity(payload)
                else:
                    ident = payload[2:] if det.name in TXID_DETECTORS else payload
                if ident is not None:
                    # the identity key: everything of the header view a record may state as a fact (VLANs,
                    # tunnel, Wi-Fi, MACs, ethertype, IPs, transport, ports with the dynamic range as one)
                    # and the identity bytes; inline, as calls per deep frame cost ~0.5 us
                    sport = h[SPORT]
                    if sport is not None and sport >= EPHEMERAL_PORT_MIN:
                        sport = -1
                    dport = h[DPORT]
                    if dport is not None and dport >= EPHEMERAL_PORT_MIN:
                        dport = -1
                    key = hash((det.name, h[VLAN], h[OUTER], tunnel, is_wifi, h[SRC], h[DST], h[ETYPE],
                                h[SIP], h[DIP], h[PROTO], sport, dport, ident))
                    seen = repeats.get(key)
                    if seen is not None and self._repeat(seen[1], ts, frame_no, source):
                        self.deep_repeats += 1
                        app = seen[0]
                        if app and conv is not None and conv[C_APP] is None:
                            conv[C_APP] = app
                        continue
            if pkt is None:
                pkt = self._packet(h, payload, ts, frame_no, source, tunnel, is_wifi, frame, **extra)
            before = self.side_effects
            out = self._run(det, pkt)
            if out:
                facts = self._add(out)
                app = app_of(det, out)
                if app and conv is not None and conv[C_APP] is None and det.layer != "tcp_syn":
                    conv[C_APP] = app  # an OS hint is not an application
                if key is not None and self.side_effects == before and len(repeats) < REPEAT_CAP and facts:
                    repeats[key] = (app, facts)

    def _udp(self, c: list[Any] | None, h: tuple[Any, ...], data: bytes, ts: float, frame_no: int,
             source: str,
             tunnel: str | None, is_wifi: bool, fwd: bool) -> None:
        index = self.index
        dets: Sequence[Detector] = index.udp_for(h[SPORT], h[DPORT])
        payload = None
        if c is not None and index.udp_any:
            budget = c[C_STREAM]
            side = 0 if fwd else 1
            if budget and budget[side] > 0:
                budget[side] -= 1
                payload = data[h[POFF]:h[PEND]]
                hits = [d for d in index.udp_any_hits(payload) if d not in dets]
                if hits:
                    dets = list(dets) + hits
        if dets:
            if payload is None:
                payload = data[h[POFF]:h[PEND]]
            self._deep(dets, h, payload, c, ts, frame_no, source, tunnel, is_wifi)

    def _start_stream(self, c: list[Any], client_port: int | None, first: bool = False) -> list[Any]:
        """Follow a connection of conversation `c` (the caller checked the budget and the bound)."""
        left = c[C_STREAMS_LEFT] - 1
        c[C_STREAMS_LEFT] = left
        done = c[C_DONE]
        if left <= 0:
            c[C_DONE] = ()  # nothing can start again: finished ports need no keeping
        elif client_port in done:  # the port reused by a new connection (a new SYN)
            c[C_DONE] = tuple(p for p in done if p != client_port)
        st = [client_port, new_direction(), new_direction(), first, self.flushes]
        streams = c[C_STREAM]
        if streams is None:
            streams = c[C_STREAM] = {}
            self.streams[id(c)] = c
        streams[client_port] = st
        return st

    def _open_stream(self, c: list[Any], client_port: int, syn: bool) -> list[Any] | None:
        """Follow a new connection of a known conversation if the budget and the parallel bound allow.

        At the bound, the oldest stale connection gives its slot; if none is stale, the
        connection is not followed and, when it announced itself with a SYN, counted (the bound,
        not the budget, refused it).
        """
        streams = c[C_STREAM]
        if streams is not None and len(streams) >= MAX_PARALLEL_STREAMS:
            victim = next((st for st in streams.values() if self._stale(st)), None)
            if victim is None:
                if syn:
                    self.streams_refused += 1
                return None
            if c[C_STREAMS_LEFT] <= 0:
                return None
            self._supersede(c, victim)
        if c[C_STREAMS_LEFT] <= 0:
            return None
        return self._start_stream(c, client_port)

    def _tcp(self, c: list[Any], st: list[Any], fwd: bool, h: tuple[Any, ...], data: bytes, ts: float,
             frame_no: int, source: str, tunnel: str | None, is_wifi: bool) -> None:
        """One segment of a followed connection (`st`, looked up by client port)."""
        d = st[S_C2S] if fwd else st[S_S2C]
        if d[D_DONE]:
            return
        flags = h[FLAGS]
        if flags & 0x02 and not d[D_SYN]:
            d[D_SYN] = True
            if self.index.tcp_syn and st[S_FIRST]:
                self._deep(self.index.tcp_syn, h, b"", c, ts, frame_no, source, tunnel, is_wifi, data,
                           from_client=fwd, **self._roles(c))
        if not self.index.tcp:
            if flags & 0x02 and st[S_C2S][D_SYN] and st[S_S2C][D_SYN]:
                self._end_stream(c, st)
            return
        poff, pend = h[POFF], h[PEND]
        if pend > poff:
            if d[D_FIRST] is None:
                d[D_FIRST] = (h, ts, frame_no, source, tunnel, is_wifi, data[: h[POFF]])
            add_segment(d, data[poff:pend], h[SEQ])
        if d[D_FIRST] is not None and (stream_prefix_full(d) or flags & 0x05):
            self._decide(c, st, fwd)
        elif flags & 0x05:
            d[D_DONE] = True
        if d[D_DONE]:
            other = st[S_S2C] if fwd else st[S_C2S]
            if not other[D_DONE] and not other[D_SYN] and other[D_FIRST] is None:
                other[D_DONE] = True  # not a sign from the other side yet: it is not in the capture
            if other[D_DONE]:
                self._end_stream(c, st)

    def _roles(self, c: list[Any]) -> dict[str, Any]:
        vlan, proto, cip, sip, sport = c[13]
        text = self.tables.text
        return {"client_ip": text.ip(cip), "server_ip": text.ip(sip), "server_port": sport}

    def _decide(self, c: list[Any], st: list[Any], fwd: bool) -> None:
        """Probe then decode one direction's prefix; that direction is then done."""
        d = st[S_C2S] if fwd else st[S_S2C]
        d[D_DONE] = True
        if d[D_FIRST] is None:
            return
        h, ts, frame_no, source, tunnel, is_wifi, head = d[D_FIRST]
        prefix = bytes(d[D_BUF])
        d[D_BUF] = bytearray()
        dets = self.index.tcp_candidates(prefix, c[13][4])
        if dets:
            self._deep(dets, h, prefix, c, ts, frame_no, source, tunnel, is_wifi, head, from_client=fwd,
                       **self._roles(c))

    def _stale(self, st: list[Any]) -> bool:
        """A followed connection that may give its slot to a new one: it began without a SYN seen, its
        client direction is decided, or it has been followed since before the previous flush."""
        c2s = st[S_C2S]
        return not c2s[D_SYN] or bool(c2s[D_DONE]) or st[S_EPOCH] < self.flushes - 1

    def _supersede(self, c: list[Any], st: list[Any]) -> None:
        """Decide the directions of a followed connection that hold bytes, then stop following it."""
        for fwd in (True, False):
            d = st[S_C2S] if fwd else st[S_S2C]
            if not d[D_DONE] and d[D_FIRST] is not None:
                self._decide(c, st, fwd)
        self._end_stream(c, st)

    def _end_stream(self, c: list[Any], st: list[Any]) -> None:
        """Stop following a connection; the conversation leaves `streams` with its last one."""
        streams = c[C_STREAM]
        port = st[S_PORT]
        if streams is None or streams.get(port) is not st:
            return
        del streams[port]
        if c[C_STREAMS_LEFT] > 0:
            c[C_DONE] += (port,)  # its later segments must not start it again as seen mid-way
        if not streams:
            c[C_STREAM] = None
            self.streams.pop(id(c), None)

    def _settle_streams(self, final: bool) -> None:
        """At a flush: decide every direction holding bytes; forget connections idle for a whole period."""
        self.flushes += 1
        horizon = (self.last_ts or 0.0) - self.flush_interval
        for c in list(self.streams.values()):
            streams = c[C_STREAM]
            if not streams:
                self.streams.pop(id(c), None)
                continue
            idle = final or c[C_LAST] < horizon
            for st in list(streams.values()):
                for fwd in (True, False):
                    d = st[S_C2S] if fwd else st[S_S2C]
                    if not d[D_DONE] and (d[D_SEGS] or idle):
                        self._decide(c, st, fwd)
                if st[S_C2S][D_DONE] and st[S_S2C][D_DONE]:
                    self._end_stream(c, st)

    def _wifi(self, view: Any, h: tuple[Any, ...], ts: float, frame_no: int, source: str,
              tunnel: str | None) -> None:
        if len(self.wifi_stations) >= self.tables.max_hosts:
            return
        if view.station[0] & 1 or view.station == view.bssid:
            return  # a group address or the access point itself is not a Wi-Fi client
        self.wifi_stations.add(view.station)
        text = self.tables.text
        client_ip = (text.ip(h[SIP]) if view.station == h[SRC]
                     else text.ip(h[DIP]) if view.station == h[DST] else None)
        self._add([WifiObs(
            ts=ts, sensor=self.sensor, source=source, frame_no=frame_no, vlan=h[VLAN],
            src_mac=text.mac(h[SRC]), dst_mac=text.mac(h[DST]), src_ip=text.ip(h[SIP]),
            dst_ip=text.ip(h[DIP]), tunnel=tunnel,
            evidence="dot11",
            client_mac=text.mac(view.station), client_ip=client_ip, ap_mac=text.mac(view.bssid),
            confidence=1.0,
        )])

