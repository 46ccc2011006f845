"""NTP detector (RFC 5905 NTPv4, RFC 1305 NTPv3; mode 6 control, RFC 9327; mode 7, ntpd's private mode).

The first byte carries LI (2 bits), the version (3 bits, 1 to 4) and the mode (3 bits).  Modes 1
to 5 (symmetric, client, server, broadcast) have the 48-byte header of RFC 5905 7.3, possibly
followed by extension fields and a MAC; mode 6 (ntpq control) a 12-byte header and `count` bytes
of data; mode 7 (ntpdc private, the `monlist` of amplification attacks) at least 8 bytes with an
implementation number 0, 2 or 3.  Kept: version, mode, stratum and reference id (a kiss code or
clock source such as GPS at stratum 0/1, the upstream server's IPv4 address above), which tell
the clocks and time servers of a site apart.  Port 123 is a hint; the header decides.
"""

from __future__ import annotations

import struct

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import NtpObs

MODES = {1: "symmetric-active", 2: "symmetric-passive", 3: "client", 4: "server", 5: "broadcast",
         6: "control", 7: "private"}
HEADER = 48
MAX_STRATUM = 16  # 16 is "unsynchronised" (RFC 5905 7.3)
# Validation skipped (collector.flows._fast): every field is built here with its schema type;
# tests/golden re-validates every record through the schema.
_ntp_obs = _fast_env(NtpObs)


def probe(payload: bytes) -> bool:
    """The header of one of the seven modes, with plausible lengths and fields."""
    if len(payload) < 8:
        return False
    version, mode = (payload[0] >> 3) & 7, payload[0] & 7
    if not 1 <= version <= 4 or mode == 0:
        return False
    if mode <= 5:
        # header, then extension fields (multiples of 4) and an optional MAC (key id + 16/20-byte digest)
        return len(payload) >= HEADER and payload[1] <= MAX_STRATUM and (len(payload) - HEADER) % 4 == 0
    if mode == 6:
        count = struct.unpack_from(">H", payload, 10)[0] if len(payload) >= 12 else -1
        return 0 <= count <= len(payload) - 12 and payload[1] & 0x1F != 0
    return payload[2] in (0, 2, 3)  # mode 7: implementation (univ, xntpd-old, xntpd)


def _refid(raw: bytes, stratum: int, src_ip: str | None) -> str | None:
    if stratum <= 1:
        text = raw.rstrip(b"\x00")
        if text and all(0x20 < b < 0x7F for b in text):
            return text.decode("ascii")  # kiss code (stratum 0) or clock source (stratum 1)
        return None
    if src_ip and ":" in src_ip:
        return raw.hex()  # an IPv6 upstream is the first 4 bytes of its MD5: no address
    if raw == bytes(4):
        return None
    return ".".join(str(b) for b in raw)


def identity(payload: bytes) -> bytes | None:
    """What a record of modes 1 to 5 depends on: the first two bytes (version, mode, stratum), the
    reference id and whether the header is valid, not the timestamps that change in every message;
    modes 6 and 7 are decoded each time."""
    if len(payload) < HEADER or payload[0] & 7 > 5:
        return None
    return payload[:2] + payload[12:16] + (b"\x01" if probe(payload) else b"\x00")


def decode(pkt: Packet, ctx: DecodeContext) -> list[NtpObs]:
    data = pkt.payload
    if not probe(data):
        raise ValueError("ntp: not an NTP header")
    version, mode = (data[0] >> 3) & 7, data[0] & 7
    stratum = refid = None
    if mode <= 5:
        stratum = data[1]
        refid = _refid(data[12:16], stratum, pkt.src_ip)
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return [_ntp_obs(envelope, version=version, mode=MODES[mode], stratum=stratum, reference_id=refid)]


DETECTOR = Detector(
    name="ntp",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({123}),
    identity=identity,
    app="ntp",
    bpf_hint="udp port 123",
    description="NTP version, mode, stratum and reference id (RFC 5905; modes 6 and 7 named).",
)
