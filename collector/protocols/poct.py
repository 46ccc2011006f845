"""POCT1-A2 detector (CLSI POCT1-A2, point-of-care device messaging): device identity only.

Point-of-care analyzers (glucose meters, blood gas, coagulation) talk XML messages over TCP to an
observation manager.  Each message is one root element named <TYPE.Rnn>: HEL.R01 (hello) and
DST.R01 (device status) identify the device in their DEV segment: DEV.device_id, DEV.vendor_id,
DEV.model_id and DEV.serial_id, each as an attribute V="...".  OBS.Rnn (observations) and the
operator and patient lists (OPL, PTL) carry personal data: for every message other than HEL/DST only
the message type is recorded, and the content is never parsed.  XML is parsed with the standard
library after refusing any DTD or entity declaration.
"""

from __future__ import annotations

import re

from collector.protocols import _xmlsafe
from collector.protocols.base import STREAM_PREFIX, DecodeContext, Detector, Packet
from collector.schema import PoctObs

IDENTITY_MESSAGES = {"HEL.R01", "DST.R01"}
ROOT = re.compile(rb"<([A-Z]{3}\.R[0-9]{2})[\s/>]")
DEV_FIELDS = {"DEV.device_id": "device_id", "DEV.vendor_id": "vendor_id", "DEV.model_id": "model_id",
              "DEV.serial_id": "serial"}
MAX_VALUE = 128
MAX_MESSAGES = 32
BOM = b"\xef\xbb\xbf"


def probe(payload: bytes) -> bool:
    """A POCT1-A2 root element, directly or after an XML declaration."""
    head = payload[:1024].lstrip(BOM + b" \t\r\n")
    if head.startswith((b"<HEL.R01", b"<DST.R01", b"<OBS.R0")):
        return True
    return head.startswith(b"<?xml") and any(t in head for t in (b"<HEL.R01", b"<DST.R01", b"<OBS.R0"))


def _device(xml: bytes) -> dict[str, str]:
    root = _xmlsafe.parse(xml)
    found: dict[str, str] = {}
    for el in root.iter():
        key = DEV_FIELDS.get(_xmlsafe.local(el.tag))
        value = (el.get("V") or "").strip()[:MAX_VALUE]
        if key and value and key not in found:
            found[key] = value
    return found


def decode(pkt: Packet, ctx: DecodeContext) -> list[PoctObs]:
    """One record per message root in the stream prefix; DEV identity for HEL/DST only."""
    payload = pkt.payload[:STREAM_PREFIX]
    if _xmlsafe.is_unsafe(payload):
        ctx.weird("poct_xml_refused", "DTD, entity declaration or oversize document")
        return []
    out: list[PoctObs] = []
    pos = 0
    while len(out) < MAX_MESSAGES:
        m = ROOT.search(payload, pos)
        if m is None:
            break
        mtype = m.group(1).decode("ascii")
        close = payload.find(b"</" + m.group(1) + b">", m.end())
        if mtype not in IDENTITY_MESSAGES:
            out.append(PoctObs(**pkt.envelope(), message_type=mtype))  # content never read
        elif close < 0:
            ctx.weird("poct_truncated_message", mtype)
            out.append(PoctObs(**pkt.envelope(), message_type=mtype))
        else:
            xml = payload[m.start() : close + len(m.group(1)) + 3]
            out.append(PoctObs(**pkt.envelope(), message_type=mtype, **_device(xml)))
        if close < 0:
            break
        pos = close + len(m.group(1)) + 3
    return out


DETECTOR = Detector(
    name="poct",
    layer="tcp",
    decode=decode,
    probe=probe,
    any_port=True,
    app="poct",
    description="POCT1-A2 HEL/DST device identity (DEV ids and serial); OBS and lists never read.",
)
