"""SDC / WS-Discovery detector: endpoint, types, scopes, XAddrs; people in scopes never in clear."""

from __future__ import annotations

import pytest
from scapy.layers.inet import UDP

from collector.protocols import sdc
from collector.protocols.base import Packet, SimpleContext, pseudonymise
from pcaps.fixtures import gen_medical as g


def _pkt(payload: bytes) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.120.31", dst_ip="239.255.255.250", src_port=3702, dst_port=3702,
        transport="udp", payload=payload,
    )


def _hello() -> bytes:
    return bytes(g.sdc_hello()[0][UDP].payload)


def test_hello_fields() -> None:
    ctx = SimpleContext()
    assert sdc.probe(_hello())
    (obs,) = sdc.decode(_pkt(_hello()), ctx)
    assert obs.action == "hello"
    assert obs.endpoint_reference == g.SDC_EPR
    assert obs.types == ("dpws:Device", "mdpws:MedicalDevice")
    assert obs.xaddrs == ("https://10.10.120.31:6464/sdc",)
    loc, opr, pat, pkp = obs.scopes
    assert loc.startswith("sdc.ctxt.loc:/") and "&poc=ICU" in loc  # XML entity decoded, location kept
    assert opr == "sdc.ctxt.opr:" + pseudonymise(ctx.key, "sdc.ctxt.opr:/urn:oid:1.2.3.4/NURSE42")
    assert pat == "sdc.ctxt.pat:redacted"
    assert pkp == "sdc.mds.pkp:1.2.840.10004.20701.1.1"
    assert "NURSE42" not in obs.model_dump_json() and "PAT12345" not in obs.model_dump_json()


def test_pseudonym_depends_on_the_sensor_key() -> None:
    a = sdc.decode(_pkt(_hello()), SimpleContext(key=b"a"))[0].scopes[1]
    b = sdc.decode(_pkt(_hello()), SimpleContext(key=b"b"))[0].scopes[1]
    assert a != b


def test_probe_and_probe_matches() -> None:
    pkts = g.sdc_hello()
    (probe,) = sdc.decode(_pkt(bytes(pkts[1][UDP].payload)), SimpleContext())
    assert probe.action == "probe" and probe.types == ("mdpws:MedicalDevice",)
    assert probe.endpoint_reference is None
    (match,) = sdc.decode(_pkt(bytes(pkts[2][UDP].payload)), SimpleContext())
    assert match.action == "probe-match" and match.endpoint_reference == g.SDC_EPR


def test_several_matches_give_several_records() -> None:
    body = "<wsd:ProbeMatches>" + "".join(
        "<wsd:ProbeMatch><wsa:EndpointReference>"
        f"<wsa:Address>urn:uuid:{i}</wsa:Address></wsa:EndpointReference>"
        "</wsd:ProbeMatch>" for i in range(3)
    ) + "</wsd:ProbeMatches>"
    out = sdc.decode(_pkt(g._soap("ProbeMatches", body, "m")), SimpleContext())
    assert [o.endpoint_reference for o in out] == ["urn:uuid:0", "urn:uuid:1", "urn:uuid:2"]


def test_bye_and_resolve() -> None:
    epr = f"<wsa:EndpointReference><wsa:Address>{g.SDC_EPR}</wsa:Address></wsa:EndpointReference>"
    (bye,) = sdc.decode(_pkt(g._soap("Bye", f"<wsd:Bye>{epr}</wsd:Bye>", "b")), SimpleContext())
    (res,) = sdc.decode(_pkt(g._soap("Resolve", f"<wsd:Resolve>{epr}</wsd:Resolve>", "r")), SimpleContext())
    assert (bye.action, res.action) == ("bye", "resolve")
    assert bye.endpoint_reference == res.endpoint_reference == g.SDC_EPR


def test_doctype_is_refused_unparsed() -> None:
    laughs = bytes(g.sdc_negative()[0][UDP].payload)
    assert sdc.probe(laughs)
    ctx = SimpleContext()
    assert sdc.decode(_pkt(laughs), ctx) == []
    assert ctx.weirds == {"sdc_xml_refused": 1}


def test_malformed_xml_raises_value_error() -> None:
    broken = _hello()[:-40]
    with pytest.raises(ValueError):
        sdc.decode(_pkt(broken), SimpleContext())


@pytest.mark.parametrize(
    "payload", [b"M-SEARCH * HTTP/1.1\r\n\r\n", b"\x00" * 40, b"<?xml version='1.0'?><a/>"]
)
def test_not_discovery(payload: bytes) -> None:
    assert not sdc.probe(payload)
    assert sdc.decode(_pkt(payload), SimpleContext()) == []


def test_other_soap_actions_are_ignored() -> None:
    msg = g._soap("GetMetadata", "<wsd:Something/>", "x")
    assert sdc.decode(_pkt(msg), SimpleContext()) == []


@pytest.mark.parametrize(
    ("scope", "want_prefix"),
    [
        ("patient-PAT12345", "redacted"),  # no scheme: nothing of the value is kept
        ("http://hosp/patient/PAT12345", "http:redacted"),
        ("user42:NURSE42", "h:"),  # an unknown scheme is free text: not kept in clear
        ("https://hosp/operator/NURSE42", "https:h:"),
    ],
)
def test_scopes_naming_people_keep_no_clear_text(scope: str, want_prefix: str) -> None:
    ctx = SimpleContext()
    stored = sdc._scope(scope, ctx)
    assert stored.startswith(want_prefix)
    assert "PAT12345" not in stored and "NURSE42" not in stored and "user42" not in stored
