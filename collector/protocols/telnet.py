"""Telnet (RFC 854) recognised by its option negotiation (RFC 855: IAC WILL/WONT/DO/DONT option).

A Telnet server normally opens with `IAC DO/WILL <option>` sequences (0xff 0xfb..0xfe);
the negotiated option names go into `detail`.  Everything typed after negotiation (login,
password, commands) is never read.  On port 23 a server that sends no IAC still gives a
port-only record (confidence 0.4).  Only the server direction emits a record.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

IAC = 0xFF
VERBS = {0xFB: "will", 0xFC: "wont", 0xFD: "do", 0xFE: "dont"}
OPTIONS = {0: "binary", 1: "echo", 3: "suppress-go-ahead", 5: "status", 24: "terminal-type",
           31: "window-size", 32: "terminal-speed", 33: "remote-flow-control", 34: "linemode",
           35: "x-display", 36: "environ", 37: "authentication", 38: "encryption", 39: "new-environ"}
TELNET_PORTS = frozenset({23})


def _negotiations(payload: bytes) -> list[tuple[int, int]]:
    """Leading IAC verb option triples (a subnegotiation IAC SB ... IAC SE is skipped)."""
    out: list[tuple[int, int]] = []
    pos = 0
    while pos + 2 < len(payload) and payload[pos] == IAC:
        verb = payload[pos + 1]
        if verb in VERBS:
            out.append((verb, payload[pos + 2]))
            pos += 3
        elif verb == 0xFA:  # SB: skip to IAC SE
            end = payload.find(b"\xff\xf0", pos + 2)
            if end < 0:
                break
            pos = end + 2
        else:
            break
    return out


def probe(payload: bytes) -> bool:
    return len(payload) >= 3 and payload[0] == IAC and payload[1] in VERBS and payload[2] < 50


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    if pkt.from_client:
        return []
    server_port = pkt.server_port or pkt.src_port
    negotiations = _negotiations(pkt.payload)
    if negotiations:
        options = sorted({OPTIONS.get(opt, str(opt)) for _verb, opt in negotiations})
        evidence, confidence, detail = "content", 0.95, "options=" + ",".join(options)
    elif server_port in TELNET_PORTS:
        evidence, confidence, detail = "port", 0.4, None
    else:
        return []
    return [RemoteAccessObs(
        **pkt.envelope(), method="telnet", signature="telnet-iac" if evidence == "content" else "telnet-port",
        evidence=evidence, confidence=confidence, client_ip=pkt.client_ip or pkt.dst_ip,
        server_ip=pkt.server_ip or pkt.src_ip, server_port=server_port, detail=detail,
    )]


DETECTOR = Detector(
    name="telnet",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=TELNET_PORTS,
    app="telnet",
    bpf_hint="tcp port 23",
    description="Telnet option negotiation (RFC 854/855); session content never read",
)
