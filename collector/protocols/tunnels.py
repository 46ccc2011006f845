"""VPN tunnels that may be a supplier's remote-maintenance path: IPsec (IKE, ESP) and OpenVPN.

- IKE on UDP 500 and 4500 (RFC 7296 section 3.1 for IKEv2, RFC 2408 section 3.1 for ISAKMP/IKEv1;
  on 4500 a 4-byte zero non-ESP marker precedes it, RFC 3948 section 2.2).  The 28-byte header
  is checked (version 1.0 or 2.0, length field equal to the datagram); a record is emitted for
  the initiator's first message only (responder SPI zero), so one per negotiation.
  IKEv1 aggressive mode is named in `detail` (its PSK hash can be cracked offline).
- ESP, IP protocol 50 (RFC 4303): SPI and sequence number only; a record for sequence 1 (new
  SA) and every 1024th packet, so a tunnel already up when the capture starts still shows.
- OpenVPN on UDP/TCP 1194 (OpenVPN ssl_pkt.h opcodes): a record for the client's hard-reset
  packet (session start); data packets give nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

IKE_PORTS = frozenset({500, 4500})
IKE_EXCHANGES = {2: "main-mode", 4: "aggressive-mode", 5: "informational", 32: "quick-mode",
                 34: "ike-sa-init", 35: "ike-auth", 36: "create-child-sa", 37: "informational"}
OPENVPN_PORTS = frozenset({1194})
OPENVPN_RESET_CLIENT = {1: "hard-reset-client-v1", 7: "hard-reset-client-v2", 10: "hard-reset-client-v3"}
ESP_SAMPLE = 1024


def _ike_body(payload: bytes, port_4500: bool) -> bytes | None:
    if port_4500:
        if len(payload) < 4 or payload[:4] != b"\x00\x00\x00\x00":
            return None  # ESP-in-UDP or NAT keepalive (0xff), not IKE
        payload = payload[4:]
    return payload


def _ike_header(body: bytes) -> tuple[int, int, bytes, int] | None:
    """(major version, exchange type, responder SPI, message id) when `body` is an IKE header."""
    if len(body) < 28:
        return None
    version, exchange, _flags, msg_id, length = struct.unpack_from("!BBBII", body, 17)
    major = version >> 4
    if major not in (1, 2) or length != len(body) or exchange not in IKE_EXCHANGES:
        return None
    return major, exchange, body[8:16], msg_id


def ike_probe(payload: bytes) -> bool:
    for marker in (False, True):
        body = _ike_body(payload, marker)
        if body is not None and _ike_header(body) is not None:
            return True
    return False


def _ike_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    port_4500 = 4500 in (pkt.src_port, pkt.dst_port)
    body = _ike_body(pkt.payload, port_4500)
    header = _ike_header(body) if body is not None else None
    if header is None:
        if body is not None and len(body) >= 28:
            ctx.weird("ike_bad_header")
        return []
    major, exchange, spi_r, _msg_id = header
    if spi_r != b"\x00" * 8:
        return []  # only the initiator's first message: one record per negotiation
    return [RemoteAccessObs(
        **pkt.envelope(), method="ipsec", signature=f"ipsec-ikev{major}", evidence="content", confidence=0.9,
        client_ip=pkt.src_ip, server_ip=pkt.dst_ip, server_port=pkt.dst_port,
        detail=f"IKEv{major} {IKE_EXCHANGES[exchange]}",
    )]


def _esp_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    spi, seq = struct.unpack_from("!II", pkt.payload, 0)
    if spi < 256:
        raise ValueError("ESP SPI 0-255 is reserved")
    if seq != 1 and seq % ESP_SAMPLE:
        return []
    return [RemoteAccessObs(
        **pkt.envelope(), method="ipsec", signature="ipsec-esp", evidence="content", confidence=0.9,
        client_ip=pkt.src_ip, server_ip=pkt.dst_ip, server_port=None,
        detail=f"ESP spi=0x{spi:08x}" + (" new-sa" if seq == 1 else ""),
    )]


def _openvpn_reset(packet: bytes) -> str | None:
    """Name of a client hard-reset opcode at the start of an OpenVPN packet, key id 0."""
    if len(packet) < 14:
        return None
    opcode, key_id = packet[0] >> 3, packet[0] & 0x07
    if key_id != 0 or opcode not in OPENVPN_RESET_CLIENT:
        return None
    return OPENVPN_RESET_CLIENT[opcode]


def openvpn_udp_probe(payload: bytes) -> bool:
    return 14 <= len(payload) <= 1500 and _openvpn_reset(payload) is not None


def openvpn_tcp_probe(payload: bytes) -> bool:
    if len(payload) < 16:
        return False
    (length,) = struct.unpack_from("!H", payload, 0)
    return 14 <= length <= 1500 and length <= len(payload) - 2 and _openvpn_reset(payload[2:]) is not None


def _openvpn_decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    tcp = pkt.transport == "tcp"
    if tcp and not pkt.from_client:
        return []
    packet = pkt.payload[2:] if tcp else pkt.payload
    if tcp and not openvpn_tcp_probe(pkt.payload):
        return []
    name = _openvpn_reset(packet)
    if name is None:
        return []  # data and control packets: only the session start is recorded
    # Without tls-auth/tls-crypt the ack array length (byte 9) and message packet id are zero.
    plain = len(packet) >= 14 and packet[9] == 0 and packet[10:14] == b"\x00\x00\x00\x00"
    return [RemoteAccessObs(
        **pkt.envelope(), method="openvpn", signature="openvpn-tcp" if tcp else "openvpn-udp",
        evidence="content",
        confidence=0.9 if plain else 0.7, client_ip=pkt.client_ip or pkt.src_ip,
        server_ip=pkt.server_ip or pkt.dst_ip, server_port=pkt.server_port or pkt.dst_port,
        detail=name + ("" if plain else " tls-auth"),
    )]


DETECTORS = [
    Detector(name="ike", layer="udp", decode=_ike_decode, probe=ike_probe, ports=IKE_PORTS, app="ipsec",
             bpf_hint="udp port 500 or udp port 4500", description="IPsec IKEv1/v2 initiator message"),
    Detector(name="esp", layer="ip", decode=_esp_decode, ip_protos=frozenset({50}), app="ipsec",
             bpf_hint="ip proto 50", description="IPsec ESP (sampled: new SA and every 1024th packet)"),
    Detector(name="openvpn-udp", layer="udp", decode=_openvpn_decode, probe=openvpn_udp_probe,
             ports=OPENVPN_PORTS, app="openvpn", bpf_hint="udp port 1194",
             description="OpenVPN hard reset (UDP)"),
    Detector(name="openvpn-tcp", layer="tcp", decode=_openvpn_decode, probe=openvpn_tcp_probe,
             ports=OPENVPN_PORTS, app="openvpn", bpf_hint="tcp port 1194",
             description="OpenVPN hard reset (TCP)"),
]
