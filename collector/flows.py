"""Conversation and host tables of the fast path, with caps, and their flush into records.

A conversation is keyed by (vlan, transport, client address, server address, server port):
every TCP connection from one client to one service on one VLAN is one conversation (the
inventory question is "who talks to what", not "how many sockets").  The client is the SYN
sender (the SYN/ACK receiver); failing that, the side with the ephemeral port when exactly one
side uses a service port (< 1024 or well known); both service ports: the lower one is the
server; otherwise the first sender.  Hosts are keyed by (MAC, source IP or None, VLAN).

Entries are plain lists indexed by the constants below (no object per frame).  Counters are
per flush period: `flush()` turns every entry active in the period into a `HostSighting` or
`Conversation` and resets its counters, keeping key, direction, app and deep-path state, so a
conversation is never re-parsed.  Beyond a cap, new entries are refused and counted in
`overflow[table]` (CaptureStats.table_overflow).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel

from collector.communityid import community_id
from collector.schema import Conversation, HostSighting, Observation

DEFAULT_MAX_CONVERSATIONS = 500_000
DEFAULT_MAX_HOSTS = 200_000
DEFAULT_TABLE_IDLE = 3600.0
"""Seconds (packet time) after which an idle host or conversation entry leaves the collector's tables."""

WELL_KNOWN = frozenset({
    1433, 1521, 1883, 1900, 2575, 2762, 3268, 3306, 3389, 3702, 4242, 5002, 5060, 5061, 5353, 5355, 5432,
    5671, 5672, 5900, 5901, 5902, 5938, 5985, 5986, 6379, 6661, 7010, 8000, 8008, 8080, 8443, 8883, 9100,
    11112, 24005, 24105, 27017, 47808,
})
TRANSPORTS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp"}

# Host entry
H_FIRST, H_LAST, H_FRAMES, H_BYTES, H_TTL, H_WIFI, H_FRAME_NO, H_SOURCE, H_OUTER, H_TUNNEL, H_KEY = range(11)
# Conversation entry.  TCP (collector/deep.py): C_STREAM None or {client port: followed connection},
# C_STREAMS_LEFT connections it may still follow, C_DONE client ports of connections it followed and
# finished (a tuple, kept while C_STREAMS_LEFT > 0).  UDP: C_STREAM [datagrams left to probe each way].
(C_PK_C2S, C_PK_S2C, C_BY_C2S, C_BY_S2C, C_FIRST, C_LAST, C_FRAME_NO, C_APP, C_SYN, C_CLIENT_MAC,
 C_SERVER_MAC, C_CLIENT_PORT, C_STREAM, C_KEY, C_ENV, C_ICMP, C_STREAMS_LEFT, C_DONE) = range(18)
MAX_STREAMS_PER_CONVERSATION = 8
"""TCP connections of one conversation whose prefix is deep-parsed, in all (collector/deep.py)."""
MAX_PARALLEL_STREAMS = 8
"""TCP connections of one conversation whose prefixes are followed at the same time (collector/deep.py)."""


def service_port(port: int) -> bool:
    return port < 1024 or port in WELL_KNOWN


def sender_is_client(proto: int, sport: int | None, dport: int | None, flags: int) -> bool:
    """Direction of a new conversation from its first frame (see the module docstring)."""
    if proto == 6 and flags & 0x02:
        return not flags & 0x10  # SYN: sender is the client; SYN/ACK: the receiver is
    if sport is None or dport is None or proto not in (6, 17, 132):
        return True
    s_srv, d_srv = service_port(sport), service_port(dport)
    if s_srv != d_srv:
        return d_srv
    if s_srv and sport != dport:
        return dport < sport
    return True


def _schema_defaults(cls: type[BaseModel]) -> dict[str, Any]:
    """Every field of `cls` in the schema's order, required ones as placeholders the values replace.

    A dict merge keeps a key's place, so a record built on this serialises its fields in the order a
    validated one does, and its fact key (collector.facts, a hash of that JSON) is the one of the same
    record parsed from JSON.
    """
    return {name: None if f.is_required() else f.get_default(call_default_factory=True)
            for name, f in cls.model_fields.items()}


