"""HL7 v2 over MLLP detector: the MSH header only (HL7 v2.x chapter 2, MLLP = HL7 v2 Appendix C).

MLLP frames a message as 0x0B <message> 0x1C 0x0D.  The message header segment MSH carries the
sending and receiving application and facility (MSH-3..6), the message type (MSH-9, kept with its
components as sent, e.g. ORU^R01^ORU_R01), the processing id (MSH-11) and the version (MSH-12).
Every other segment (PID, PV1, NK1, OBX, ...) is patient data: the parser stops at the first
segment terminator (CR) of the MSH and never reads further.  Batches (FHS/BHS headers) are
recognised; their first MSH is located by the first three bytes of each segment only.
"""

from __future__ import annotations

from collector.protocols.base import STREAM_PREFIX, DecodeContext, Detector, Packet
from collector.schema import Hl7Obs

SB, EB, CR = 0x0B, 0x1C, 0x0D
HEADERS = (b"MSH", b"FHS", b"BHS")
MAX_FIELD = 128
MAX_MESSAGES = 32


def _header_ok(seg: bytes) -> bool:
    """MSH/FHS/BHS followed by a field separator that is punctuation, not a letter or digit."""
    return len(seg) >= 4 and seg[:3] in HEADERS and 0x21 <= seg[3] < 0x7F and not chr(seg[3]).isalnum()


def probe(payload: bytes) -> bool:
    """0x0B then MSH (or an FHS/BHS batch header) with a plausible field separator."""
    return len(payload) >= 5 and payload[0] == SB and _header_ok(payload[1:5])


def _segment_end(block: bytes, start: int) -> int:
    """Index of the terminator (CR, LF or end block) of the segment starting at `start`, or -1."""
    ends = [i for i in (block.find(b"\r", start), block.find(b"\n", start)) if i >= 0]
    return min(ends) if ends else -1


def _find_msh(block: bytes) -> bytes | None:
    """The MSH segment of one MLLP block (looks only at segment starts), None when cut short."""
    start = 0
    while start < len(block):
        end = _segment_end(block, start)
        if block[start : start + 3] == b"MSH":
            return block[start:end] if end >= 0 else None
        if end < 0:
            return None
        start = end + 1
    return None


def _field(parts: list[str], n: int) -> str | None:
    """MSH-n (MSH-1 is the separator itself, so MSH-n is parts[n-1])."""
    if n - 1 >= len(parts):
        return None
    value = parts[n - 1].strip()[:MAX_FIELD]
    return value or None


def _parse_msh(pkt: Packet, segment: bytes) -> Hl7Obs:
    if len(segment) < 4:
        raise ValueError("hl7: MSH segment too short")
    text = segment.decode("latin-1")
    parts = text.split(text[3])
    return Hl7Obs(
        **pkt.envelope(),
        sending_application=_field(parts, 3),
        sending_facility=_field(parts, 4),
        receiving_application=_field(parts, 5),
        receiving_facility=_field(parts, 6),
        message_type=_field(parts, 9),
        processing_id=_field(parts, 11),
        version=_field(parts, 12),
        mllp=True,
    )


def decode(pkt: Packet, ctx: DecodeContext) -> list[Hl7Obs]:
    """One Hl7Obs per MLLP message in the stream prefix (MSH fields only)."""
    payload = pkt.payload[:STREAM_PREFIX]
    out: list[Hl7Obs] = []
    pos = 0
    while pos < len(payload) and len(out) < MAX_MESSAGES:
        if payload[pos] != SB:
            if out:
                ctx.weird("hl7_garbage_between_messages")
            break
        end = payload.find(bytes([EB]), pos + 1)
        block = payload[pos + 1 : end if end >= 0 else len(payload)]
        if not _header_ok(block[:4]):
            ctx.weird("hl7_no_header")
            break
        msh = _find_msh(block)
        if msh is None:
            ctx.weird("hl7_truncated_header")
            break
        out.append(_parse_msh(pkt, msh))
        if end < 0:
            break
        pos = end + 1
        if pos < len(payload) and payload[pos] == CR:
            pos += 1
        while pos < len(payload) and payload[pos] in (0x0A, 0x0D):  # tolerate stray line ends
            pos += 1
    return out


DETECTOR = Detector(
    name="hl7",
    layer="tcp",
    decode=decode,
    probe=probe,
    ports=frozenset({2575}),
    any_port=True,
    app="hl7",
    bpf_hint="tcp port 2575",
    description="HL7 v2 over MLLP: MSH-3..6, 9, 11, 12 only; every other segment is PHI and never read.",
)
