"""DICOM upper layer detector (DICOM PS3.8 section 9.3): association identity, never data sets.

An association starts with an A-ASSOCIATE-RQ PDU (type 0x01) from the modality (calling AE) to the
PACS or worklist server (called AE); the answer is A-ASSOCIATE-AC (0x02) or -RJ (0x03).  Those PDUs
carry what identifies a modality: AE titles, application context (item 0x10), presentation contexts
(0x20/0x21) with their abstract syntax (0x30: the SOP classes, mapped to a modality hint by
rules/dicom_sop_classes.yaml) and the user information item (0x50: implementation class UID 0x52,
version name 0x55, user identity 0x58/0x59 whose presence only is recorded).

P-DATA-TF (0x04) carries DIMSE messages (PS3.7 section 9.3, PS3.8 section 9.3.5): each presentation
data value (PDV) is a fragment of a command set or of a data set, told apart by bit 0 of its
message control header.  Data sets (patient name, ids, pixels) are never read.  Command sets are
read only for their Command Field (0000,0100), so that write operations (N-SET, N-CREATE,
N-ACTION, ...) are visible; every other command element is skipped unread.  P-DATA is recorded as
`pdu="p-data"` at most once per stream direction, with the distinct commands of that prefix.  A-RELEASE (0x05,
0x06) and A-ABORT (0x07) are recorded with their source/reason.  TLS on port 2762 (DICOM-TLS,
PS3.15 Annex B) becomes one `pdu="tls", tls=True` record; the TLS detector reads the hello itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from collector.protocols.base import STREAM_PREFIX, DecodeContext, Detector, Packet
from collector.protocols.dicom_sop import modality_hints
from collector.schema import DicomObs

PORTS = frozenset({104, 11112, 2762})
TLS_PORT = 2762
PDU_NAMES = {
    0x01: "associate-rq",
    0x02: "associate-ac",
    0x03: "associate-rj",
    0x04: "p-data",
    0x05: "release-rq",
    0x06: "release-rp",
    0x07: "abort",
}
ASSOC_FIXED = 68  # version 2 + reserved 2 + called AE 16 + calling AE 16 + reserved 32
MAX_ASSOC_PDU = 1 << 20
MAX_PDATA_PDU = 1 << 28
MAX_SYNTAXES = 64
MAX_UID = 64

RJ_RESULT = {1: "rejected-permanent", 2: "rejected-transient"}
RJ_SOURCE = {1: "service-user", 2: "service-provider-acse", 3: "service-provider-presentation"}
RJ_REASON = {
    1: {
        1: "no-reason-given",
        2: "application-context-name-not-supported",
        3: "calling-ae-title-not-recognized",
        7: "called-ae-title-not-recognized",
    },
    2: {1: "no-reason-given", 2: "protocol-version-not-supported"},
    3: {1: "temporary-congestion", 2: "local-limit-exceeded"},
}
DIMSE_COMMANDS = {
    0x0001: "C-STORE", 0x0010: "C-GET", 0x0020: "C-FIND", 0x0021: "C-MOVE", 0x0030: "C-ECHO",
    0x0100: "N-EVENT-REPORT", 0x0110: "N-GET", 0x0120: "N-SET", 0x0130: "N-ACTION", 0x0140: "N-CREATE",
    0x0150: "N-DELETE", 0x0FFF: "C-CANCEL",
}
"""Command Field (0000,0100) values (PS3.7 table E.1-1); a response sets bit 15 (0x8000)."""
COMMAND_FIELD = 0x0100
ABORT_SOURCE = {0: "service-user", 1: "reserved", 2: "service-provider"}
ABORT_REASON = {
    0: "reason-not-specified", 1: "unrecognized-pdu", 2: "unexpected-pdu", 4: "unrecognized-pdu-parameter",
    5: "unexpected-pdu-parameter", 6: "invalid-pdu-parameter-value",
}


def _printable(raw: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in raw)


def _is_tls_record(payload: bytes) -> bool:
    return len(payload) >= 5 and payload[0] == 0x16 and payload[1] == 0x03 and payload[2] <= 0x04


def _plausible_pdu(payload: bytes, off: int = 0) -> bool:
    """Header checks of one PDU at `off` (PS3.8 9.3): type, reserved byte, length, version."""
    if len(payload) - off < 6:
        return False
    ptype, reserved, length = struct.unpack_from(">BBI", payload, off)
    if ptype not in PDU_NAMES or reserved != 0:
        return False
    body = payload[off + 6 : off + 6 + length]
    if ptype in (0x01, 0x02):
        if not ASSOC_FIXED <= length <= MAX_ASSOC_PDU or len(body) < ASSOC_FIXED:
            return False
        if body[0:2] != b"\x00\x01":
            return False
        if ptype == 0x02:
            return True
        return _printable(body[4:20]) and _printable(body[20:36]) and body[4:20].strip() != b""
    if ptype in (0x03, 0x05, 0x06, 0x07):
        if length != 4 or len(body) < 4:
            return False
        if ptype == 0x03:
            return body[1] in RJ_RESULT and body[2] in RJ_SOURCE
        if ptype == 0x07:
            return body[2] in ABORT_SOURCE
        return body == b"\x00\x00\x00\x00"
    # P-DATA-TF: first PDV item length and message control header (PS3.8 E.2).
    if not 6 <= length <= MAX_PDATA_PDU or len(body) < 6:
        return False
    pdv_len = struct.unpack_from(">I", body, 0)[0]
    return 2 <= pdv_len <= length - 4 and body[4] % 2 == 1 and body[5] <= 0x03


def probe(payload: bytes) -> bool:
    """A DICOM PDU at the start of a stream (TLS is left to the TLS detector: False)."""
    try:
        return _plausible_pdu(payload, 0)
    except struct.error:
        return False


def _items(data: bytes, ctx: DecodeContext) -> Iterator[tuple[int, bytes]]:
    """Variable items (type, reserved, 2-byte length, value); stops cleanly at a truncated item."""
    off = 0
    while off + 4 <= len(data):
        itype, _, ilen = struct.unpack_from(">BBH", data, off)
        value = data[off + 4 : off + 4 + ilen]
        if len(value) < ilen:
            ctx.weird("dicom_truncated_item", f"item 0x{itype:02x}")
            return
        yield itype, value
        off += 4 + ilen


def _uid(raw: bytes) -> str:
    """A UID value (PS3.5 9.1: digits and dots, NUL-padded), bounded and kept printable."""
    return "".join(chr(b) for b in raw[:MAX_UID] if 0x20 < b < 0x7F)


def _ae(raw: bytes) -> str | None:
    text = "".join(ch for ch in raw.decode("latin-1") if 0x20 <= ord(ch) < 0x7F).strip()
    return text or None


def _associate(pkt: Packet, ptype: int, body: bytes, ctx: DecodeContext) -> DicomObs:
    """A-ASSOCIATE-RQ / -AC: AE titles and the variable items (PS3.8 9.3.2, 9.3.3)."""
    called, calling = _ae(body[4:20]), _ae(body[20:36])
    app_ctx: str | None = None
    syntaxes: list[str] = []
    impl_uid: str | None = None
    impl_version: str | None = None
    user_identity = False
    for itype, value in _items(body[ASSOC_FIXED:], ctx):
        if itype == 0x10:
            app_ctx = _uid(value) or None
        elif itype == 0x20 and ptype == 0x01:
            for sub, sval in _items(value[4:], ctx):
                if sub == 0x30:
                    uid = _uid(sval)
                    if uid and uid not in syntaxes and len(syntaxes) < MAX_SYNTAXES:
                        syntaxes.append(uid)
        elif itype == 0x50:
            for sub, sval in _items(value, ctx):
                if sub == 0x52:
                    impl_uid = _uid(sval) or None
                elif sub == 0x55:
                    impl_version = _ae(sval[:16])
                elif sub in (0x58, 0x59):
                    user_identity = True  # presence only: the user name / token is never read
    return DicomObs(
        **pkt.envelope(),
        pdu=PDU_NAMES[ptype],
        calling_ae=calling,
        called_ae=called,
        application_context=app_ctx,
        abstract_syntaxes=tuple(syntaxes),
        modality_hints=modality_hints(syntaxes),
        implementation_class_uid=impl_uid,
        implementation_version=impl_version,
        user_identity=user_identity,
    )


def _reject(pkt: Packet, body: bytes) -> DicomObs:
    result, source, reason = body[1], body[2], body[3]
    text = "; ".join(
        (
            RJ_RESULT.get(result, f"result-{result}"),
            RJ_SOURCE.get(source, f"source-{source}"),
            RJ_REASON.get(source, {}).get(reason, f"reason-{reason}"),
        )
    )
    return DicomObs(**pkt.envelope(), pdu="associate-rj", result=text)


def _abort(pkt: Packet, body: bytes) -> DicomObs:
    source, reason = body[2], body[3]
    text = ABORT_SOURCE.get(source, f"source-{source}")
    if source == 2:
        text += "; " + ABORT_REASON.get(reason, f"reason-{reason}")
    return DicomObs(**pkt.envelope(), pdu="abort", result=text)


def decode(pkt: Packet, ctx: DecodeContext) -> list[DicomObs]:
    """Every PDU header in the stream prefix; association items parsed, P-DATA content never read."""
    payload = pkt.payload[:STREAM_PREFIX]
    if _is_tls_record(payload):
        if TLS_PORT in (pkt.server_port, pkt.dst_port, pkt.src_port):
            return [DicomObs(**pkt.envelope(), pdu="tls", tls=True)]
        return []
    out: list[DicomObs] = []
    seen_pdata = False
    commands: dict[str, None] = {}  # in order of appearance
    off = 0
    while off + 6 <= len(payload):
        if not _plausible_pdu(payload, off):
            if off == 0:
                return []  # not DICOM (port hint only): nothing to say
            ctx.weird("dicom_bad_pdu_header", f"offset {off}")
            break
        ptype, _, length = struct.unpack_from(">BBI", payload, off)
        body = payload[off + 6 : off + 6 + length]
        truncated = len(body) < length
        if ptype in (0x01, 0x02):
            if truncated:
                ctx.weird("dicom_truncated_pdu", PDU_NAMES[ptype])
            out.append(_associate(pkt, ptype, body, ctx))
        elif ptype == 0x03:
            out.append(_reject(pkt, body))
        elif ptype == 0x07:
            out.append(_abort(pkt, body))
        elif ptype in (0x05, 0x06):
            out.append(DicomObs(**pkt.envelope(), pdu=PDU_NAMES[ptype]))
        else:  # 0x04: commands of every P-DATA in the prefix, one record per direction
            commands.update(dict.fromkeys(_dimse_commands(body, ctx)))
            if not seen_pdata:
                seen_pdata = True
                out.append(DicomObs(**pkt.envelope(), pdu="p-data"))
        if truncated:
            break
        off += 6 + length
    if commands:
        found = tuple(commands)
        out = [o.model_copy(update={"dimse_commands": found}) if o.pdu == "p-data" else o for o in out]
    return out


def _dimse_commands(body: bytes, ctx: DecodeContext) -> Iterator[str]:
    """Command names of the command-set PDVs of one P-DATA-TF body (data-set PDVs are skipped unread)."""
    off = 0
    while off + 6 <= len(body):
        (length,) = struct.unpack_from(">I", body, off)
        if length < 2:
            ctx.weird("dicom_bad_pdv", f"length {length}")
            return
        header = body[off + 5]
        value = body[off + 6 : off + 4 + length]
        off += 4 + length
        if header & 0x01:  # a command-set fragment; only whole first fragments hold the command field
            name = _command_field(value)
            if name is not None:
                yield name


def _command_field(command: bytes) -> str | None:
    """The Command Field of a command set (implicit VR little endian, group 0000, ascending tags)."""
    off = 0
    while off + 8 <= len(command):
        group, element, length = struct.unpack_from("<HHI", command, off)
        if group != 0x0000 or element > COMMAND_FIELD:
            return None
        if element == COMMAND_FIELD:
            if length != 2 or off + 10 > len(command):
                return None
            (field,) = struct.unpack_from("<H", command, off + 8)
            base = DIMSE_COMMANDS.get(field & 0x7FFF)
            if base is None:
                return f"command-{field:#06x}"
            return base + ("-RSP" if field & 0x8000 else "-RQ")
        off += 8 + length
    return None


DETECTOR = Detector(
    name="dicom",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=PORTS,
    any_port=True,
    app="dicom",
    bpf_hint="tcp port 104 or tcp port 11112 or tcp port 2762",
    description="DICOM upper layer: AE titles, SOP classes, implementation (PS3.8 9.3); never data sets.",
)
