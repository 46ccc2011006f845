"""HTTP/1.x detector (RFC 9112): request and response header identity, never the body.

Kept: method, Host, path without the query string (cut at 128), User-Agent, Server, status, and
whether `Authorization: Basic` was sent (the credential is never read).  Every message header in
the stream prefix is decoded (keep-alive), up to 16 per direction.  A User-Agent that names an OS
also yields an OsHint (method "http-ua").
"""

from __future__ import annotations

from collector.protocols import oshint
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import HttpObs, Observation, OsHint

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"OPTIONS ", b"DELETE ", b"PATCH ")
MAX_PATH = 128
MAX_VALUE = 256
MAX_MESSAGES = 16


def probe(payload: bytes) -> bool:
    return payload.startswith(METHODS) or payload.startswith(b"HTTP/1.")


def _headers(block: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.replace("\r\n", "\n").split("\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out.setdefault(name.strip().lower(), value.strip()[:MAX_VALUE])
    return out


def _one(pkt: Packet, block: str) -> list[Observation]:
    start = block.split("\n", 1)[0].rstrip("\r")
    h = _headers(block)
    out: list[Observation] = []
    if start.startswith("HTTP/1."):
        parts = start.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        out.append(HttpObs(**pkt.envelope(), status=status, server=h.get("server") or None))
        return out
    parts = start.split(" ")
    if len(parts) < 2:
        raise ValueError("http: request line without a target")
    path = parts[1].split("?", 1)[0].split("#", 1)[0][:MAX_PATH]
    ua = h.get("user-agent") or None
    auth = h.get("authorization", "")
    out.append(
        HttpObs(
            **pkt.envelope(),
            method=parts[0],
            host=h.get("host") or None,
            path=path or None,
            user_agent=ua,
            basic_auth=auth.lower().startswith("basic"),
        )
    )
    hint = oshint.ua_os(ua) if ua else None
    if hint:
        out.append(
            OsHint(
                **pkt.envelope(),
                mac=pkt.src_mac,
                ip=pkt.src_ip,
                method="http-ua",
                family=hint[0],
                version=hint[1],
                confidence=0.6,
            )
        )
    return out


def decode(pkt: Packet, ctx: DecodeContext) -> list[Observation]:
    """HttpObs (and OsHint) for each complete message header in the stream prefix."""
    data = pkt.payload
    out: list[Observation] = []
    pos = 0
    for _ in range(MAX_MESSAGES):
        if not probe(data[pos:]):
            break
        end, body = _header_end(data, pos)
        if end < 0:
            if pos == 0:
                ctx.weird("http_header_truncated")
            break
        out += _one(pkt, data[pos:end].decode("latin-1"))
        pos = _next_message(data, pos, body)
        if pos < 0:
            break
    return out


def _header_end(data: bytes, start: int) -> tuple[int, int]:
    """(end of the header block, start of the body); CRLF CRLF, or bare LF LF (RFC 9112 2.2 allows it)."""
    found = [(i, i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep, start)) >= 0]
    return min(found) if found else (-1, -1)


def _next_message(data: bytes, start: int, body: int) -> int:
    """Offset of the next message: skip a Content-Length body; -1 when it cannot be known."""
    h = _headers(data[start:body].decode("latin-1"))
    length = h.get("content-length")
    if length is None:
        return body if data[start:].startswith(METHODS) or h.get("transfer-encoding") is None else -1
    if not length.isdigit():
        return -1
    return body + int(length)


DETECTOR = Detector(
    name="http",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({80, 8080}),
    app="http",
    bpf_hint="tcp port 80 or tcp port 8080",
    description="HTTP/1.x request/response headers: host, path, User-Agent, Server, Basic auth flag.",
)
