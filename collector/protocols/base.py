"""The detector contract: how a protocol module plugs into the collector pipeline.

A detector is one module in `collector/protocols/` that exposes `DETECTOR` (or a
list `DETECTORS`).  The registry discovers it; the pipeline never names it.

The pipeline calls a detector only on the deep path:
- `layer="ether"`: every frame whose ethertype is in `ethertypes`, whose
  destination MAC is in `dst_macs` (ARP, LLDP, CDP), or, for an 802.3/LLC frame
  (IEEE 802.2), whose destination SAP is in `llc_saps` (NetBEUI 0xF0); `payload` is
  the L2 payload after VLAN tags (for 802.3/LLC frames, the bytes after the 802.3
  length field, i.e. the LLC header).
- `layer="udp"`: every UDP datagram whose port is in `ports`, or on any port when
  `any_port` is true and `probe(payload)` says yes.
- `layer="tcp"`: the first payload bytes of each new TCP conversation, once per
  direction (up to `STREAM_PREFIX` bytes over the first few segments); `probe`
  decides by content, `ports` is only a hint that lets a port-only signature fire.
- `layer="tcp_syn"`: the first SYN of each new TCP conversation (OS hints).
- `layer="ip"`: every IP packet whose protocol number is in `ip_protos` (GRE 47,
  ESP 50, ...); `payload` is the IP payload.

`probe(payload) -> bool` must be cheap and never raise.  `decode(pkt, ctx)`
returns observations; it may raise on malformed input (struct.error,
IndexError, ValueError, UnicodeDecodeError): the pipeline catches that at the
per-frame boundary and counts a weird named `<detector>_malformed`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from collector.schema import Observation

STREAM_PREFIX = 8192
"""Bytes of each TCP direction handed to stream detectors (identity lives in the first PDU)."""

Layer = Literal["ether", "ip", "udp", "tcp", "tcp_syn"]


@dataclass(slots=True)
class Packet:
    """The decoded header view handed to a detector (built only on the deep path)."""

    ts: float
    frame_no: int
    source: str = ""
    sensor: str = ""
    vlan: int | None = None
    outer_vlan: int | None = None
    src_mac: str | None = None
    dst_mac: str | None = None
    ethertype: int = 0
    src_ip: str | None = None
    dst_ip: str | None = None
    ip_ttl: int | None = None
    transport: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    tcp_flags: int = 0
    tcp_window: int | None = None
    tcp_options: bytes = b""
    payload: bytes = b""
    from_client: bool = True
    """For TCP streams: True when `payload` is the client-to-server direction."""
    tunnel: str | None = None
    wifi: bool = False
    client_ip: str | None = None
    server_ip: str | None = None
    server_port: int | None = None

    def envelope(self) -> dict[str, Any]:
        """Keyword arguments for the `Observation` envelope of a record built from this packet."""
        return {
            "ts": self.ts,
            "sensor": self.sensor,
            "source": self.source,
            "frame_no": self.frame_no,
            "vlan": self.vlan,
            "outer_vlan": self.outer_vlan,
            "src_mac": self.src_mac,
            "dst_mac": self.dst_mac,
            "src_ip": self.src_ip,
            "dst_ip": self.dst_ip,
            "src_port": self.src_port,
            "dst_port": self.dst_port,
            "transport": self.transport,
            "tunnel": self.tunnel,
        }


class DecodeContext(Protocol):
    """What the pipeline offers a detector besides the packet."""

    def pseudonymise(self, value: str) -> str:
        """Keyed hash of a personal value (user names, operator ids): never store them in clear."""
        ...

    def weird(self, name: str, detail: str = "") -> None:
        """Count a named weird without aborting the decode."""
        ...

    def inner_frame(self, data: bytes, linktype: int, tunnel: str, ts: float, frame_no: int) -> None:
        """Feed a decapsulated frame (CAPWAP, LWAPP, Aruba GRE, VXLAN) back into the fast path."""
        ...


@dataclass(slots=True)
class SimpleContext:
    """A context for tests and for tools that decode outside the pipeline."""

    key: bytes = b"medtap-test-key"
    weirds: dict[str, int] = field(default_factory=dict)
    inner: list[tuple[bytes, int, str]] = field(default_factory=list)

    def pseudonymise(self, value: str) -> str:
        return pseudonymise(self.key, value)

    def weird(self, name: str, detail: str = "") -> None:
        self.weirds[name] = self.weirds.get(name, 0) + 1

    def inner_frame(self, data: bytes, linktype: int, tunnel: str, ts: float, frame_no: int) -> None:
        self.inner.append((data, linktype, tunnel))


def pseudonymise(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under the sensor key, 16 hex chars, prefixed so it reads as a pseudonym."""
    return "h:" + hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]


def after_txid(payload: bytes) -> bytes:
    """Identity of a message whose first two bytes are a transaction id (DNS, mDNS, LLMNR, NetBIOS-NS):
    a query repeated with a new id states the same facts."""
    return payload[2:]


def never(_: bytes) -> bool:
    """Probe for port-only or frame-type detectors."""
    return False


@dataclass(frozen=True)
class Detector:
    """One protocol detector. See the module docstring for when each layer is called."""

    name: str
    layer: Layer
    decode: Callable[[Packet, DecodeContext], Iterable[Observation]]
    probe: Callable[[bytes], bool] = never
    ports: frozenset[int] = frozenset()
    any_port: bool = False
    ethertypes: frozenset[int] = frozenset()
    ip_protos: frozenset[int] = frozenset()
    dst_macs: frozenset[str] = frozenset()
    llc_saps: frozenset[int] = frozenset()
    """IEEE 802.2 destination SAPs of 802.3 frames (and Linux cooked 802.2 frames) this detector reads."""
    identity: Callable[[bytes], bytes | None] | None = None
    """For ether/ip/udp detectors: the part of the payload that decides the facts `decode` states (given
    the same header envelope), e.g. DNS without its transaction id, NTP without its timestamps.  Frames
    whose identity repeats within a flush period are counted, not decoded again (collector.deep);
    returning None asks for a decode.  None (the default): the whole payload is the identity."""
    app: str | None = None
    """Application name to stamp on the conversation when this detector decodes something."""
    bpf_hint: str = ""
    description: str = ""
