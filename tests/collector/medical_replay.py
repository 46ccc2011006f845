"""A stand-in for the pipeline's deep path, to test the medical detectors on their fixture captures.

It follows the detector contract of collector/protocols/base.py: for TCP, the first STREAM_PREFIX
bytes of each direction of each conversation (client = SYN sender) go to `probe`, and to `decode`
when the probe says yes or the port is a hint; for UDP, each datagram whose port is in `ports`
(or any port when `any_port` and the probe says yes).  The real pipeline replaces it in the golden
runner (tests/golden/test_detector_golden.py); this one only lets the detectors be tested alone.
"""

from __future__ import annotations

import struct
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from collector.protocols.base import STREAM_PREFIX, Detector, Packet, SimpleContext
from collector.schema import Observation

ALLOWED = (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, struct.error)


def _base(pkt: Any, frame_no: int) -> dict[str, Any]:
    ip = pkt[IP]
    return {
        "ts": float(pkt.time),
        "frame_no": frame_no,
        "vlan": pkt[Dot1Q].vlan if Dot1Q in pkt else None,
        "src_mac": pkt[Ether].src,
        "dst_mac": pkt[Ether].dst,
        "src_ip": ip.src,
        "dst_ip": ip.dst,
        "ip_ttl": ip.ttl,
    }


def _decode(det: Detector, view: Packet, ctx: SimpleContext) -> list[Observation]:
    """The per-frame boundary: a malformed input becomes the weird `<detector>_malformed`."""
    try:
        return list(det.decode(view, ctx))
    except ALLOWED:
        ctx.weird(f"{det.name}_malformed")
        return []


def replay(
    packets: list[Any], detectors: list[Detector], ctx: SimpleContext | None = None
) -> list[Observation]:
    ctx = ctx or SimpleContext()
    out: list[Observation] = []
    streams: dict[tuple[Any, ...], dict[str, Any]] = {}
    order: list[tuple[Any, ...]] = []
    for frame_no, pkt in enumerate(packets, start=1):
        if IP not in pkt:
            continue
        if UDP in pkt:
            u = pkt[UDP]
            data = bytes(u.payload)
            view = Packet(
                **_base(pkt, frame_no), transport="udp", src_port=u.sport, dst_port=u.dport, payload=data
            )
            for det in detectors:
                if det.layer != "udp":
                    continue
                if u.sport in det.ports or u.dport in det.ports or (det.any_port and det.probe(data)):
                    out += _decode(det, view, ctx)
            continue
        if TCP not in pkt:
            continue
        t = pkt[TCP]
        a, b = (pkt[IP].src, t.sport), (pkt[IP].dst, t.dport)
        key = (min(a, b), max(a, b))
        if key not in streams:
            syn_only = t.flags & 0x02 and not t.flags & 0x10
            client, server = (a, b) if syn_only or t.sport > t.dport else (b, a)
            streams[key] = {"client": client, "server": server, True: None, False: None}
            order.append(key)
        s = streams[key]
        data = bytes(t.payload)
        if not data:
            continue
        from_client = a == s["client"]
        if s[from_client] is None:
            s[from_client] = {"first": (pkt, frame_no), "data": b""}
        s[from_client]["data"] = (s[from_client]["data"] + data)[:STREAM_PREFIX]
    for key in order:
        s = streams[key]
        for from_client in (True, False):
            half = s[from_client]
            if half is None:
                continue
            pkt, frame_no = half["first"]
            view = Packet(
                **_base(pkt, frame_no),
                transport="tcp",
                src_port=pkt[TCP].sport,
                dst_port=pkt[TCP].dport,
                payload=half["data"],
                from_client=from_client,
                client_ip=s["client"][0],
                server_ip=s["server"][0],
                server_port=s["server"][1],
            )
            for det in detectors:
                if det.layer != "tcp":
                    continue
                if det.probe(half["data"]) or s["server"][1] in det.ports:
                    out += _decode(det, view, ctx)
    return out


def medical_detectors() -> list[Detector]:
    from collector.protocols import astm, dicom, hl7, intellivue, poct, sdc

    return [m.DETECTOR for m in (dicom, hl7, sdc, intellivue, poct, astm)]
