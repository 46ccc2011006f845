"""POCT1-A2 detector: DEV identity from HEL/DST; OBS and other messages give their type only."""

from __future__ import annotations

import pytest

from collector.protocols import poct
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_medical as g


def _pkt(payload: bytes) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.130.61", dst_ip="10.50.0.61", src_port=42000, dst_port=7010,
        transport="tcp", payload=payload,
    )


def test_hello_status_and_observation() -> None:
    hel, dst, obs = g.poct_hello_messages()
    payload = hel + dst + obs
    assert poct.probe(payload)
    out = poct.decode(_pkt(payload), SimpleContext())
    assert [o.message_type for o in out] == ["HEL.R01", "DST.R01", "OBS.R01"]
    assert (out[0].device_id, out[0].vendor_id, out[0].model_id, out[0].serial) == (
        "GLU-0042", "DEMOVENDOR", "GlucoDemo 3", "SN-778899")
    assert out[2].device_id is None and out[2].serial is None
    blob = "".join(o.model_dump_json() for o in out)
    assert "DOE^JOHN" not in blob and "PAT12345" not in blob and "mmol" not in blob


def test_bare_observation_message() -> None:
    obs = b'<OBS.R01><PT><PT.name V="DOE^JOHN"/></PT></OBS.R01>'
    assert poct.probe(obs)
    (rec,) = poct.decode(_pkt(obs), SimpleContext())
    assert rec.message_type == "OBS.R01" and "DOE" not in rec.model_dump_json()


def test_entities_are_refused() -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE HEL.R01 [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<HEL.R01><DEV><DEV.device_id V="&x;"/></DEV></HEL.R01>')
    assert poct.probe(hostile)
    ctx = SimpleContext()
    assert poct.decode(_pkt(hostile), ctx) == []
    assert ctx.weirds == {"poct_xml_refused": 1}


def test_truncated_hello_keeps_the_type_and_counts_a_weird() -> None:
    hel = g.poct_hello_messages()[0]
    ctx = SimpleContext()
    (rec,) = poct.decode(_pkt(hel[:-20]), ctx)
    assert rec.message_type == "HEL.R01" and rec.device_id is None
    assert ctx.weirds == {"poct_truncated_message": 1}


def test_malformed_hello_raises_value_error() -> None:
    with pytest.raises(ValueError):
        poct.decode(_pkt(b"<HEL.R01><DEV><DEV.device_id V='x'></HEL.R01>"), SimpleContext())


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><Envelope><Body/></Envelope>',
        b"GET / HTTP/1.1\r\n\r\n",
        b"<html>HEL.R01</html>",
    ],
)
def test_not_poct(payload: bytes) -> None:
    assert not poct.probe(payload)
