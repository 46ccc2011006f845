"""DNS (RFC 1035), mDNS / DNS-SD (RFC 6762/6763) and LLMNR (RFC 4795) detector.

The three share the DNS message format; the flavour is chosen by port (53, 5353, 5355).  DNS over
TCP (RFC 1035 section 4.2.2, RFC 7766: zone transfers, answers too large for UDP, resolvers that
prefer TCP) is the same message behind a two-byte length: recognised by content on any port, when
that length announces a whole message whose header is plausible.  Kept:
the QR bit, question names and the answer + additional records of types A, AAAA, PTR, SRV, TXT
(cut at 128 chars) and CNAME.  Name compression pointers are followed with a guard of 20 jumps
and a 255-byte name limit, so a malicious pointer loop is a ValueError, never a hang.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import replace

from collector.flows import _fast, _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet, after_txid
from collector.schema import DnsAnswer, DnsObs

MAX_JUMPS = 20
MAX_NAME = 255
MAX_RECORDS = 64
MAX_TXT = 128
RTYPES = {1: "A", 5: "CNAME", 12: "PTR", 16: "TXT", 28: "AAAA", 33: "SRV"}
HEADER = struct.Struct("!HHHHHH")
RR = struct.Struct("!HHIH")
# Validation skipped: every field is built here with its schema type (str names, bool, tuples of
# DnsAnswer with an RTYPES value); tests/golden re-validates every record through the schema.
_dns_obs = _fast_env(DnsObs)
_dns_answer = _fast(DnsAnswer)


def read_name(msg: bytes, offset: int) -> tuple[str, int]:
    """(dotted name, offset after the name in the original position); follows compression pointers.

    The labels are decoded once joined (a dot ends any invalid UTF-8 sequence, so this gives the
    same text as decoding each label): one decode a name instead of one a label."""
    labels: list[bytes] = []
    jumps = 0
    end: int | None = None
    total = 0
    pos = offset
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            jumps += 1
            if jumps > MAX_JUMPS:
                raise ValueError("dns: compression pointer loop")
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length & 0xC0:
            raise ValueError("dns: reserved label type")
        if length == 0:
            pos += 1
            break
        pos += 1
        label = msg[pos : pos + length]
        if len(label) < length:
            raise IndexError("dns: label beyond the message")
        total += length + 1
        if total > MAX_NAME:
            raise ValueError("dns: name longer than 255 bytes")
        labels.append(label)
        pos += length
    if not labels:
        return ".", end if end is not None else pos
    return b".".join(labels).decode("utf-8", "replace"), end if end is not None else pos


def _rdata(msg: bytes, rtype: int, start: int, rdlen: int) -> str | None:
    rdata = msg[start : start + rdlen]
    if len(rdata) < rdlen:
        raise IndexError("dns: rdata beyond the message")
    if rtype == 1 and rdlen == 4:
        return f"{rdata[0]}.{rdata[1]}.{rdata[2]}.{rdata[3]}"  # as ipaddress prints it
    if rtype == 28 and rdlen == 16:
        return str(ipaddress.IPv6Address(rdata))
    if rtype in (5, 12):
        return read_name(msg, start)[0]
    if rtype == 33:
        prio, weight, port = struct.unpack_from("!HHH", rdata, 0)
        return f"{prio} {weight} {port} {read_name(msg, start + 6)[0]}"
    if rtype == 16:
        parts: list[str] = []
        i = 0
        while i < len(rdata):
            n = rdata[i]
            parts.append(rdata[i + 1 : i + 1 + n].decode("utf-8", "replace"))
            i += 1 + n
        return " ".join(parts)[:MAX_TXT]
    return None


def parse_message(msg: bytes) -> tuple[bool, list[str], list[DnsAnswer]]:
    """(response, question names, answers + additional records of the kept types)."""
    _tid, flags, qd, an, ns, ar = HEADER.unpack_from(msg, 0)
    pos = 12
    queries: list[str] = []
    for _ in range(min(qd, MAX_RECORDS)):
        name, pos = read_name(msg, pos)
        struct.unpack_from("!HH", msg, pos)
        pos += 4
        queries.append(name)
    if qd > MAX_RECORDS:
        return bool(flags & 0x8000), queries, []
    answers: list[DnsAnswer] = []
    for index in range(min(an + ns + ar, MAX_RECORDS)):
        name, pos = read_name(msg, pos)
        rtype, _cls, _ttl, rdlen = RR.unpack_from(msg, pos)
        pos += 10
        in_authority = an <= index < an + ns
        if rtype in RTYPES and not in_authority:
            value = _rdata(msg, rtype, pos, rdlen)
            if value is not None:
                answers.append(_dns_answer(name=name, rtype=RTYPES[rtype], value=value))
        pos += rdlen
    return bool(flags & 0x8000), queries, answers


def _decoder(protocol: str):
    def decode(pkt: Packet, ctx: DecodeContext) -> list[DnsObs]:
        if len(pkt.payload) < 12:
            raise ValueError(f"{protocol}: shorter than the header")
        response, queries, answers = parse_message(pkt.payload)
        if not queries and not answers:
            return []
        envelope = pkt.envelope()
        envelope["ts"] = float(envelope["ts"])
        return [
            _dns_obs(
                envelope,
                protocol=protocol,
                response=response,
                queries=tuple(queries),
                answers=tuple(answers),
            )
        ]

    return decode


def probe(payload: bytes) -> bool:
    """Plausible DNS header: at least one record and opcode 0 (query)."""
    if len(payload) < 12:
        return False
    _tid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", payload, 0)
    return (flags >> 11) & 0xF == 0 and 0 < qd + an <= MAX_RECORDS


TCP_LENGTH = struct.Struct("!H")


def tcp_probe(payload: bytes) -> bool:
    """A TCP stream of DNS messages each behind its length (RFC 7766 sections 6.2.1 and 8): the first
    whole and plausible, and the lengths chaining to the end of what was captured (the last message
    may be cut by the capture).  A chance match needs a small length, opcode 0, at most 64 records
    and every following length to land exactly on the next message."""
    if len(payload) < 14:
        return False
    length = TCP_LENGTH.unpack_from(payload, 0)[0]
    if not (12 <= length <= len(payload) - 2 and probe(payload[2 : 2 + length])):
        return False
    pos = 2 + length
    for _ in range(MAX_RECORDS):  # pipelined queries or several answers in the same prefix
        if pos >= len(payload):
            return True  # exactly at the end, or the last message cut by the capture
        if pos + 14 > len(payload):
            return False  # a length with no room for a header: not a chain of messages
        length = TCP_LENGTH.unpack_from(payload, pos)[0]
        if length < 12 or not probe(payload[pos + 2 : pos + 2 + length]):
            return False
        pos += 2 + length
    return pos >= len(payload)


def _tcp_decode(pkt: Packet, ctx: DecodeContext) -> list[DnsObs]:
    """Every whole message of the captured prefix (pipelined queries, several answers); the first one
    must be whole, a last one cut by the capture is left out."""
    out: list[DnsObs] = []
    payload, pos = pkt.payload, 0
    for _ in range(MAX_RECORDS):
        if pos + 2 > len(payload):
            break
        length = TCP_LENGTH.unpack_from(payload, pos)[0]
        message = payload[pos + 2 : pos + 2 + length]
        if len(message) < length:
            if not out:
                raise ValueError("dns-tcp: message shorter than its length")
            break
        out += _DNS_DECODE(replace(pkt, payload=message), ctx)
        pos += 2 + length
    return out


def _flavour(name: str, port: int, description: str) -> Detector:
    """DNS, mDNS and LLMNR share the wire format and the decoder; only the port and the label differ."""
    return Detector(
        name=name, layer="udp", decode=_decoder(name), probe=probe, ports=frozenset({port}), app=name,
        identity=after_txid,
        bpf_hint=f"udp port {port}", description=description,
    )


_DNS_DECODE = _decoder("dns")

DETECTORS = [
    _flavour("dns", 53, "DNS queries and answers (RFC 1035)."),
    Detector(name="dns-tcp", layer="tcp", decode=_tcp_decode, probe=tcp_probe, ports=frozenset({53}),
             app="dns", bpf_hint="tcp port 53",
             description="DNS over TCP (RFC 1035 section 4.2.2, RFC 7766), by content on any port."),
    _flavour("mdns", 5353, "Multicast DNS / DNS-SD announcements (RFC 6762/6763)."),
    _flavour("llmnr", 5355, "LLMNR name queries (RFC 4795)."),
]
