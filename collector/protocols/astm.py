"""ASTM E1381 / CLSI LIS2-A2 detector: the header (H) record that identifies a lab analyzer.

E1381 (LIS1-A) framing: the sender bids with ENQ (0x05), then sends frames
STX <frame number 1-7> <text> ETB|ETX <2 hex checksum> CR LF, and ends with EOT.  The E1394
(LIS2-A2) message starts with the header record "H|\\^&|...": H-2 defines the delimiters (field,
repeat, component, escape), H-5 is the sender name or id, by common LIS2-A2 practice
manufacturer^instrument^software version, H-12 the processing id (P production, T training,
D debugging, Q QC) and H-13 the version.  H-4 is an access password and is never kept.
Patient (P), order (O), result (R) and comment (C) records are personal data: only the first
H record of the stream prefix is assembled and the parser never looks past its terminator.
"""

from __future__ import annotations

from collector.protocols.base import STREAM_PREFIX, DecodeContext, Detector, Packet
from collector.schema import AstmObs

ENQ, STX, ETX, ETB, CR, LF = 0x05, 0x02, 0x03, 0x17, 0x0D, 0x0A
FRAME_DIGITS = b"01234567"
MAX_FIELD = 128
MAX_RECORD = 4096


def probe(payload: bytes) -> bool:
    """[ENQ] STX <frame number 1-7> "H" <field delimiter>."""
    p = payload[1:] if payload[:1] == bytes([ENQ]) else payload
    return len(p) >= 5 and p[0] == STX and p[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7") and (
        p[2:3] == b"H" and 0x21 <= p[3] < 0x7F and not chr(p[3]).isalnum()
    )


def _checksum_ok(frame: bytes, end: int) -> bool:
    """E1381 checksum: sum of the bytes from the frame number through ETB/ETX, modulo 256, 2 hex chars."""
    want = frame[end + 1 : end + 3]
    return len(want) == 2 and f"{sum(frame[1 : end + 1]) % 256:02X}".encode() == want.upper()


def _header_text(payload: bytes, ctx: DecodeContext) -> str | None:
    """Text of the first record, joined across ETB frames, cut at its CR terminator."""
    pos = 1 if payload[:1] == bytes([ENQ]) else 0
    text = b""
    while pos < len(payload) and len(text) < MAX_RECORD:
        if payload[pos] != STX or pos + 2 > len(payload) or payload[pos + 1 : pos + 2] not in FRAME_DIGITS:
            raise ValueError("astm: frame does not start with STX and a frame number")
        frame = payload[pos:]
        ends = [i for i in (frame.find(bytes([ETX])), frame.find(bytes([ETB]))) if i >= 0]
        end = min(ends) if ends else -1
        body = frame[2:end] if end >= 0 else frame[2:]
        cr = body.find(bytes([CR]))
        if cr >= 0:
            text += body[:cr]
            if end >= 0 and not _checksum_ok(frame, end):
                ctx.weird("astm_bad_checksum")
            return text.decode("latin-1")
        text += body
        if end < 0:
            break
        if not _checksum_ok(frame, end):
            ctx.weird("astm_bad_checksum")
        pos += end + 3
        while pos < len(payload) and payload[pos] in (CR, LF):
            pos += 1
    ctx.weird("astm_truncated_header")
    return text.decode("latin-1") if text else None


def _field(parts: list[str], n: int) -> str | None:
    """H-n is parts[n-1] (H-1 is the record type)."""
    if n - 1 >= len(parts):
        return None
    value = parts[n - 1].strip()[:MAX_FIELD]
    return value or None


def decode(pkt: Packet, ctx: DecodeContext) -> list[AstmObs]:
    payload = pkt.payload[:STREAM_PREFIX]
    if not probe(payload):
        return []
    text = _header_text(payload, ctx)
    if not text or len(text) < 2 or text[0] != "H":
        return []
    parts = text.split(text[1])
    delimiters = parts[1] if len(parts) > 1 else ""
    repeat = delimiters[0] if len(delimiters) >= 1 else None
    component = delimiters[1] if len(delimiters) >= 2 else "^"
    sender = _field(parts, 5)
    first = sender.split(repeat)[0] if sender and repeat else sender
    comps = (first or "").split(component)

    def comp(i: int) -> str | None:
        return (comps[i].strip()[:MAX_FIELD] or None) if i < len(comps) else None

    return [
        AstmObs(
            **pkt.envelope(),
            sender=sender,
            manufacturer=comp(0),
            instrument=comp(1),
            software_version=comp(2),
            processing_id=_field(parts, 12),
            version=_field(parts, 13),
        )
    ]


DETECTOR = Detector(
    name="astm",
    layer="tcp",
    decode=decode,
    probe=probe,
    any_port=True,
    app="astm",
    description="ASTM E1381/LIS2-A2 lab analyzer header record (H-5 sender, H-12, H-13); P/O/R/C never read.",
)
