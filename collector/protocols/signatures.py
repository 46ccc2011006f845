"""Generic remote-access detector driven by declarative signatures (rules/signatures/*.yaml).

Remote-control products that are only recognisable by ports, magic bytes at an offset, a
banner or the TLS server name are data, not code, in the spirit of GRASSMARLIN's
fingerprint files: a biomedical engineer adds a vendor by adding a YAML entry.  Every file
is validated at import with pydantic (unknown keys refused); a bad file raises
`SignatureFileError` naming the file and the entry.  The folder is
`signatures/` of the rules folder (collector.datafiles: MEDTAP_RULES_DIR, else the installed rules).

The TLS server name is read by a minimal ClientHello parser (RFC 8446 section 4.1.2,
RFC 6066 section 3 server_name extension): only the SNI, nothing else.
"""

from __future__ import annotations

import builtins
import fnmatch
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collector import yamlsafe
from collector.datafiles import rules_dir
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

REGEX_WINDOW = 2048
"""Regexes see the first bytes of a direction only (identity lives in the first PDU)."""

Method = Literal[
    "teamviewer", "anydesk", "vnc", "rdp", "telnet", "ssh", "ftp", "screenconnect", "splashtop",
    "logmein", "beyondtrust", "nomachine", "radmin", "ipsec", "openvpn", "vendor-platform",
]


def signatures_dir() -> Path:
    """rules/signatures of the rules folder (collector.datafiles)."""
    return rules_dir() / "signatures"


class SignatureFileError(ValueError):
    """A signature file is not valid; the message names the file and the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BytesMatch(_Strict):
    """`bytes` (hex, spaces allowed) found at `offset` of the first payload bytes."""

    offset: int = Field(default=0, ge=0, le=8192)
    bytes: str

    @field_validator("bytes")
    @classmethod
    def _hex(cls, value: str) -> str:
        raw = bytes.fromhex(value.replace(" ", ""))
        if not raw:
            raise ValueError("bytes must not be empty")
        return value

    @property
    def raw(self) -> builtins.bytes:  # the `bytes` field shadows the builtin in this class
        return bytes.fromhex(self.bytes.replace(" ", ""))


class RegexMatch(_Strict):
    """A regex anchored at the first byte (re.match, DOTALL) on the first REGEX_WINDOW bytes.

    A named group `detail` becomes the record's detail (printable ASCII, 80 chars max).
    """

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value.encode("latin-1"), re.DOTALL)
        return value


class SniMatch(_Strict):
    """TLS ClientHello server name matching a glob (or any glob of a list), case-insensitive."""

    sni: str | tuple[str, ...]

    @property
    def globs(self) -> tuple[str, ...]:
        return (self.sni,) if isinstance(self.sni, str) else self.sni


Matcher = BytesMatch | RegexMatch | SniMatch


class Signature(_Strict):
    """One declarative remote-access signature (see rules/signatures/README.md)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    method: Method
    product: str = Field(min_length=1)
    transport: Literal["tcp", "udp"]
    ports: tuple[int, ...] = ()
    port_required: bool = False
    match: tuple[Matcher, ...] = ()
    direction: Literal["client", "server", "any"] = "any"
    confidence: float = Field(ge=0.0, le=1.0)
    references: tuple[str, ...] = Field(min_length=1)
    comment: str | None = None
    emitted_by: str | None = None
    """Name of a Python detector that emits this method itself (richer decode); skipped here."""

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for port in value:
            if not 0 < port < 65536:
                raise ValueError(f"port {port} out of range")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Signature:
        if not self.match:
            if not self.ports:
                raise ValueError("a signature without `match` must list ports (port-only signature)")
            if self.confidence > 0.4:
                raise ValueError("a port-only signature must have confidence <= 0.4")
            if self.transport == "udp":
                raise ValueError("port-only signatures are TCP only (every UDP datagram would report)")
        if self.port_required and not self.ports:
            raise ValueError("port_required needs ports")
        if any(isinstance(m, SniMatch) for m in self.match) and self.transport != "tcp":
            raise ValueError("sni matchers need transport tcp")
        return self

    @property
    def evidence(self) -> Literal["content", "port", "sni"]:
        if any(isinstance(m, SniMatch) for m in self.match):
            return "sni"
        return "content" if self.match else "port"


@dataclass(frozen=True, slots=True)
class Hit:
    """A signature that matched one payload, with what it matched."""

    signature: Signature
    detail: str | None


def load_signatures(folder: Path | None = None) -> tuple[Signature, ...]:
    """Load and validate every *.yaml of `folder` (default: signatures_dir()); ids are unique."""
    folder = folder or signatures_dir()
    found: list[Signature] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        for sig in _load_file(path):
            if sig.id in seen:
                raise SignatureFileError(f"{path}: signature {sig.id!r} already defined in {seen[sig.id]}")
            seen[sig.id] = path.name
            found.append(sig)
    return tuple(found)


