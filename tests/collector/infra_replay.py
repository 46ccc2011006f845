"""A stand-in for the pipeline's deep path for the infrastructure detectors (ether, udp, tcp, tcp_syn).

Follows the detector contract of collector/protocols/base.py: ether detectors get the L2 payload
after VLAN tags (after the 802.3 length field for LLC frames); UDP detectors each datagram on
their ports (or any port when `any_port` and the probe agrees); TCP detectors the first
STREAM_PREFIX bytes of each direction of each conversation (client = SYN sender); tcp_syn
detectors the first SYN.  The real pipeline replaces it in the golden runner.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot3, Ether
from scapy.utils import PcapReader

from collector.protocols.base import STREAM_PREFIX, Detector, Packet, SimpleContext
from collector.schema import Observation

ALLOWED = (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, struct.error)
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def l2_view(frame: bytes) -> dict[str, Any] | None:
    """MACs, VLANs, ethertype and L2 payload of an Ethernet frame."""
    if len(frame) < 14:
        return None
    vlans: list[int] = []
    pos, etype = 12, struct.unpack_from("!H", frame, 12)[0]
    while etype in VLAN_TPIDS and pos + 6 <= len(frame):
        vlans.append(struct.unpack_from("!H", frame, pos + 2)[0] & 0xFFF)
        pos += 4
        etype = struct.unpack_from("!H", frame, pos)[0]
    payload = frame[pos + 2 :]
    if etype <= 1500:
        payload, etype = payload[:etype], 0
    return {
        "dst_mac": _mac(frame[0:6]),
        "src_mac": _mac(frame[6:12]),
        "ethertype": etype,
        "payload": payload,
        "vlan": vlans[-1] if vlans else None,
        "outer_vlan": vlans[0] if len(vlans) > 1 else None,
    }


def _decode(det: Detector, view: Packet, ctx: SimpleContext) -> list[Observation]:
    try:
        return list(det.decode(view, ctx))
    except ALLOWED:
        ctx.weird(f"{det.name}_malformed")
        return []


def read(path: Path, limit: int = 5000) -> list[Any]:
    out = []
    with PcapReader(str(path)) as reader:
        for i, pkt in enumerate(reader):
            if i >= limit:
                break
            out.append(pkt)
    return out


def replay(
    packets: list[Any], detectors: list[Detector], ctx: SimpleContext | None = None
) -> list[Observation]:
    ctx = ctx or SimpleContext()
    out: list[Observation] = []
    streams: dict[tuple[Any, ...], dict[Any, Any]] = {}
    order: list[tuple[Any, ...]] = []
    for frame_no, pkt in enumerate(packets, start=1):
        l2 = l2_view(bytes(pkt)) if isinstance(pkt, (Ether, Dot3)) else None
        base: dict[str, Any] = {"ts": float(pkt.time), "frame_no": frame_no}
        if l2:
            base.update({k: l2[k] for k in ("src_mac", "dst_mac", "vlan", "outer_vlan")})
            for det in detectors:
                if det.layer == "ether" and (
                    l2["ethertype"] in det.ethertypes or l2["dst_mac"] in det.dst_macs
                ):
                    out += _decode(det, Packet(**base, ethertype=l2["ethertype"], payload=l2["payload"]), ctx)
        ip = pkt[IP] if IP in pkt else pkt[IPv6] if IPv6 in pkt else None
        if ip is None:
            continue
        base.update(src_ip=ip.src, dst_ip=ip.dst, ip_ttl=ip.ttl if IP in pkt else ip.hlim)
        if UDP in pkt:
            u = pkt[UDP]
            data = bytes(u.payload)
            view = Packet(**base, transport="udp", src_port=u.sport, dst_port=u.dport, payload=data)
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
        syn_only = bool(t.flags & 0x02) and not t.flags & 0x10
        if key not in streams:
            client, server = (a, b) if syn_only or t.sport > t.dport else (b, a)
            streams[key] = {"client": client, "server": server, True: None, False: None}
            order.append(key)
            if syn_only:
                opts = bytes(t)[20 : t.dataofs * 4] if t.dataofs else b""
                view = Packet(
                    **base,
                    transport="tcp",
                    src_port=t.sport,
                    dst_port=t.dport,
                    tcp_flags=int(t.flags),
                    tcp_window=t.window,
                    tcp_options=opts,
                )
                for det in detectors:
                    if det.layer == "tcp_syn":
                        out += _decode(det, view, ctx)
        s = streams[key]
        data = bytes(t.payload)
        if not data:
            continue
        from_client = a == s["client"]
        if s[from_client] is None:
            s[from_client] = {"base": dict(base, src_port=t.sport, dst_port=t.dport), "data": b""}
        s[from_client]["data"] = (s[from_client]["data"] + data)[:STREAM_PREFIX]
    for key in order:
        s = streams[key]
        for from_client in (True, False):
            half = s[from_client]
            if half is None:
                continue
            view = Packet(
                **half["base"],
                transport="tcp",
                payload=half["data"],
                from_client=from_client,
                client_ip=s["client"][0],
                server_ip=s["server"][0],
                server_port=s["server"][1],
            )
            for det in detectors:
                if det.layer == "tcp" and (det.probe(half["data"]) or s["server"][1] in det.ports):
                    out += _decode(det, view, ctx)
    return out


def infra_detectors() -> list[Detector]:
    from collector.protocols import (
        arp,
        cdp,
        dhcp,
        dns,
        http,
        lldp,
        netbios,
        oshint,
        smb,
        snmp,
        ssdp,
        ssh,
        tls,
    )

    dets = [m.DETECTOR for m in (arp, cdp, dhcp, http, lldp, netbios, oshint, smb, snmp, ssdp, ssh, tls)]
    return dets + list(dns.DETECTORS)
