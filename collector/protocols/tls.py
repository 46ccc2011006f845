"""TLS hello detector (RFC 5246 / RFC 8446): SNI, ALPN, versions and the JA3, JA3S and JA4 fingerprints.

Handshake records (content type 22) at the start of a direction are reassembled and the first
handshake message is parsed: a ClientHello (type 1) or a ServerHello (type 2).
- JA3 (salesforce/ja3): `version,ciphers,extensions,groups,point_formats` in decimal, `-`-joined,
  GREASE values (RFC 8701) removed; the record keeps the string and its MD5.  JA3S for servers:
  `version,cipher,extensions`.
- JA4 (FoxIO JA4 spec): `t` + version (highest supported_versions, else legacy) + `d`/`i` (SNI) +
  2-digit cipher and extension counts + first/last char of the first ALPN (`ja4_alpn`), `_` sha256[:12] of the
  sorted cipher list, `_` sha256[:12] of the sorted extensions without SNI and ALPN, `_`, and the
  signature algorithms in offered order.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import TlsObs

VERSION_NAMES = {0x0300: "SSL3.0", 0x0301: "TLS1.0", 0x0302: "TLS1.1", 0x0303: "TLS1.2", 0x0304: "TLS1.3"}
JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
EXT_SNI, EXT_GROUPS, EXT_POINTS, EXT_SIGALGS, EXT_ALPN, EXT_VERSIONS = 0, 10, 11, 13, 16, 43
MAX_RECORDS = 8


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values 0x0a0a, 0x1a1a, ... 0xfafa."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def probe(payload: bytes) -> bool:
    """Handshake record, version 3.0-3.4, carrying a ClientHello or ServerHello."""
    return (
        len(payload) >= 6
        and payload[0] == 0x16
        and payload[1] == 3
        and payload[2] <= 4
        and payload[5] in (1, 2)
    )


@dataclass
class Hello:
    """The fields of a ClientHello or ServerHello that the fingerprints use."""

    kind: int
    version: int
    ciphers: list[int] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sigalgs: list[int] = field(default_factory=list)
    alpn: list[bytes] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    sni: str | None = None


def handshake_bytes(payload: bytes) -> bytes:
    """Concatenated bodies of the leading handshake records."""
    out = bytearray()
    pos = 0
    for _ in range(MAX_RECORDS):
        if pos + 5 > len(payload) or payload[pos] != 0x16:
            break
        length = struct.unpack_from("!H", payload, pos + 3)[0]
        out += payload[pos + 5 : pos + 5 + length]
        pos += 5 + length
    return bytes(out)


def _u16_list(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack("!H", data[: len(data) // 2 * 2])]


def _vector(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    """A length-prefixed vector (length on `size` bytes) -> (value, next offset)."""
    length = int.from_bytes(data[pos : pos + size], "big")
    value = data[pos + size : pos + size + length]
    if len(value) < length or pos + size > len(data):
        raise IndexError("tls: vector beyond the message")
    return value, pos + size + length


def _extension(hello: Hello, etype: int, value: bytes) -> None:
    if etype == EXT_SNI and len(value) >= 5 and value[2] == 0:
        name, _ = _vector(value, 3, 2)
        hello.sni = name.decode("utf-8", "replace")[:255]
    elif etype == EXT_GROUPS:
        hello.groups = _u16_list(_vector(value, 0, 2)[0])
    elif etype == EXT_POINTS:
        hello.point_formats = list(_vector(value, 0, 1)[0])
    elif etype == EXT_SIGALGS:
        hello.sigalgs = _u16_list(_vector(value, 0, 2)[0])
    elif etype == EXT_ALPN:
        body, pos = _vector(value, 0, 2)
        i = 0
        while i < len(body):
            proto, i = _vector(body, i, 1)
            hello.alpn.append(proto)
    elif etype == EXT_VERSIONS:
        if hello.kind == 1:
            hello.versions = _u16_list(_vector(value, 0, 1)[0])
        elif len(value) >= 2:
            hello.versions = [struct.unpack_from("!H", value)[0]]


def parse_hello(hs: bytes) -> Hello:
    """Parse the first handshake message (ClientHello or ServerHello); raises when truncated."""
    kind = hs[0]
    length = int.from_bytes(hs[1:4], "big")
    body = hs[4 : 4 + length]
    if kind not in (1, 2):
        raise ValueError("tls: first handshake message is not a hello")
    if len(body) < length:
        raise IndexError("tls: hello longer than the captured prefix")
    hello = Hello(kind=kind, version=struct.unpack_from("!H", body, 0)[0])
    _, pos = _vector(body, 34, 1)  # random (32) then session id
    if kind == 1:
        suites, pos = _vector(body, pos, 2)
        hello.ciphers = _u16_list(suites)
        _, pos = _vector(body, pos, 1)  # compression methods
    else:
        hello.ciphers = [struct.unpack_from("!H", body, pos)[0]]
        pos += 3
    if pos + 2 <= len(body):
        exts, _ = _vector(body, pos, 2)
        i = 0
        while i + 4 <= len(exts):
            etype = struct.unpack_from("!H", exts, i)[0]
            value, i = _vector(exts, i + 2, 2)
            hello.extensions.append(etype)
            _extension(hello, etype, value)
    return hello


def _dash(values: list[int]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(h: Hello) -> str:
    """JA3 for a ClientHello, JA3S for a ServerHello."""
    if h.kind == 1:
        return ",".join(
            [str(h.version), _dash(h.ciphers), _dash(h.extensions), _dash(h.groups), _dash(h.point_formats)]
        )
    return ",".join([str(h.version), _dash(h.ciphers), _dash(h.extensions)])


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def ja4_alpn(first: bytes) -> str:
    """The two ALPN characters of JA4_a from the first ALPN value.

    FoxIO's JA4 spec: "00" when empty; its first and last bytes when both are ASCII alphanumeric (one
    byte counts as both); otherwise the first and last characters of its hex form (0x61 0x20 -> "60",
    0x30 0xAB -> "3b").  One exception, from FoxIO's published test vectors, which every FoxIO
    implementation (Rust, Python, Wireshark plugin) and so every JA4 database follows, against the
    spec's hex examples: a value whose first byte is not ASCII gives "99" (0xBA 0xAD -> "99", not "bd").
    """
    if not first:
        return "00"
    if first[0] >= 0x80:
        return "99"
    if first[0] in _ALNUM and first[-1] in _ALNUM:
        return chr(first[0]) + chr(first[-1])
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def ja4(h: Hello, transport: str = "t") -> str:
    """JA4 of a ClientHello (FoxIO spec, sorted form)."""
    versions = [v for v in h.versions if not is_grease(v)]
    version = JA4_VERSIONS.get(max(versions) if versions else h.version, "00")
    ciphers = [c for c in h.ciphers if not is_grease(c)]
    exts = [e for e in h.extensions if not is_grease(e)]
    alpn = ja4_alpn(h.alpn[0]) if h.alpn else "00"
    part_a = (
        f"{transport}{version}{'d' if EXT_SNI in exts else 'i'}{min(len(ciphers), 99):02d}"
        f"{min(len(exts), 99):02d}{alpn}"
    )
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    ext_list = ",".join(sorted(f"{e:04x}" for e in exts if e not in (EXT_SNI, EXT_ALPN)))
    sigs = ",".join(f"{s:04x}" for s in h.sigalgs if not is_grease(s))
    part_c = _sha12(f"{ext_list}_{sigs}" if sigs else ext_list)
    return f"{part_a}_{part_b}_{part_c}"


def complete_hello(hs: bytes) -> int | None:
    """The legacy version of a complete ClientHello or ServerHello (type 1 or 2, its whole declared
    length captured, legacy_version SSL 3.0 to TLS 1.2 as RFC 8446 section 4.1.2 fixes it), else None.

    Such a message is TLS by its framing alone (record type 22, version 3.x, a handshake message
    that exactly fits the length it declares) even when a vector inside it is inconsistent: the
    protocol is named and the broken hello counted as a weird, as nDPI names it and flags the
    suspicious extension.  A hello cut by the capture is not complete and stays a weird only."""
    if len(hs) < 6 or hs[0] not in (1, 2):
        return None
    length = int.from_bytes(hs[1:4], "big")
    version = struct.unpack_from("!H", hs, 4)[0]
    if length < 38 or len(hs) < 4 + length or not 0x0300 <= version <= 0x0303:
        return None  # 38: version (2) + random (32) + session id length (1) + the least that follows
    return int(version)


def decode(pkt: Packet, ctx: DecodeContext) -> list[TlsObs]:
    hs = handshake_bytes(pkt.payload)
    if len(hs) < 4:
        raise ValueError("tls: no handshake message")
    try:
        hello = parse_hello(hs)
    except (IndexError, ValueError, struct.error) as exc:
        legacy = complete_hello(hs)
        if legacy is None:
            raise
        ctx.weird("tls_malformed", f"hello: {type(exc).__name__}")
        return [TlsObs(**pkt.envelope(), hello="client" if hs[0] == 1 else "server",
                       version=VERSION_NAMES.get(legacy))]
    text = ja3_string(hello)
    versions = [v for v in hello.versions if not is_grease(v)]
    top = max(versions) if versions else hello.version
    return [
        TlsObs(
            **pkt.envelope(),
            hello="client" if hello.kind == 1 else "server",
            version=VERSION_NAMES.get(top, f"{top:#06x}"),
            sni=hello.sni if hello.kind == 1 else None,
            alpn=tuple(p.decode("utf-8", "replace")[:64] for p in hello.alpn[:8]),
            ja3=hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
            ja3_string=text,
            ja4=ja4(hello) if hello.kind == 1 else None,
            versions=tuple(VERSION_NAMES.get(v, f"{v:#06x}") for v in versions),
        )
    ]


DETECTOR = Detector(
    name="tls",
    layer="tcp",
    decode=decode,
    probe=probe,
    app="tls",
    bpf_hint="tcp port 443",
    description="TLS ClientHello/ServerHello: SNI, ALPN, versions, JA3/JA3S/JA4.",
)
