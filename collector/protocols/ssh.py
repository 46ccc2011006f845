"""SSH identification string detector (RFC 4253 section 4.2): `SSH-protoversion-softwareversion comments`.

Either side sends it first in clear; the role comes from the stream direction.  Lines before the
banner (allowed for servers by the RFC) are skipped within the first 1 KiB.
"""

from __future__ import annotations

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import SshObs

MAX_BANNER = 255
SCAN = 1024


def probe(payload: bytes) -> bool:
    return payload.startswith(b"SSH-") or b"\nSSH-" in payload[:SCAN]


def decode(pkt: Packet, ctx: DecodeContext) -> list[SshObs]:
    head = pkt.payload[:SCAN]
    start = 0 if head.startswith(b"SSH-") else head.find(b"\nSSH-") + 1
    if start < 0 or not head[start:].startswith(b"SSH-"):
        return []
    line = head[start:].split(b"\n", 1)[0].rstrip(b"\r")
    banner = line.decode("utf-8", "replace")[:MAX_BANNER]
    parts = banner.split("-", 2)
    software = parts[2].split(" ", 1)[0] if len(parts) == 3 else None
    role = "client" if pkt.from_client else "server"
    return [SshObs(**pkt.envelope(), role=role, banner=banner, software=software or None)]


DETECTOR = Detector(
    name="ssh",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({22}),
    app="ssh",
    bpf_hint="tcp port 22",
    description="SSH identification strings of clients and servers (RFC 4253).",
)
