"""IEEE 11073 SDC / DPWS discovery detector: WS-Discovery SOAP messages on UDP 3702.

OASIS WS-Discovery 1.1 (also the 2005/04 draft used by DPWS 1.0): Hello, Bye, Probe, ProbeMatches,
Resolve and ResolveMatches carry the endpoint reference address (a stable device UUID), Types
(SDC medical devices announce mdpws:MedicalDevice, IEEE 11073-20702), Scopes and XAddrs (the
device's HTTP(S) endpoints).  IEEE 11073-20701 context scopes can name people: operator or user
scopes are pseudonymised with the sensor key, keeping only their scheme in clear (staff identity);
patient context scopes (sdc.ctxt.pat) are reduced to their scheme (PHI).  Location scopes
(sdc.ctxt.loc) are kept.

The XML is parsed with the standard library after refusing any DTD or entity declaration.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from collector.flows import _fast_env
from collector.protocols import _xmlsafe
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import SdcObs

PORT = 3702
ACTIONS = {
    "Hello": "hello",
    "Bye": "bye",
    "Probe": "probe",
    "ProbeMatches": "probe-match",
    "Resolve": "resolve",
    "ResolveMatches": "resolve-match",
}
MATCH_ELEMENTS = {"ProbeMatch", "ResolveMatch"}
MAX_ITEMS = 32
MAX_TEXT = 256
MAX_MATCHES = 16
PERSON_MARKERS = ("operator", "user", "clinician", "sdc.ctxt.opr")
PATIENT_MARKERS = ("sdc.ctxt.pat", "patient")
# Validation skipped (collector.flows._fast): every field is built here with its schema type;
# tests/golden re-validates every record through the schema.
_sdc_obs = _fast_env(SdcObs)
KNOWN_SCHEMES = frozenset(
    {"sdc.ctxt.pat", "sdc.ctxt.opr", "sdc.ctxt.loc", "sdc.ctxt.ens", "sdc.ctxt.wfl", "http", "https", "urn"}
)


def probe(payload: bytes) -> bool:
    """An XML SOAP envelope mentioning a discovery namespace."""
    if not payload[:64].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return False  # cheap exit: this runs on every UDP datagram of any port
    head = payload[:4096].lower()
    xml = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml") or b"envelope" in head
    return xml and b"discovery" in head


def _words(el: ET.Element | None) -> list[str]:
    if el is None or not el.text:
        return []
    return [w[:MAX_TEXT] for w in el.text.split()][:MAX_ITEMS]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for sub in el.iter():
        if sub is not el and _xmlsafe.local(sub.tag) == name:
            return sub
    return None


def _scheme(scope: str) -> str:
    """The scope's URI scheme followed by ':' when it is a known one (never free text), else ''."""
    scheme = scope.split(":", 1)[0].lower() if ":" in scope else ""
    return scheme + ":" if scheme in KNOWN_SCHEMES else ""


def _scope(scope: str, ctx: DecodeContext) -> str:
    """A scope as stored: patient context reduced to its scheme, person scopes pseudonymised."""
    low = scope.lower()
    if any(m in low for m in PATIENT_MARKERS):
        return _scheme(scope) + "redacted"
    if any(m in low for m in PERSON_MARKERS):
        return _scheme(scope) + ctx.pseudonymise(scope)
    return scope


def _first(el: ET.Element, names: frozenset[str]) -> dict[str, ET.Element]:
    """The first descendant of `el` (not `el` itself, document order) of each local name in `names`: what
    `_child` gives for each name, in one walk."""
    found: dict[str, ET.Element] = {}
    it = el.iter()
    next(it)  # el itself
    for sub in it:
        name = _xmlsafe.local(sub.tag)
        if name in names and name not in found:
            found[name] = sub
            if len(found) == len(names):
                break
    return found


RECORD_ELEMENTS = frozenset({"EndpointReference", "Types", "Scopes", "XAddrs"})


def _record(pkt: Packet, action: str, el: ET.Element, ctx: DecodeContext) -> SdcObs:
    found = _first(el, RECORD_ELEMENTS)
    epr = found.get("EndpointReference")
    address = _child(epr, "Address") if epr is not None else None
    epr_text = (address.text or "").strip()[:MAX_TEXT] if address is not None else ""
    envelope = pkt.envelope()
    envelope["ts"] = float(envelope["ts"])
    return _sdc_obs(
        envelope,
        action=action,
        endpoint_reference=epr_text or None,
        types=tuple(_words(found.get("Types"))),
        scopes=tuple(_scope(s, ctx) for s in _words(found.get("Scopes"))),
        xaddrs=tuple(_words(found.get("XAddrs"))),
    )


def decode(pkt: Packet, ctx: DecodeContext) -> list[SdcObs]:
    """One record per discovery message (per match for ProbeMatches / ResolveMatches)."""
    if not probe(pkt.payload):
        return []  # port 3702 without a discovery envelope: not ours
    try:
        root = _xmlsafe.parse(pkt.payload)
    except _xmlsafe.UnsafeXml:  # checked by parse itself: not lower-casing the document twice
        ctx.weird("sdc_xml_refused", "DTD, entity declaration or oversize document")
        return []
    if _xmlsafe.local(root.tag) != "Envelope":
        return []
    body = _child(root, "Body")
    if body is None or len(body) == 0:
        return []
    message = body[0]
    action = ACTIONS.get(_xmlsafe.local(message.tag))
    if action is None:
        return []
    matches = [m for m in message if _xmlsafe.local(m.tag) in MATCH_ELEMENTS][:MAX_MATCHES]
    if matches:
        return [_record(pkt, action, m, ctx) for m in matches]
    return [_record(pkt, action, message, ctx)]


DETECTOR = Detector(
    name="sdc",
    layer="udp",
    decode=decode,
    probe=probe,
    ports=frozenset({PORT}),
    any_port=True,
    app="sdc",
    bpf_hint="udp port 3702",
    description="IEEE 11073 SDC / WS-Discovery: endpoint, types, scopes (people pseudonymised), XAddrs.",
)