def _load_file(path: Path) -> list[Signature]:
    try:
        data: Any = yamlsafe.load_file(path)
    except ValueError as exc:
        raise SignatureFileError(str(exc)) from None
    if not isinstance(data, dict) or set(data) != {"signatures"} or not isinstance(data["signatures"], list):
        raise SignatureFileError(f"{path}: expected a mapping with one key `signatures:` holding a list")
    out: list[Signature] = []
    for index, entry in enumerate(data["signatures"], start=1):
        label = entry.get("id", "?") if isinstance(entry, dict) else "?"
        try:
            out.append(Signature.model_validate(entry))
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            raise SignatureFileError(f"{path}: entry {index} (id {label}): {reasons}") from exc
    return out


# --------------------------------------------------------------------------- TLS SNI


def extract_sni(payload: bytes) -> str | None:
    """server_name of a TLS ClientHello at the start of `payload`, lower-case; None if absent or malformed."""
    try:
        return _sni(payload)
    except (IndexError, struct.error, UnicodeDecodeError, ValueError):
        return None


def _sni(data: bytes) -> str | None:
    if len(data) < 9 or data[0] != 0x16 or data[1] != 0x03 or data[5] != 0x01:
        return None
    pos = 9 + 2 + 32  # record header, handshake header, client_version, random
    pos += 1 + data[pos]  # session id
    (suites,) = struct.unpack_from("!H", data, pos)
    pos += 2 + suites
    pos += 1 + data[pos]  # compression methods
    (ext_total,) = struct.unpack_from("!H", data, pos)
    pos += 2
    end = min(pos + ext_total, len(data))
    while pos + 4 <= end:
        ext_type, ext_len = struct.unpack_from("!HH", data, pos)
        pos += 4
        if ext_type == 0:
            # server_name_list: u16 length, then (u8 name_type, u16 length, name)
            name_type = data[pos + 2]
            (name_len,) = struct.unpack_from("!H", data, pos + 3)
            name = data[pos + 5 : pos + 5 + name_len]
            if name_type != 0 or len(name) != name_len or not name:
                return None
            return name.decode("ascii").lower()
        pos += ext_len
    return None


# --------------------------------------------------------------------------- matching


def _printable(raw: bytes, limit: int = 80) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in raw[:limit]).strip()


