"""Channels that can alter a device's settings or a patient's data, folded as the digest reads records.

A write path is an operation that changes something on the server side of a conversation:
- SNMP SetRequest (RFC 3416 section 4.2.5), any version (v3 without privacy);
- an SNMPv3 request whose PDU is encrypted (msgFlags privFlag and reportableFlag, RFC 3412 section
  6.4): a Confirmed Class PDU, so a Get, GetNext, GetBulk, Set or Inform (RFC 3411 section 2.8), and
  nothing in the clear tells a Set from a Get; it is counted as a management `session` (like SSH),
  never as a SetRequest;
- an HTTP request with a method that changes state (RFC 9110 section 9.2.1: POST, PUT, DELETE,
  PATCH) to the device's web interface;
- a DIMSE request that creates or changes a managed object (PS3.7 section 10.1: N-SET, N-CREATE,
  N-ACTION, N-DELETE);
- an interactive or file session: telnet, SSH, desktop sharing (RDP, VNC, TeamViewer, AnyDesk...),
  FTP, and the vendor service platforms the remote-access signatures recognise
  (rules/signatures/remote_access.yaml), with a confidence of at least 0.5 (not a port-only guess).
Each is kept once per (client, server, server port, protocol, operation) with its first and last
time, a count and the first three evidence pointers; the evidence names the operation (and the
HTTP path, without its query string), never a value written.

HL7 v2 messages are kept per (sender, receiver, port, MSH-3 sending application, MSH-4 sending
facility) with the message types seen (MSH-9): `IDENTITY_OR_RESULTS` are the message families that
create or change a patient's identity, orders or results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.top import Top

HTTP_WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})
DIMSE_WRITES = frozenset({"N-SET-RQ", "N-CREATE-RQ", "N-ACTION-RQ", "N-DELETE-RQ"})
SESSION_MIN_CONFIDENCE = 0.5
TUNNELS = frozenset({"ipsec", "openvpn", "wireguard"})
"""Remote-access methods that carry other traffic rather than act on the device themselves."""
IDENTITY_OR_RESULTS = frozenset({"ADT", "BAR", "ORU", "OUL", "ORM", "OML", "OMG", "OMI", "RDE", "MDM"})
"""HL7 v2 message families (MSH-9.1) that create or change patient identity, orders or results (HL7 v2.5
chapters 3, 4, 7, 9)."""
EVIDENCE = 3

Key = tuple[Any, ...]


@dataclass
class _Kept:
    first_ts: float
    last_ts: float
    count: int = 0
    top: Top = field(default_factory=lambda: Top(EVIDENCE))

    def see(self, o: Any, key: Key, text: str) -> None:
        self.count += o.count
        self.first_ts = min(self.first_ts, o.ts)
        self.last_ts = max(self.last_ts, o.last_ts or o.ts)
        if self.top.wants(key):
            self.top.put(key, (o.source or None, o.frame_no or None, o.ts, text))


@dataclass
class WritePath(_Kept):
    """One (client, server, port, protocol, operation)."""

    client: str = ""
    server: str = ""
    port: int | None = None
    protocol: str = ""
    operation: str = ""


@dataclass
class Hl7Flow(_Kept):
    """HL7 messages of one sender (address and MSH-3/MSH-4) to one receiver."""

    sender: str = ""
    receiver: str = ""
    port: int | None = None
    application: str | None = None
    facility: str | None = None
    message_types: set[str] = field(default_factory=set)


class WriteTable:
    """Write paths and HL7 flows of a digest (analyzer.digest calls these from its folds)."""

    def __init__(self) -> None:
        self.paths: dict[Key, WritePath] = {}
        self.hl7: dict[Key, Hl7Flow] = {}

    def _path(self, o: Any, key: Key, client: str | None, server: str | None, port: int | None, protocol: str,
              operation: str, text: str) -> None:
        if not client or not server:
            return
        pkey = (client, server, port, protocol, operation)
        p = self.paths.get(pkey)
        if p is None:
            p = self.paths[pkey] = WritePath(first_ts=o.ts, last_ts=o.ts, client=client, server=server,
                                             port=port, protocol=protocol, operation=operation)
        p.see(o, key, text)

    def snmp(self, o: Any, key: Key) -> None:
        if o.pdu == "set":
            names = f" {', '.join(o.set_oids)}" if o.set_oids else ""
            self._path(o, key, o.src_ip, o.dst_ip, o.dst_port, "snmp", "SetRequest",
                       f"SNMP {o.version} SetRequest{names} {o.src_ip} -> {o.dst_ip}")
        elif o.version == "v3" and getattr(o, "encrypted", None) and getattr(o, "reportable", None):
            self._path(o, key, o.src_ip, o.dst_ip, o.dst_port, "snmp", "session",
                       f"SNMPv3 encrypted request (authPriv: Get or Set, the PDU type is not visible) "
                       f"{o.src_ip} -> {o.dst_ip}:{o.dst_port}")

    def http(self, o: Any, key: Key) -> None:
        method = (o.method or "").upper()
        if method in HTTP_WRITES:
            self._path(o, key, o.src_ip, o.dst_ip, o.dst_port, "http", method,
                       f"HTTP {method} {o.path or '/'} {o.src_ip} -> {o.dst_ip}:{o.dst_port}")

    def dicom(self, o: Any, key: Key) -> None:
        for command in o.dimse_commands:
            if command in DIMSE_WRITES:
                self._path(o, key, o.src_ip, o.dst_ip, o.dst_port, "dicom", command,
                           f"DICOM {command} {o.src_ip} -> {o.dst_ip}:{o.dst_port}")

    def remote(self, o: Any, key: Key) -> None:
        if o.method in TUNNELS or o.confidence < SESSION_MIN_CONFIDENCE:
            return
        client, server = o.client_ip or o.src_ip, o.server_ip or o.dst_ip
        port = o.server_port if o.server_port is not None else o.dst_port
        self._path(o, key, client, server, port, o.method, "session",
                   f"{o.method} session ({o.evidence}) {client} -> {server}:{port}")

    def hl7_message(self, o: Any, key: Key) -> None:
        if not o.src_ip or not o.dst_ip:
            return
        hkey = (o.src_ip, o.dst_ip, o.dst_port, o.sending_application, o.sending_facility)
        flow = self.hl7.get(hkey)
        if flow is None:
            flow = self.hl7[hkey] = Hl7Flow(first_ts=o.ts, last_ts=o.ts, sender=o.src_ip, receiver=o.dst_ip,
                                           port=o.dst_port, application=o.sending_application,
                                           facility=o.sending_facility)
        if o.message_type:
            flow.message_types.add(o.message_type)
        flow.see(o, key, f"HL7 {o.message_type or '?'} from {o.sending_application or '?'}"
                         f"^{o.sending_facility or '?'} ({o.src_ip}) to {o.dst_ip}:{o.dst_port}")


def family(message_type: str) -> str:
    """MSH-9.1, the message family (ADT of ADT^A08^ADT_A01), upper-case."""
    return message_type.split("^", 1)[0].strip().upper()


def declared_ips(sheet: Any, resolver: Any) -> set[str]:
    """Addresses of a sheet's declared interfaces, servers and remote-maintenance gateway."""
    names = [i.peer for i in sheet.interfaces] + [s.name for s in sheet.servers]
    if sheet.remote_maintenance.gateway:
        names.append(sheet.remote_maintenance.gateway)
    out: set[str] = set()
    for name in names:
        out |= resolver.ips(name)
    return out


def sheets_by_mac(ctx: Any) -> dict[str, Any]:
    """Matched sheet per device MAC."""
    sheets = {s.id: s for s in getattr(ctx, "sheets", None) or []}
    matches = getattr(ctx, "matches", None) or {}
    return {mac: sheets[sid] for sid, (mac, _) in matches.items() if sid in sheets}