def _fast(cls: type[BaseModel]) -> Any:
    """A constructor that skips validation (values are built by this module, of the right types).

    Same result as `cls.model_construct(**values)` at a fraction of its cost; records built
    this way are checked against the schema in tests (parse_observation round trip).
    """
    defaults = _schema_defaults(cls)
    new = object.__new__
    setattr_ = object.__setattr__

    def build(**values: Any) -> Any:
        obj = new(cls)
        setattr_(obj, "__dict__", {**defaults, **values})  # one map build (~4% fewer instructions)
        setattr_(obj, "__pydantic_fields_set__", set(values))
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    return build


def _fast_env(cls: type[BaseModel]) -> Any:
    """`_fast` for detector records: the envelope dict (Packet.envelope()) passed as is, the record's own
    fields as keywords, so the envelope is not copied into a keyword dict on the way (valgrind: a DnsObs
    costs ~19,000 instructions instead of ~29,000)."""
    defaults = _schema_defaults(cls)
    new = object.__new__
    setattr_ = object.__setattr__

    def build(envelope: dict[str, Any], /, **fields: Any) -> Any:
        obj = new(cls)
        setattr_(obj, "__dict__", {**defaults, **envelope, **fields})
        setattr_(obj, "__pydantic_fields_set__", {*envelope, *fields})
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    return build


_host = _fast(HostSighting)
_conversation = _fast(Conversation)