@dataclass(frozen=True)
class SignatureSet:
    """Signatures compiled for one transport: matching is pure (no state between calls)."""

    signatures: tuple[Signature, ...]
    transport: str
    active: tuple[Signature, ...] = field(init=False)
    regexes: dict[str, re.Pattern[bytes]] = field(init=False, repr=False)
    sni_globs: dict[tuple[str, ...], re.Pattern[str]] = field(init=False, repr=False)
    compiled: tuple[tuple[Any, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        active = tuple(s for s in self.signatures if s.transport == self.transport and s.emitted_by is None)
        object.__setattr__(self, "active", active)
        regexes = {m.regex: re.compile(m.regex.encode("latin-1"), re.DOTALL)
                   for s in active for m in s.match if isinstance(m, RegexMatch)}
        object.__setattr__(self, "regexes", regexes)
        globs = {m.globs: re.compile("|".join(fnmatch.translate(g.lower()) for g in m.globs))
                 for s in active for m in s.match if isinstance(m, SniMatch)}
        object.__setattr__(self, "sni_globs", globs)
        # Each content signature's matchers compiled once (hex decoded, patterns looked up):
        # (signature, direction, port_required, ((kind, offset, end, raw_or_pattern), ...), needs_sni)
        compiled = []
        for sig in active:
            if not sig.match:
                continue
            checks: list[tuple[int, int, int, Any]] = []
            for m in sig.match:
                if isinstance(m, BytesMatch):
                    raw = m.raw
                    checks.append((0, m.offset, m.offset + len(raw), raw))
                elif isinstance(m, RegexMatch):
                    checks.append((1, 0, 0, regexes[m.regex]))
                else:
                    checks.append((2, 0, 0, globs[m.globs]))
            compiled.append((sig, sig.direction, sig.port_required, tuple(checks),
                             any(c[0] == 2 for c in checks)))
        object.__setattr__(self, "compiled", tuple(compiled))

    @property
    def ports(self) -> frozenset[int]:
        return frozenset(p for s in self.active for p in s.ports)

    def content_hits(self, payload: bytes, *, from_client: bool | None, server_port: int | None) -> list[Hit]:
        """Signatures with `match` that hold on `payload` (direction and port rules applied when known)."""
        sni = extract_sni(payload) if self.transport == "tcp" and payload[:1] == b"\x16" else None
        hits: list[Hit] = []
        window: bytes | None = None
        for sig, direction, port_required, checks, needs_sni in self.compiled:
            if from_client is not None and direction != "any" and (direction == "client") != from_client:
                continue
            if port_required and (server_port is None or server_port not in sig.ports):
                continue  # the probe (no port known) leaves these to decode, called on their ports
            if needs_sni and sni is None:
                continue
            detail: str | None = None
            for kind, start, end, what in checks:
                if kind == 0:
                    if payload[start:end] != what:
                        break
                elif kind == 1:
                    if window is None:
                        window = payload[:REGEX_WINDOW]
                    found = what.match(window)
                    if found is None:
                        break
                    if "detail" in what.groupindex and found.group("detail") is not None:
                        detail = _printable(found.group("detail"))
                else:
                    if what.match(sni) is None:
                        break
                    detail = sni
            else:
                hits.append(Hit(sig, detail))
        return hits

    def hits(self, payload: bytes, *, from_client: bool, server_port: int | None) -> list[Hit]:
        """Content/SNI hits; failing those, port-only signatures on the client direction of their port."""
        found = self.content_hits(payload, from_client=from_client, server_port=server_port)
        if found or not from_client or server_port is None:
            return found
        return [Hit(s, None) for s in self.active if not s.match and server_port in s.ports]

    def probe(self, payload: bytes) -> bool:
        """Any content or SNI signature that may fire on any port holds (decode re-checks direction).

        Signatures with `port_required` are left out: their ports are in the detector's port
        hints, so decode sees those conversations anyway."""
        try:
            return bool(payload) and bool(self.content_hits(payload, from_client=None, server_port=None))
        except Exception:  # noqa: BLE001 - a probe must never raise
            return False


def _endpoints(pkt: Packet, ports: frozenset[int]) -> tuple[bool, str | None, str | None, int | None]:
    """(from_client, client_ip, server_ip, server_port) of a packet."""
    if pkt.transport == "tcp" and pkt.server_port is not None:
        client = pkt.client_ip or (pkt.src_ip if pkt.from_client else pkt.dst_ip)
        server = pkt.server_ip or (pkt.dst_ip if pkt.from_client else pkt.src_ip)
        return pkt.from_client, client, server, pkt.server_port
    if pkt.transport == "tcp":
        if pkt.from_client:
            return True, pkt.src_ip, pkt.dst_ip, pkt.dst_port
        return False, pkt.dst_ip, pkt.src_ip, pkt.src_port
    # UDP: the side sending to a signature port (or, failing that, from the higher port) is the client.
    sport, dport = pkt.src_port or 0, pkt.dst_port or 0
    from_client = dport in ports or (sport not in ports and sport >= dport)
    if from_client:
        return True, pkt.src_ip, pkt.dst_ip, pkt.dst_port
    return False, pkt.dst_ip, pkt.src_ip, pkt.src_port


def make_decode(sigset: SignatureSet) -> Callable[[Packet, DecodeContext], Iterable[Observation]]:
    """The decode function of a generic detector over `sigset`."""
    ports = sigset.ports

    def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
        from_client, client_ip, server_ip, server_port = _endpoints(pkt, ports)
        return [
            RemoteAccessObs(
                **pkt.envelope(), method=h.signature.method, signature=h.signature.id,
                evidence=h.signature.evidence, confidence=h.signature.confidence, client_ip=client_ip,
                server_ip=server_ip, server_port=server_port, detail=h.detail,
            )
            for h in sigset.hits(pkt.payload, from_client=from_client, server_port=server_port)
        ]

    return decode


def make_detectors(signatures: Sequence[Signature]) -> list[Detector]:
    """One TCP and one UDP generic detector over `signatures` (app=None: records carry the method)."""
    out: list[Detector] = []
    for transport in ("tcp", "udp"):
        sigset = SignatureSet(tuple(signatures), transport)
        active = sigset.active
        if not active:
            continue
        ports = sigset.ports
        free = any(s.match and not s.port_required for s in active)
        out.append(Detector(
            name=f"remote-signatures-{transport}",
            layer=transport,
            decode=make_decode(sigset),
            probe=sigset.probe,
            ports=ports,
            any_port=transport == "udp" and free,
            app=None,
            bpf_hint=" or ".join(f"{transport} port {p}" for p in sorted(ports)),
            description=f"Declarative remote-access signatures ({transport}) from rules/signatures",
        ))
    return out


SIGNATURES: tuple[Signature, ...] = load_signatures()
DETECTORS: list[Detector] = make_detectors(SIGNATURES)
