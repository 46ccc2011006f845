"""The deep path: which detector sees which frame, TCP stream prefixes, the per-frame boundary.

Only identity-bearing bytes reach a detector (collector/protocols/base.py explains the layers):
ether detectors by ethertype or destination MAC, ip detectors by protocol number, udp
detectors by port (any-port detectors probe only the first `UDP_PROBE_DATAGRAMS` datagrams of
each conversation), tcp detectors on the first payload bytes of each direction of each new
conversation (`STREAM_PREFIX` bytes over at most `STREAM_SEGMENTS` segments, decided when the
prefix is full, the direction ends (FIN/RST) or at the next flush), tcp_syn detectors on the
first SYN (and SYN/ACK) of a new conversation.  After its prefix a conversation only counts
bytes, so the bulk of a DICOM transfer costs a header walk.

Identity repeats: within one flush period, an ether/ip/udp-layer frame whose identity key
(detector name, VLAN, outer VLAN, tunnel, source and destination MAC, source and destination
IP, payload bytes; the 2-byte transaction id of DNS/mDNS/LLMNR/NetBIOS-NS excluded; not the
ports, so a query repeated from a new ephemeral port is a repeat) equals that of a frame already
decoded into records carries no new identity (the ARP who-has, DNS query, DHCP discover or
LLDP/CDP announcement repeated every few seconds): it is counted in `CaptureStats.deep_repeats`
instead of decoded again.  The keys (64-bit hashes, at most `REPEAT_CAP` per period; when full,
frames decode normally) are forgotten at every flush, so the analyzer sees such a fact once per
flush period rather than once per frame.  Only a decode that produced records without side
effects (no weird counted, no inner frame re-injected) is remembered, so a tunnel's inner frames
and a malformed frame's weirds are never skipped; TCP stream detectors are not concerned (one
prefix per direction of a new conversation already).

Any exception a decoder raises on malformed bytes (struct.error, IndexError, ValueError,
UnicodeDecodeError, KeyError, OverflowError) becomes the weird `<detector>_malformed`; the
frame still counts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from collector.flows import C_APP, C_LAST, C_STREAM, C_STREAMS_LEFT, MAX_STREAMS_PER_CONVERSATION, TRANSPORTS
from collector.protocols.base import STREAM_PREFIX, Detector, Packet, never
from collector.schema import Observation, WifiObs

STREAM_SEGMENTS = 4
UDP_PROBE_DATAGRAMS = 8
REPEAT_CAP = 65_536
REPEAT_LAYERS = frozenset({"ether", "ip", "udp"})
TXID_DETECTORS = frozenset({"dns", "mdns", "llmnr", "netbios-ns"})  # payload[0:2] is a transaction id
MALFORMED = (struct.error, IndexError, ValueError, UnicodeDecodeError, KeyError, OverflowError)

# A direction of a TCP stream prefix: [buffer, segments, first frame info, next seq, syn handled, done]
D_BUF, D_SEGS, D_FIRST, D_SEQ, D_SYN, D_DONE = range(6)


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
    repeats: dict[int, str]  # identity key hash -> app name, cleared at every flush
    deep_repeats: int
    side_effects: int  # weirds counted + inner frames injected (a decode with side effects is not skipped)

    def weird(self, name: str, detail: str = "") -> None:
        raise NotImplementedError

    def _add(self, records: list[Observation]) -> None:
        raise NotImplementedError

    def _start_stream(self, c: list[Any], client_port: int | None) -> None:
        c[C_STREAMS_LEFT] -= 1
        c[C_STREAM] = [client_port, new_direction(), new_direction()]
        self.streams[id(c)] = c

    def _packet(self, h: tuple[Any, ...], payload: bytes, ts: float, frame_no: int, source: str,
                tunnel: str | None, is_wifi: bool, frame: bytes | None = None, **extra: Any) -> Packet:
        text = self.tables.text
        proto = h[9]
        flags = h[13]
        tcp_options = b""
        window = None
        ported = proto in (6, 17, 132)
        l4 = h[14]
        if proto == 6 and frame is not None and l4 is not None and h[6]:
            window = (frame[l4 + 14] << 8) | frame[l4 + 15]
            tcp_options = frame[l4 + 20 : h[15]]
        return Packet(
            ts=ts, frame_no=frame_no, source=source, sensor=self.sensor, vlan=h[2], outer_vlan=h[3],
            src_mac=text.mac(h[0]), dst_mac=text.mac(h[1]), ethertype=h[4], src_ip=text.ip(h[7]),
            dst_ip=text.ip(h[8]), ip_ttl=h[10], transport=TRANSPORTS.get(proto, "other") if h[6] else None,
            src_port=h[11] if ported else None, dst_port=h[12] if ported else None,
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
              ts: float, frame_no: int, source: str, tunnel: str | None, is_wifi: bool, frame: bytes | None = None,
              **extra: Any) -> None:
        pkt = None
        repeats = self.repeats
        for det in dets:
            key = None
            if det.layer in REPEAT_LAYERS:
                key = hash((det.name, h[2], h[3], tunnel, h[0], h[1], h[7], h[8],
                            payload[2:] if det.name in TXID_DETECTORS else payload))
                app = repeats.get(key)
                if app is not None:
                    self.deep_repeats += 1
                    if conv is not None and conv[C_APP] is None:
                        conv[C_APP] = app
                    continue
            if pkt is None:
                pkt = self._packet(h, payload, ts, frame_no, source, tunnel, is_wifi, frame, **extra)
            before = self.side_effects
            out = self._run(det, pkt)
            if out:
                self._add(out)
                app = det.app or det.name
                if conv is not None and conv[C_APP] is None and det.layer != "tcp_syn":
                    conv[C_APP] = app  # an OS hint is not an application
                if key is not None and self.side_effects == before and len(repeats) < REPEAT_CAP:
                    repeats[key] = app

    def _udp(self, c: list[Any] | None, h: tuple[Any, ...], data: bytes, ts: float, frame_no: int, source: str,
             tunnel: str | None, is_wifi: bool, fwd: bool) -> None:
        index = self.index
        dets: Sequence[Detector] = index.udp_for(h[11], h[12])
        payload = None
        if c is not None and index.udp_any:
            budget = c[C_STREAM]
            side = 0 if fwd else 1
            if budget and budget[side] > 0:
                budget[side] -= 1
                payload = data[h[15]:h[16]]
                hits = [d for d in index.udp_any_hits(payload) if d not in dets]
                if hits:
                    dets = list(dets) + hits
        if dets:
            if payload is None:
                payload = data[h[15]:h[16]]
            self._deep(dets, h, payload, c, ts, frame_no, source, tunnel, is_wifi)

    def _tcp(self, c: list[Any], st: list[Any], fwd: bool, h: tuple[Any, ...], data: bytes, ts: float,
             frame_no: int, source: str, tunnel: str | None, is_wifi: bool) -> None:
        if (h[11] if fwd else h[12]) != st[0]:
            return  # another connection of the conversation: only the one being parsed feeds the prefix
        d = st[1] if fwd else st[2]
        if d[D_DONE]:
            return
        flags = h[13]
        if flags & 0x02 and not d[D_SYN]:
            d[D_SYN] = True
            if self.index.tcp_syn and c[C_STREAMS_LEFT] == MAX_STREAMS_PER_CONVERSATION - 1:
                self._deep(self.index.tcp_syn, h, b"", c, ts, frame_no, source, tunnel, is_wifi, data,
                           from_client=fwd, **self._roles(c))
        if not self.index.tcp:
            if flags & 0x02 and st[1][D_SYN] and st[2][D_SYN]:
                self._end_stream(c)
            return
        poff, pend = h[15], h[16]
        if pend > poff:
            if d[D_FIRST] is None:
                d[D_FIRST] = (h, ts, frame_no, source, tunnel, is_wifi, data[: h[15]])
            add_segment(d, data[poff:pend], h[17])
        if d[D_FIRST] is not None and (stream_prefix_full(d) or flags & 0x05):
            self._decide(c, st, fwd)
        elif flags & 0x05:
            d[D_DONE] = True
        if st[1][D_DONE] and st[2][D_DONE]:
            self._end_stream(c)

    def _roles(self, c: list[Any]) -> dict[str, Any]:
        vlan, proto, cip, sip, sport = c[13]
        text = self.tables.text
        return {"client_ip": text.ip(cip), "server_ip": text.ip(sip), "server_port": sport}

    def _decide(self, c: list[Any], st: list[Any], fwd: bool) -> None:
        """Probe then decode one direction's prefix; that direction is then done."""
        d = st[1] if fwd else st[2]
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

    @staticmethod
    def _stale(st: list[Any]) -> bool:
        """The followed connection began without a SYN seen, or its client direction is finished.

        Parallel connections still pending keep the first one (one prefix per conversation at a time).
        """
        return not st[1][D_SYN] or bool(st[1][D_DONE])

    def _supersede(self, c: list[Any], st: list[Any]) -> None:
        """Decide the directions of the followed connection that hold bytes, then stop following it."""
        for fwd in (True, False):
            d = st[1] if fwd else st[2]
            if not d[D_DONE] and d[D_FIRST] is not None:
                self._decide(c, st, fwd)
        self._end_stream(c)

    def _end_stream(self, c: list[Any]) -> None:
        c[C_STREAM] = None
        self.streams.pop(id(c), None)

    def _settle_streams(self, final: bool) -> None:
        """At a flush: decide every direction holding bytes; forget streams idle for a whole period."""
        horizon = (self.last_ts or 0.0) - self.flush_interval
        for c in list(self.streams.values()):
            st = c[C_STREAM]
            if not st:
                self.streams.pop(id(c), None)
                continue
            for fwd in (True, False):
                d = st[1] if fwd else st[2]
                if not d[D_DONE] and (d[D_SEGS] or final or c[C_LAST] < horizon):
                    self._decide(c, st, fwd)
            if st[1][D_DONE] and st[2][D_DONE]:
                self._end_stream(c)

    def _wifi(self, view: Any, h: tuple[Any, ...], ts: float, frame_no: int, source: str,
              tunnel: str | None) -> None:
        if len(self.wifi_stations) >= self.tables.max_hosts:
            return
        if view.station[0] & 1 or view.station == view.bssid:
            return  # a group address or the access point itself is not a Wi-Fi client
        self.wifi_stations.add(view.station)
        text = self.tables.text
        client_ip = text.ip(h[7]) if view.station == h[0] else text.ip(h[8]) if view.station == h[1] else None
        self._add([WifiObs(
            ts=ts, sensor=self.sensor, source=source, frame_no=frame_no, vlan=h[2], src_mac=text.mac(h[0]),
            dst_mac=text.mac(h[1]), src_ip=text.ip(h[7]), dst_ip=text.ip(h[8]), tunnel=tunnel, evidence="dot11",
            client_mac=text.mac(view.station), client_ip=client_ip, ap_mac=text.mac(view.bssid), confidence=1.0,
        )])

