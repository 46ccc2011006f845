"""FTP control connection (RFC 959): the server greeting and whether a user logged in.

Server direction: the `220` greeting (its first line, which often names the server
software) goes into `detail`; on a port other than 21 the greeting must mention FTP, so
that SMTP's `220` greeting is not taken for FTP.  Client direction, on port 21 only: a
`USER name` command gives `user_present` and a keyed hash of the name; `AUTH TLS` is noted.
Passwords (PASS), file names (RETR/STOR/LIST arguments) and every other command are
never read into a record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import Observation, RemoteAccessObs

FTP_PORTS = frozenset({21})
_GREETING = re.compile(rb"220[ -]([^\r\n]{0,200})\r?\n")
_COMMAND = re.compile(rb"(USER|AUTH|FEAT|SYST|OPTS|PASV|EPSV|TYPE) ?([^\r\n]*)\r?\n", re.IGNORECASE)


def probe(payload: bytes) -> bool:
    found = _GREETING.match(payload)
    return found is not None and b"ftp" in found.group(1).lower()


def _server(pkt: Packet, server_port: int | None) -> list[Observation]:
    found = _GREETING.match(pkt.payload)
    if found is None:
        return []
    text = found.group(1).decode("latin-1").strip()
    if server_port not in FTP_PORTS and "ftp" not in text.lower():
        return []
    detail = "".join(c if c.isprintable() else "?" for c in text)[:128]
    return [RemoteAccessObs(
        **pkt.envelope(), method="ftp", signature="ftp-banner", evidence="content", confidence=0.9,
        client_ip=pkt.client_ip or pkt.dst_ip, server_ip=pkt.server_ip or pkt.src_ip,
        server_port=server_port, detail=detail or None,
    )]


def _client(pkt: Packet, ctx: DecodeContext, server_port: int | None) -> list[Observation]:
    if server_port not in FTP_PORTS:
        return []  # USER is also POP3's; only trusted on the FTP port
    user, auth_tls = None, False
    for line in pkt.payload.split(b"\n")[:32]:
        found = _COMMAND.match(line + b"\n")
        if found is None:
            continue
        verb = found.group(1).upper()
        if verb == b"USER" and user is None:
            user = found.group(2).strip().decode("utf-8", "replace")
        elif verb == b"AUTH" and found.group(2).strip().upper() in (b"TLS", b"SSL"):
            auth_tls = True
    if user is None and not auth_tls:
        return []
    return [RemoteAccessObs(
        **pkt.envelope(), method="ftp", signature="ftp-user" if user is not None else "ftp-auth-tls",
        evidence="content", confidence=0.9, client_ip=pkt.client_ip or pkt.src_ip,
        server_ip=pkt.server_ip or pkt.dst_ip, server_port=server_port,
        detail="auth-tls" if auth_tls else "cleartext-login",
        user_present=bool(user), user_hash=ctx.pseudonymise(user) if user else None,
    )]


def decode(pkt: Packet, ctx: DecodeContext) -> Iterable[Observation]:
    if pkt.from_client:
        return _client(pkt, ctx, pkt.server_port or pkt.dst_port)
    return _server(pkt, pkt.server_port or pkt.src_port)


DETECTOR = Detector(
    name="ftp",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=FTP_PORTS,
    app="ftp",
    bpf_hint="tcp port 21",
    description="FTP greeting and USER presence (hashed); never passwords or file names",
)
