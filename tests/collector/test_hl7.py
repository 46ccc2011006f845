"""HL7 v2 / MLLP detector: MSH-3..6, 9, 11, 12 only; every other segment is dropped unread."""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP

from collector.protocols import hl7
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_medical as g


def _pkt(payload: bytes, from_client: bool = True) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.120.10", dst_ip="10.50.0.30", src_port=40001, dst_port=2575,
        transport="tcp", payload=payload, from_client=from_client, server_port=2575,
    )


def _client_payload(pkts: list) -> bytes:
    return b"".join(bytes(p[TCP].payload) for p in pkts if p[TCP].dport == 2575)


def test_two_messages_in_one_prefix() -> None:
    payload = _client_payload(g.hl7_oru()[:8])
    assert hl7.probe(payload)
    out = hl7.decode(_pkt(payload), SimpleContext())
    assert len(out) == 2
    for obs in out:
        assert (obs.sending_application, obs.sending_facility) == ("MONGW", "ICU")
        assert (obs.receiving_application, obs.receiving_facility) == ("HL7ENG", "DEMOHOSP")
        assert (obs.message_type, obs.processing_id, obs.version) == ("ORU^R01^ORU_R01", "P", "2.5.1")
        assert obs.mllp is True
    blob = "".join(o.model_dump_json() for o in out)
    for secret in ("DOE^JOHN", "PAT12345", "19550317", "Heart rate", "MSG0001"):
        assert secret not in blob


def test_ack_from_the_server() -> None:
    (obs,) = hl7.decode(_pkt(g.mllp(g.hl7_ack(b"X1")), from_client=False), SimpleContext())
    assert obs.message_type == "ACK^R01^ACK" and obs.sending_application == "HL7ENG"


def test_other_separators_and_missing_fields() -> None:
    msg = b"\x0bMSH#^~\\&#APP#FAC\rPID#1##DOE^JOHN\r\x1c\r"
    (obs,) = hl7.decode(_pkt(msg), SimpleContext())
    assert (obs.sending_application, obs.sending_facility) == ("APP", "FAC")
    assert obs.message_type is None and obs.version is None
    assert "DOE" not in obs.model_dump_json()


def test_batch_header_finds_the_first_msh() -> None:
    batch = b"\x0bFHS|^~\\&|BATCHAPP\rBHS|^~\\&|BATCHAPP\r" + g.hl7_message(b"ORU^R01", b"B1")
    batch += b"BTS|1\rFTS|1\r\x1c\r"
    assert hl7.probe(batch)
    (obs,) = hl7.decode(_pkt(batch), SimpleContext())
    assert obs.sending_application == "MONGW" and obs.message_type == "ORU^R01"


def test_truncated_msh_is_a_weird_not_a_guess() -> None:
    ctx = SimpleContext()
    assert hl7.decode(_pkt(b"\x0bMSH|^~\\&|MONGW|IC"), ctx) == []
    assert ctx.weirds == {"hl7_truncated_header": 1}


def test_message_cut_after_msh_still_reports_it() -> None:
    full = g.mllp(g.hl7_message(b"ORU^R01", b"C1"))
    cut = full[: full.index(b"PID") + 10]
    (obs,) = hl7.decode(_pkt(cut), SimpleContext())
    assert obs.message_type == "ORU^R01" and "PAT" not in obs.model_dump_json()


@pytest.mark.parametrize(
    "payload",
    [
        g.hl7_message(b"ORU^R01", b"R1"),  # not MLLP framed
        b"\x0bMSHX^~\\&|x",  # alphanumeric separator
        b"\x0bPID|1||x\r\x1c\r",
        b"GET / HTTP/1.1\r\n\r\n",
        b"",
    ],
)
def test_not_hl7(payload: bytes) -> None:
    assert not hl7.probe(payload)
    assert hl7.decode(_pkt(payload), SimpleContext()) == []


def test_fields_are_bounded() -> None:
    msg = b"\x0bMSH|^~\\&|" + b"A" * 5000 + b"|F\r\x1c\r"
    (obs,) = hl7.decode(_pkt(msg), SimpleContext())
    assert obs.sending_application == "A" * hl7.MAX_FIELD
