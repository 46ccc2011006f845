"""SNMP detector (RFC 1157 v1, RFC 3416 v2c, RFC 3412 v3), BER decoded by hand (ITU-T X.690).

Kept: the version (0 -> v1, 1 -> v2c, 3 -> v3), the PDU type, and whether the community is a
well-known default ("public", "private"): the community string itself is never stored.  For v3
the msgFlags of msgGlobalData (RFC 3412 section 6.4: authFlag 0x01, privFlag 0x02, reportableFlag
0x04) say whether the scopedPDU is encrypted and whether the message is a request: the
reportableFlag is always one on a Confirmed Class PDU (Get, GetNext, GetBulk, Set, Inform) and zero
on the others (RFC 3411 section 2.8).  The PDU type is read from a plaintext scopedPDU; an
encrypted one (privFlag, an OCTET STRING encrypted by the USM privacy protocol, RFC 3414 section 8)
leaves it None: an encrypted request may be a Set or a Get, nothing in the clear tells which, so
analyzer.writes counts it as a management session, not a write.  A SetRequest (any version, v3
without privacy) also gives the object identifiers it sets (RFC 3416 section 4.2.5: the variable
bindings' names, at most `MAX_SET_OIDS`), so a finding can say what was changed; the values written
are never read.
"""

from __future__ import annotations

from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import SnmpObs

VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}
PDUS = {
    0xA0: "get",
    0xA1: "getnext",
    0xA2: "response",
    0xA3: "set",
    0xA4: "trap",
    0xA5: "getbulk",
    0xA6: "inform",
    0xA7: "trapv2",
    0xA8: "report",
}
DEFAULT_COMMUNITIES = frozenset({b"public", b"private"})
MAX_SET_OIDS = 8
MAX_OID_BYTES = 64


def tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, value offset, value length) of the BER TLV at pos (definite lengths only)."""
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("snmp: unsupported BER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if len(data[pos : pos + count]) < count:
            raise IndexError("snmp: truncated BER length")
        pos += count
    if pos + length > len(data):
        raise IndexError("snmp: BER value beyond the datagram")
    return tag, pos, length


def probe(payload: bytes) -> bool:
    """SEQUENCE then INTEGER version 0, 1 or 3."""
    try:
        tag, pos, _ = tlv(payload, 0)
        vtag, vpos, vlen = tlv(payload, pos)
    except (IndexError, ValueError):
        return False
    return tag == 0x30 and vtag == 0x02 and vlen == 1 and payload[vpos] in VERSIONS


AUTH_FLAG, PRIV_FLAG, REPORTABLE_FLAG = 0x01, 0x02, 0x04


def _v3(data: bytes, pos: int, ctx: DecodeContext) -> tuple[str | None, bool, bool, tuple[str, ...]]:
    """(PDU type, encrypted, reportable, set OIDs) of the v3 message whose msgGlobalData starts at pos."""
    gtag, gpos, glen = tlv(data, pos)
    if gtag != 0x30:
        raise ValueError("snmp: v3 msgGlobalData is not a SEQUENCE")
    fpos = gpos
    for _ in range(2):  # msgID, msgMaxSize
        _, ipos, ilen = tlv(data, fpos)
        fpos = ipos + ilen
    ftag, fvpos, flen = tlv(data, fpos)
    if ftag != 0x04 or flen != 1:
        raise ValueError("snmp: v3 msgFlags is not a one-byte OCTET STRING")
    flags = data[fvpos]
    encrypted, reportable = bool(flags & PRIV_FLAG), bool(flags & REPORTABLE_FLAG)
    if encrypted and not flags & AUTH_FLAG:
        ctx.weird("snmp_v3_priv_without_auth")  # RFC 3412 section 7.2 step 5: an invalid combination
    pos = gpos + glen
    _, spos, slen = tlv(data, pos)  # msgSecurityParameters
    pos = spos + slen
    tag, vpos, _ = tlv(data, pos)
    if tag != 0x30:
        if not encrypted:
            ctx.weird("snmp_v3_scoped_pdu_not_plaintext")
        return None, encrypted, reportable, ()  # encryptedPDU (OCTET STRING)
    if encrypted:
        ctx.weird("snmp_v3_privflag_but_plaintext")
    pos = vpos
    for _ in range(2):  # contextEngineID, contextName
        _, cpos, clen = tlv(data, pos)
        pos = cpos + clen
    pdu = PDUS.get(data[pos], f"tag-{data[pos]:#x}")
    return pdu, encrypted, reportable, _set_oids(data, pos, ctx) if pdu == "set" else ()


def decode(pkt: Packet, ctx: DecodeContext) -> list[SnmpObs]:
    data = pkt.payload
    tag, pos, _ = tlv(data, 0)
    if tag != 0x30:
        raise ValueError("snmp: not a SEQUENCE")
    vtag, vpos, vlen = tlv(data, pos)
    if vtag != 0x02 or vlen != 1 or data[vpos] not in VERSIONS:
        raise ValueError("snmp: unknown version")
    version = VERSIONS[data[vpos]]
    pos = vpos + vlen
    if version == "v3":
        pdu, encrypted, reportable, oids = _v3(data, pos, ctx)
        return [SnmpObs(**pkt.envelope(), version="v3", pdu=pdu, encrypted=encrypted, reportable=reportable,
                        set_oids=oids)]
    ctag, cpos, clen = tlv(data, pos)
    if ctag != 0x04:
        raise ValueError("snmp: community is not an OCTET STRING")
    default = data[cpos : cpos + clen] in DEFAULT_COMMUNITIES
    pos = cpos + clen
    pdu = PDUS.get(data[pos], f"tag-{data[pos]:#x}") if pos < len(data) else None
    oids = _set_oids(data, pos, ctx) if pdu == "set" else ()
    return [SnmpObs(**pkt.envelope(), version=version, pdu=pdu, community_default=default, set_oids=oids)]


def _set_oids(data: bytes, pos: int, ctx: DecodeContext) -> tuple[str, ...]:
    """Names of the variable bindings of the PDU at `pos` (request-id, error-status, error-index, then
    SEQUENCE OF SEQUENCE {name OID, value}); the values are skipped unread."""
    _, ppos, plen = tlv(data, pos)
    end = ppos + plen
    pos = ppos
    for _ in range(3):  # request-id, error-status, error-index
        _, ipos, ilen = tlv(data, pos)
        pos = ipos + ilen
    ltag, lpos, llen = tlv(data, pos)
    if ltag != 0x30:
        ctx.weird("snmp_bad_varbind_list")
        return ()
    out: list[str] = []
    pos, stop = lpos, min(lpos + llen, end)
    while pos < stop and len(out) < MAX_SET_OIDS:
        btag, bpos, blen = tlv(data, pos)
        otag, opos, olen = tlv(data, bpos)
        if btag != 0x30 or otag != 0x06 or not 0 < olen <= MAX_OID_BYTES:
            ctx.weird("snmp_bad_varbind")
            break
        out.append(oid_text(data[opos : opos + olen]))
        pos = bpos + blen
    return tuple(out)


def oid_text(raw: bytes) -> str:
    """Dotted form of a BER-encoded OBJECT IDENTIFIER (X.690 section 8.19)."""
    top = min(raw[0] // 40, 2)
    arcs, value = [top, raw[0] - 40 * top], 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


DETECTOR = Detector(
    name="snmp",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({161, 162}),
    app="snmp",
    bpf_hint="udp port 161 or udp port 162",
    description="SNMP version, PDU type and default-community use (community never stored).",
)
