"""A stand-in for the pipeline's deep path, to test the remote-access and Wi-Fi detectors alone.

It follows the detector contract of collector/protocols/base.py: for TCP, the first STREAM_PREFIX
bytes of each direction of each conversation (client = SYN sender, else the higher port) go to
`probe`, and to `decode` when the probe says yes or the server port is a hint; for UDP, each
datagram whose port is in `ports` (or any port when `any_port` and the probe says yes); for the
`ip` layer, each IPv4 packet whose protocol is in `ip_protos`.  Works on real captures too (any
link type scapy reads, IPv4 only).  The golden runner uses the real pipeline instead.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import rdpcap

from collector.protocols.base import STREAM_PREFIX, Detector, Packet, SimpleContext
from collector.schema import Observation

ALLOWED = (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, struct.error)


def remote_detectors() -> list[Detector]:
    from collector.protocols import aruba_gre, capwap, ftp, lwapp, radius, rdp, signatures, telnet, tunnels, vnc

    dets = [m.DETECTOR for m in (rdp, vnc, telnet, ftp, capwap, lwapp, aruba_gre, radius)]
    return dets + list(tunnels.DETECTORS) + list(signatures.DETECTORS)


def _base(pkt: Any, frame_no: int) -> dict[str, Any]:
    ip = pkt[IP]
    eth = pkt.getlayer(Ether)
    return {
        "ts": float(pkt.time), "frame_no": frame_no, "vlan": pkt[Dot1Q].vlan if Dot1Q in pkt else None,
        "src_mac": eth.src if eth is not None else None, "dst_mac": eth.dst if eth is not None else None,
        "src_ip": ip.src, "dst_ip": ip.dst, "ip_ttl": ip.ttl,
    }


def _decode(det: Detector, view: Packet, ctx: SimpleContext) -> list[Observation]:
    try:
        return list(det.decode(view, ctx))
    except ALLOWED:
        ctx.weird(f"{det.name}_malformed")
        return []


def replay(packets: list[Any], detectors: list[Detector] | None = None,
           ctx: SimpleContext | None = None) -> list[Observation]:
    detectors = remote_detectors() if detectors is None else detectors
    ctx = ctx if ctx is not None else SimpleContext()
    out: list[Observation] = []
    streams: dict[tuple[Any, ...], dict[Any, Any]] = {}
    order: list[tuple[Any, ...]] = []
    for frame_no, pkt in enumerate(packets, start=1):
        if IP not in pkt or pkt[IP].frag or pkt[IP].flags.MF:
            continue
        if pkt[IP].len is None:  # freshly built by scapy: dissect its bytes as a capture would
            ts, pkt = pkt.time, pkt.__class__(bytes(pkt))
            pkt.time = ts
        ip = pkt[IP]
        l4 = bytes(ip.payload)[: max(0, ip.len - ip.ihl * 4)]  # without Ethernet padding
        for det in detectors:
            if det.layer == "ip" and ip.proto in det.ip_protos:
                out += _decode(det, Packet(**_base(pkt, frame_no), payload=l4), ctx)
        if UDP in pkt:
            u = pkt[UDP]
            data = l4[8 : max(8, u.len)]
            view = Packet(**_base(pkt, frame_no), transport="udp", src_port=u.sport, dst_port=u.dport, payload=data)
            for det in detectors:
                if det.layer == "udp" and (
                    u.sport in det.ports or u.dport in det.ports or (det.any_port and det.probe(data))
                ):
                    out += _decode(det, view, ctx)
            continue
        if TCP not in pkt:
            continue
        t = pkt[TCP]
        a, b = (ip.src, t.sport), (ip.dst, t.dport)
        key = (min(a, b), max(a, b))
        if key not in streams:
            syn_only = t.flags & 0x02 and not t.flags & 0x10
            client, server = (a, b) if syn_only or t.sport > t.dport else (b, a)
            streams[key] = {"client": client, "server": server, True: None, False: None}
            order.append(key)
        s = streams[key]
        data = l4[t.dataofs * 4 :]
        if not data:
            continue
        from_client = a == s["client"]
        if s[from_client] is None:
            s[from_client] = {"first": (pkt, frame_no), "data": b"", "seqs": set()}
        half = s[from_client]
        if t.seq in half["seqs"]:
            continue  # retransmission
        half["seqs"].add(t.seq)
        half["data"] = (half["data"] + data)[:STREAM_PREFIX]
    for key in order:
        s = streams[key]
        for from_client in (True, False):
            half = s[from_client]
            if half is None:
                continue
            pkt, frame_no = half["first"]
            view = Packet(
                **_base(pkt, frame_no), transport="tcp", src_port=pkt[TCP].sport, dst_port=pkt[TCP].dport,
                payload=half["data"], from_client=from_client, client_ip=s["client"][0],
                server_ip=s["server"][0], server_port=s["server"][1],
            )
            for det in detectors:
                if det.layer == "tcp" and (det.probe(half["data"]) or s["server"][1] in det.ports):
                    out += _decode(det, view, ctx)
    return out


def replay_file(path: Path, ctx: SimpleContext | None = None) -> list[Observation]:
    if ctx is None:
        return list(_replay_cached(path))
    return replay(list(rdpcap(str(path))), None, ctx)


@lru_cache(maxsize=16)
def _replay_cached(path: Path) -> tuple[Observation, ...]:
    """Real captures are read once per test session (records are frozen, so sharing them is safe)."""
    return tuple(replay(list(rdpcap(str(path))), None, SimpleContext()))
