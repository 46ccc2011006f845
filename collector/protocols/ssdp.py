"""SSDP detector (UPnP Device Architecture 2.0 section 1, UDP 1900): NOTIFY, M-SEARCH and responses.

SSDP is HTTP over UDP: a start line then headers.  Kept: SERVER, USER-AGENT, LOCATION, ST or NT,
USN; values are cut at 256 chars.  The start line decides the method (NOTIFY, M-SEARCH or
RESPONSE for an `HTTP/1.1 200` answer to a search).
"""

from __future__ import annotations

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import SsdpObs

MAX_VALUE = 256
STARTS = (b"NOTIFY * HTTP/1.", b"M-SEARCH * HTTP/1.", b"HTTP/1.1 200", b"HTTP/1.0 200")
# Validation skipped (collector.flows._fast): every field is built here with its schema type;
# tests/golden re-validates every record through the schema.
_ssdp_obs = _fast_env(SsdpObs)


def probe(payload: bytes) -> bool:
    return payload.startswith(STARTS)


def parse_headers(text: str) -> tuple[str, dict[str, str]]:
    """(start line, lower-case header name -> first value) of an HTTP-style header block."""
    lines = text.split("\r\n\r\n", 1)[0].replace("\r\n", "\n").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.setdefault(name.strip().lower(), value.strip()[:MAX_VALUE])
    return lines[0], headers


def decode(pkt: Packet, ctx: DecodeContext) -> list[SsdpObs]:
    if not probe(pkt.payload):
        if pkt.payload:
            ctx.weird("ssdp_unknown_start_line")
        return []
    start, h = parse_headers(pkt.payload.decode("utf-8", "replace"))
    method = "RESPONSE" if start.startswith("HTTP/") else start.split(" ", 1)[0]
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return [
        _ssdp_obs(
            envelope,
            method=method,
            server=h.get("server") or None,
            user_agent=h.get("user-agent") or None,
            location=h.get("location") or None,
            st=h.get("st") or h.get("nt") or None,
            usn=h.get("usn") or None,
        )
    ]


DETECTOR = Detector(
    name="ssdp",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({1900}),
    app="ssdp",
    bpf_hint="udp port 1900",
    description="SSDP/UPnP announcements and searches: SERVER, USER-AGENT, LOCATION, NT/ST, USN.",
)
