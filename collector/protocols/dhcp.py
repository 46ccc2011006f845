"""DHCPv4 detector (RFC 2131 message, RFC 2132 options): client identity and server identity.

Identified by content: BOOTP op 1/2 and the magic cookie 0x63825363 at offset 236, on the
DHCP ports or on any port.  Kept: message type (53), chaddr, host name (12), vendor class (60),
parameter request list (55, in order, also as the comma-joined fingerprint), client id (61, hex),
client FQDN (81), requested address (50), yiaddr, server identifier (54), giaddr and the list of
option codes present.  Option overload (52) is not followed (the sname/file fields are ignored).
"""

from __future__ import annotations

from collector.flows import _fast_env
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import DhcpObs

MAGIC = b"\x63\x82\x53\x63"
MSG_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
    9: "forcerenew",
    10: "leasequery",
    11: "leaseunassigned",
    12: "leaseunknown",
    13: "leaseactive",
}
MAX_TEXT = 128
# Validation skipped: every field is built below with its schema type (str or None, tuples of int);
# tests/golden re-validates every record through the schema.
_dhcp_obs = _fast_env(DhcpObs)


def probe(payload: bytes) -> bool:
    """BOOTP request/reply with the DHCP magic cookie."""
    return len(payload) >= 240 and payload[0] in (1, 2) and payload[236:240] == MAGIC


def _ip(raw: bytes) -> str | None:
    if len(raw) != 4:
        return None
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"  # as ipaddress prints it


def _text(raw: bytes) -> str | None:
    value = raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()[:MAX_TEXT]
    return value or None


def parse_options(data: bytes, ctx: DecodeContext) -> list[tuple[int, bytes]]:
    """(code, value) pairs in order; stops at END (255); a cut option is a weird, not an error."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        if i + 1 >= len(data):
            ctx.weird("dhcp_truncated_option")
            break
        length = data[i + 1]
        value = data[i + 2 : i + 2 + length]
        if len(value) < length:
            ctx.weird("dhcp_truncated_option")
            break
        out.append((code, value))
        i += 2 + length
    return out


def _fqdn(value: bytes) -> str | None:
    """Option 81 (RFC 4702): flags, rcode1, rcode2, then a name (wire format when flag E is set)."""
    if len(value) < 3:
        return None
    flags, name = value[0], value[3:]
    if flags & 0x04:
        labels: list[str] = []
        i = 0
        while i < len(name) and name[i] != 0:
            n = name[i]
            labels.append(name[i + 1 : i + 1 + n].decode("utf-8", "replace"))
            i += 1 + n
        return ".".join(labels)[:MAX_TEXT] or None
    return _text(name)


def decode(pkt: Packet, ctx: DecodeContext) -> list[DhcpObs]:
    """One DhcpObs per DHCP message (BOOTP without a message type is ignored)."""
    data = pkt.payload
    if not probe(data):
        if len(data) < 240:
            raise ValueError("dhcp: shorter than the BOOTP header")
        return []
    hlen = data[2]
    chaddr = data[28 : 28 + min(hlen, 16)] if hlen else data[28:34]
    opts = parse_options(data[240:], ctx)
    values: dict[int, bytes] = {}
    for code, value in opts:
        values.setdefault(code, value)
    if 53 not in values or not values[53]:
        ctx.weird("dhcp_no_message_type")
        return []
    mtype = MSG_TYPES.get(values[53][0], f"type-{values[53][0]}")
    prl = tuple(values.get(55, b""))
    yiaddr = _ip(data[16:20])
    giaddr = _ip(data[24:28])
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return [
        _dhcp_obs(
            envelope,
            message_type=mtype,
            client_mac=chaddr.hex(":"),
            hostname=_text(values[12]) if 12 in values else None,
            vendor_class=_text(values[60]) if 60 in values else None,
            param_request_list=prl,
            fingerprint=",".join(str(c) for c in prl) if prl else None,
            client_id=values[61].hex() if 61 in values else None,
            fqdn=_fqdn(values[81]) if 81 in values else None,
            requested_ip=_ip(values[50]) if 50 in values else None,
            assigned_ip=yiaddr if yiaddr != "0.0.0.0" else None,
            server_id=_ip(values[54]) if 54 in values else None,
            relay_ip=giaddr if giaddr != "0.0.0.0" else None,
            options=tuple(code for code, _ in opts),
        )
    ]


DETECTOR = Detector(
    name="dhcp",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({67, 68}),
    any_port=True,
    app="dhcp",
    bpf_hint="udp port 67 or udp port 68",
    description="DHCPv4 identity options (RFC 2131/2132): host name, vendor class, PRL fingerprint.",
)