class TextCache:
    """bytes -> text for MACs and IPs, converted once (cleared when it grows past `limit`)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.macs: dict[bytes, str] = {}
        self.ips: dict[bytes, str] = {}
        self.limit = limit

    def mac(self, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        text = self.macs.get(raw)
        if text is None:
            if len(self.macs) > self.limit:
                self.macs.clear()
            text = self.macs[raw] = raw.hex(":")
        return text

    def ip(self, raw: bytes | None) -> str | None:
        if raw is None:
            return None
        text = self.ips.get(raw)
        if text is None:
            if len(self.ips) > self.limit:
                self.ips.clear()
            text = self.ips[raw] = str(ipaddress.ip_address(raw))
        return text


class Tables:
    """The host and conversation tables of one pipeline."""

    def __init__(
        self,
        *,
        sensor: str = "",
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        max_hosts: int = DEFAULT_MAX_HOSTS,
        overflow: dict[str, int] | None = None,
        text: TextCache | None = None,
    ) -> None:
        self.sensor = sensor
        self.max_conversations = max_conversations
        self.max_hosts = max_hosts
        self.overflow = overflow if overflow is not None else {}
        self.text = text or TextCache()
        self.hosts: dict[tuple[Any, ...], list[Any]] = {}
        self.convs: dict[tuple[Any, ...], list[Any]] = {}
        self.active_hosts: list[list[Any]] = []
        self.active_convs: list[list[Any]] = []

    def age_out(self, before: float, followed: dict[int, list[Any]]) -> dict[str, int]:
        """Drop entries last seen before `before` (packet time) that are idle this period: memory stays flat
        on a capture that runs for weeks.  A conversation with a followed connection is kept.  Returns the
        counts dropped per table; a host or conversation heard again later starts a new entry (its facts
        are already stored, so nothing is lost but the connection state)."""
        hosts = [k for k, e in self.hosts.items() if e[H_LAST] < before and not e[H_FRAMES]]
        for k in hosts:
            del self.hosts[k]
        convs = [k for k, c in self.convs.items()
                 if c[C_LAST] < before and not (c[C_PK_C2S] or c[C_PK_S2C]) and id(c) not in followed]
        for k in convs:
            del self.convs[k]
        return {"hosts": len(hosts), "conversations": len(convs)}

    def _refuse(self, table: str) -> None:
        self.overflow[table] = self.overflow.get(table, 0) + 1

    def new_host(self, key: tuple[Any, ...], ttl: int | None, wifi: bool, source: str, outer: int | None,
                 tunnel: str | None) -> list[Any] | None:
        """A new host entry with zero counters (the caller counts the frame), None at the cap."""
        if len(self.hosts) >= self.max_hosts:
            self._refuse("hosts")
            return None
        entry = [0.0, 0.0, 0, 0, ttl, wifi, 0, source, outer, tunnel, key]
        self.hosts[key] = entry
        return entry

    def new_conv(self, key: tuple[Any, ...], client_mac: bytes | None, server_mac: bytes | None,
                 client_port: int | None, syn: bool, icmp: tuple[int, int] | None) -> list[Any] | None:
        """A new conversation entry with zero counters, None at the cap."""
        if len(self.convs) >= self.max_conversations:
            self._refuse("conversations")
            return None
        entry = [0, 0, 0, 0, 0.0, 0.0, 0, None, syn, client_mac, server_mac, client_port, None, key, None,
                 icmp,
                 MAX_STREAMS_PER_CONVERSATION, ()]
        self.convs[key] = entry
        return entry

    def flush(self) -> list[Observation]:
        """Records for every entry active since the last flush; their counters are reset."""
        out: list[Observation] = []
        mac, ip = self.text.mac, self.text.ip
        sensor = self.sensor
        for h in self.active_hosts:
            m, addr, vlan = h[H_KEY]
            out.append(_host(
                ts=h[H_FIRST], sensor=sensor, source=h[H_SOURCE], frame_no=h[H_FRAME_NO], vlan=vlan,
                outer_vlan=h[H_OUTER], src_mac=mac(m), src_ip=ip(addr), tunnel=h[H_TUNNEL], mac=mac(m),
                ip=ip(addr), first_ts=h[H_FIRST], last_ts=h[H_LAST], frames=h[H_FRAMES], bytes=h[H_BYTES],
                ttl=h[H_TTL], wifi=h[H_WIFI],
            ))
            h[H_FRAMES] = h[H_BYTES] = 0
        for c in self.active_convs:
            out.append(self._conversation(c))
            c[C_PK_C2S] = c[C_PK_S2C] = c[C_BY_C2S] = c[C_BY_S2C] = 0
        self.active_hosts.clear()  # in place: the pipeline's fast lane holds these lists
        self.active_convs.clear()
        return out

    def _conversation(self, c: list[Any]) -> Conversation:
        mac, ip = self.text.mac, self.text.ip
        vlan, proto, cip, sip, sport = c[C_KEY]
        src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port, outer, tunnel, source = c[C_ENV]
        if proto in (6, 17, 132):
            cid = community_id(cip, sip, proto, c[C_CLIENT_PORT],
                               sport) if c[C_CLIENT_PORT] is not None else None
        elif proto in (1, 58) and c[C_ICMP] is not None:
            cid = community_id(cip, sip, proto, c[C_ICMP][0], c[C_ICMP][1])
        else:
            cid = community_id(cip, sip, proto)
        transport = TRANSPORTS.get(proto, "other")
        return _conversation(
            ts=c[C_FIRST], sensor=self.sensor, source=source, frame_no=c[C_FRAME_NO], vlan=vlan,
            outer_vlan=outer,
            src_mac=mac(src_mac), dst_mac=mac(dst_mac), src_ip=ip(src_ip), dst_ip=ip(dst_ip),
            src_port=src_port,
            dst_port=dst_port, transport=transport, tunnel=tunnel, client_mac=mac(c[C_CLIENT_MAC]),
            client_ip=ip(cip), server_mac=mac(c[C_SERVER_MAC]), server_ip=ip(sip), server_port=sport,
            client_port=c[C_CLIENT_PORT], packets_c2s=c[C_PK_C2S], packets_s2c=c[C_PK_S2C],
            bytes_c2s=c[C_BY_C2S], bytes_s2c=c[C_BY_S2C], first_ts=c[C_FIRST], last_ts=c[C_LAST],
            syn_seen=c[C_SYN], app=c[C_APP], community_id=cid,
        )
