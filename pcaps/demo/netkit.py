"""Small frame builders for the demo hospital captures (802.1Q trunk seen on a SPAN port).

A host is `(mac, ip, vlan)`.  Between VLANs the router (one Cisco HSRP-like MAC, `.1` on every
VLAN) is the layer-2 peer, as a SPAN of the trunk shows it; a host with vlan 0 is on the Internet
(its frames come from the router on the inside host's VLAN).  Every packet gets an explicit,
deterministic `.time`; nothing reads the wall clock or an unseeded random source.
"""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from pcaps.fixtures import gen_infra as infra
from pcaps.fixtures._streams import tcp_stream

ROUTER_MAC = "00:00:0c:9f:f0:01"
BROADCAST = "ff:ff:ff:ff:ff:ff"
Host = tuple[str, str, int]
DAY0 = 1772438400.0  # 2026-03-02 08:00:00 UTC, a Monday (09:00 in Europe/Paris)

WIN_SYN = [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
LINUX_SYN = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def at(hour: int, minute: int, second: float = 0.0) -> float:
    """Epoch seconds of hh:mm:ss UTC on the demo day."""
    return DAY0 + (hour - 8) * 3600 + minute * 60 + second


def gateway_ip(vlan_ip: str) -> str:
    """The router address (.1) of a host's /24."""
    return vlan_ip.rsplit(".", 1)[0] + ".1"


def l3(src: Host, dst: Host, ttl: int | None = None) -> Packet:
    """Ether/Dot1Q/IP as seen on the trunk: on the source's VLAN (the destination's for Internet sources)."""
    same = src[2] and src[2] == dst[2]
    src_mac = src[0] if src[2] else ROUTER_MAC
    dst_mac = dst[0] if same or not src[2] else ROUTER_MAC  # from the Internet: delivered on dst's VLAN
    vlan = src[2] or dst[2]
    if ttl is None:
        ttl = 64 if src[2] else 49
    return Ether(src=src_mac, dst=dst_mac) / Dot1Q(vlan=vlan) / IP(src=src[1], dst=dst[1], ttl=ttl)


def timed(pkts: list[Packet], t: float, step: float = 0.01) -> list[Packet]:
    for i, p in enumerate(pkts):
        p.time = round(t + i * step, 6)
    return pkts


def tcp_session(
    client: Host,
    server: Host,
    sport: int,
    dport: int,
    chunks: list[tuple[bool, bytes]],
    t: float,
    *,
    ttl: int | None = None,
    server_ttl: int | None = None,
    syn_options: list | None = None,
    close: bool = True,
) -> list[Packet]:
    """SYN, SYN-ACK, ACK, then payload segments (True = client to server) with consistent seq/ack, then FINs.

    ttl/syn_options shape the client's SYN (OS hints: Windows 128 + WIN_SYN, Linux 64 + LINUX_SYN);
    server_ttl the server's packets."""
    pkts = tcp_stream(
        l3(client, server, ttl), l3(server, client, server_ttl), sport, dport, chunks,
        seq_c=1000 + sport, seq_s=50000 + dport,
        syn={"window": 64240, "options": syn_options or LINUX_SYN},
        synack={"window": 65160, "options": [("MSS", 1460)]},
        close="full" if close else "none",
    )
    return timed(pkts, t)


def udp_dgram(src: Host, dst: Host, sport: int, dport: int, data: bytes) -> Packet:
    """A unicast UDP datagram (routed when the VLANs differ)."""
    return l3(src, dst) / UDP(sport=sport, dport=dport) / Raw(data)


def udp_bcast(src: Host, dst_ip: str, sport: int, dport: int, data: bytes, dst_mac: str = BROADCAST,
              src_ip: str | None = None) -> Packet:
    """A broadcast/multicast UDP datagram on the source's VLAN."""
    return (Ether(src=src[0], dst=dst_mac) / Dot1Q(vlan=src[2])
            / IP(src=src[1] if src_ip is None else src_ip, dst=dst_ip, ttl=64)
            / UDP(sport=sport, dport=dport) / Raw(data))


def arp_pair(host: Host, t: float) -> list[Packet]:
    """The host asks for its gateway and the router answers (both on the host's VLAN)."""
    gw = gateway_ip(host[1])
    req = Ether(src=host[0], dst=BROADCAST) / Dot1Q(vlan=host[2]) / ARP(
        op=1, hwsrc=host[0], psrc=host[1], hwdst="00:00:00:00:00:00", pdst=gw)
    rep = Ether(src=ROUTER_MAC, dst=host[0]) / Dot1Q(vlan=host[2]) / ARP(
        op=2, hwsrc=ROUTER_MAC, psrc=gw, hwdst=host[0], pdst=host[1])
    return timed([req, rep], t)


def arp_announce(host: Host, t: float) -> list[Packet]:
    """A gratuitous ARP (the host announces its own address)."""
    frame = Ether(src=host[0], dst=BROADCAST) / Dot1Q(vlan=host[2]) / ARP(
        op=1, hwsrc=host[0], psrc=host[1], hwdst="00:00:00:00:00:00", pdst=host[1])
    return timed([frame], t)


# --------------------------------------------------------------------------- name and time services
# The same exchanges in every demo hospital, with that hospital's hosts: one definition of their bytes.


def dns_a_exchange(client: Host, server: Host, name: str, answer_ip: str, tid: int, t: float) -> list[Packet]:
    """A DNS A query and its one-answer reply (RFC 1035), from an ephemeral port derived from `tid`."""
    q = infra.dns_message(tid, 0x0100, [(name, 1)], [])
    a = infra.dns_message(tid, 0x8180, [(name, 1)], [infra.rr(b"\xc0\x0c", 1, _ip4(answer_ip))])
    sport = 50000 + tid % 10000
    return timed([udp_dgram(client, server, sport, 53, q), udp_dgram(server, client, 53, sport, a)], t)


def ntp_exchange(client: Host, server: Host, t: float, sport: int = 49123) -> list[Packet]:
    """NTPv4 client (mode 3) and server (mode 4) packets (RFC 5905), 48 bytes each."""
    req = bytes([0x23]) + bytes(39) + struct.pack("!II", 0xED5A0000, 0)
    rep = bytes([0x24, 2, 6, 0xE9]) + bytes(8) + b"GPS\x00" + bytes(24) + struct.pack("!II", 0xED5A0001, 0)
    return timed([udp_dgram(client, server, sport, 123, req), udp_dgram(server, client, 123, sport, rep)], t)


def nbns_registration(host: Host, name: str, t: float, tid: int) -> list[Packet]:
    """A Windows host registers its workstation name (suffix 0x00) by broadcast on its /24 (RFC 1002)."""
    ip = host[1]
    reg = (
        struct.pack("!HHHHHH", tid, 0x2910, 1, 0, 0, 1)
        + infra.nb_encode(name, 0x00)
        + struct.pack("!HH", 0x20, 1)
        + b"\xc0\x0c"
        + struct.pack("!HHIH", 0x20, 1, 300000, 6)
        + b"\x00\x00"
        + _ip4(ip)
    )
    return timed([udp_bcast(host, ip.rsplit(".", 1)[0] + ".255", 137, 137, reg)], t)


def _ip4(address: str) -> bytes:
    return bytes(map(int, address.split(".")))
