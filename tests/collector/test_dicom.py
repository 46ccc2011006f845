"""DICOM upper layer detector (PS3.8 9.3): association identity out, data sets never read."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.inet import TCP

from collector.protocols import dicom, dicom_sop
from collector.protocols.base import Packet, SimpleContext
from collector.registry import all_detectors
from pcaps.fixtures import gen_medical as g


def _payloads(pkts: list, from_client: bool) -> bytes:
    """Concatenated TCP payload of one direction of a fixture stream (the detector's prefix)."""
    client_port = pkts[0][TCP].sport
    return b"".join(bytes(p[TCP].payload) for p in pkts if (p[TCP].sport == client_port) == from_client)


def _pkt(payload: bytes, port: int = 104, from_client: bool = True) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.110.21", dst_ip="10.50.0.20", src_port=49152, dst_port=port,
        transport="tcp", payload=payload, from_client=from_client, server_port=port,
    )


def test_associate_rq_identity() -> None:
    ctx = SimpleContext()
    client = _payloads(g.dicom_associate(), True)
    assert dicom.probe(client)
    out = dicom.decode(_pkt(client), ctx)
    rq = out[0]
    assert (rq.pdu, rq.calling_ae, rq.called_ae) == ("associate-rq", "CT_SCANNER1", "PACS_ARCHIVE")
    assert rq.application_context == "1.2.840.10008.3.1.1.1"
    assert rq.abstract_syntaxes == (g.CT_IMAGE.decode(), g.SC_IMAGE.decode(), g.VERIFICATION.decode())
    assert rq.modality_hints == ("CT", "SC", "echo")
    assert rq.implementation_class_uid == g.IMPL_UID.decode()
    assert rq.implementation_version == "MEDTAP_DEMO_11"
    assert rq.user_identity is True
    assert [o.pdu for o in out] == ["associate-rq", "p-data", "release-rq"]
    blob = "".join(o.model_dump_json() for o in out)
    assert "dr.house" not in blob and "DOE^JOHN" not in blob and "PAT12345" not in blob
    assert ctx.weirds == {}


def test_associate_ac_and_server_direction() -> None:
    server = _payloads(g.dicom_associate(), False)
    out = dicom.decode(_pkt(server, from_client=False), SimpleContext())
    assert [o.pdu for o in out] == ["associate-ac", "p-data", "release-rp"]
    assert out[0].abstract_syntaxes == () and out[0].implementation_version == "PACS_DEMO_3"
    assert out[0].user_identity is False


def test_p_data_recorded_once_per_direction_without_content() -> None:
    pdata = g.p_data(1, g.patient_dataset())
    out = dicom.decode(_pkt(g.associate_rq("CT_SCANNER1", "PACS", [g.CT_IMAGE]) + pdata * 3), SimpleContext())
    assert [o.pdu for o in out] == ["associate-rq", "p-data"]
    assert out[1].model_dump(exclude_defaults=True, exclude={"ts", "frame_no", "src_ip", "dst_ip", "src_port",
                                                              "dst_port", "transport"}) == {"pdu": "p-data"}


def test_reject_and_abort_reasons() -> None:
    rj = g._pdu(0x03, bytes([0, 2, 3, 1]))
    assert dicom.probe(rj)
    (obs,) = dicom.decode(_pkt(rj, from_client=False), SimpleContext())
    assert obs.pdu == "associate-rj"
    assert obs.result == "rejected-transient; service-provider-presentation; temporary-congestion"
    abort = g._pdu(0x07, bytes([0, 0, 2, 6]))
    (obs,) = dicom.decode(_pkt(abort), SimpleContext())
    assert (obs.pdu, obs.result) == ("abort", "service-provider; invalid-pdu-parameter-value")


def test_truncated_association_keeps_the_header_and_counts_a_weird() -> None:
    rq = g.associate_rq("CT_SCANNER1", "PACS_ARCHIVE", [g.CT_IMAGE, g.MR_IMAGE])
    ctx = SimpleContext()
    (obs,) = dicom.decode(_pkt(rq[:140]), ctx)
    assert obs.calling_ae == "CT_SCANNER1" and obs.called_ae == "PACS_ARCHIVE"
    assert ctx.weirds.get("dicom_truncated_pdu") == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: pacs\r\n\r\n",
        b"\x16\x03\x01\x00\x50" + b"\x01" * 80,  # TLS: left to the TLS detector
        b"\x01\x00\x00\x00\x00\x10" + b"\x00" * 16,  # RQ too short for the fixed part
        b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x01",  # release with non-zero reserved bytes
        b"\x01\x01\x00\x00\x00\x44" + b"\x00\x01" + b"\x00" * 66,  # reserved byte set
    ],
)
def test_probe_refuses_non_dicom(payload: bytes) -> None:
    assert not dicom.probe(payload)
    assert dicom.decode(_pkt(payload, port=4000), SimpleContext()) == []


def test_probe_refuses_wrong_protocol_version() -> None:
    rq = bytearray(g.associate_rq("CT_SCANNER1", "PACS_ARCHIVE", [g.CT_IMAGE]))
    assert dicom.probe(bytes(rq))
    rq[6:8] = b"\x00\x02"
    assert not dicom.probe(bytes(rq))


def test_tls_on_2762_only() -> None:
    hello = _payloads(g.dicom_tls(), True)
    (obs,) = dicom.decode(_pkt(hello, port=2762), SimpleContext())
    assert (obs.pdu, obs.tls) == ("tls", True)
    assert dicom.decode(_pkt(hello, port=443), SimpleContext()) == []
    assert not dicom.probe(hello)


def test_sop_table_from_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = dicom_sop.sop_hints()
    assert table["1.2.840.10008.5.1.4.31"] == "worklist"
    assert table["1.2.840.10008.1.20.1"] == "storage-commitment"
    assert table["1.2.840.10008.1.1"] == "echo"
    assert {"CT", "MR", "US", "CR/DX", "NM", "PT", "XA", "SC", "MG", "RF"} <= set(table.values())
    uids = ["9.9.9", "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1"]
    assert dicom_sop.modality_hints(uids) == ("CT",)
    (tmp_path / dicom_sop.SOP_FILE).write_text('schema: 1\nclasses:\n  "1.2.3": XX\n', encoding="utf-8")
    monkeypatch.setenv("MEDTAP_RULES_DIR", str(tmp_path))
    assert dict(dicom_sop.sop_hints()) == {"1.2.3": "XX"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  not-a-uid: CT\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.yaml"):
        dicom_sop.load_sop_table(bad)


def test_registered_as_a_tcp_detector() -> None:
    (det,) = [d for d in all_detectors() if d.name == "dicom"]
    assert det.layer == "tcp" and det.any_port and det.app == "dicom"
    assert {104, 11112, 2762} <= det.ports


def test_implementation_version_and_uids_are_bounded() -> None:
    huge = b"9" * 5000
    body = struct.pack(">HH", 1, 0) + b"PACS".ljust(16) + b"CT".ljust(16) + b"\x00" * 32 + g._item(0x10, huge)
    (obs,) = dicom.decode(_pkt(g._pdu(0x01, body)), SimpleContext())
    assert obs.application_context is not None and len(obs.application_context) <= dicom.MAX_UID


def test_dimse_command_fields_of_every_p_data_in_the_prefix() -> None:
    client = _payloads(g.dicom_nset(), True)
    out = dicom.decode(_pkt(client), SimpleContext())
    [pdata] = [o for o in out if o.pdu == "p-data"]
    assert pdata.dimse_commands == ("N-CREATE-RQ", "N-SET-RQ")
    blob = "".join(o.model_dump_json() for o in out)
    assert "DOE^JOHN" not in blob and "7433.2.1" not in blob  # data sets and the instance UID stay unread


def test_a_data_set_pdv_is_never_read_as_a_command() -> None:
    """A data set fragment (header bit 0 clear) whose bytes look like a command set gives no command."""
    fake = g.command_set(0x0120, g.MPPS, 1, False)
    rq = g.associate_rq("CT_SCANNER1", "PACS", [g.CT_IMAGE])
    out = dicom.decode(_pkt(rq + g.p_data(1, fake, flags=0x02)), SimpleContext())
    assert [o.dimse_commands for o in out if o.pdu == "p-data"] == [()]


def test_bad_pdv_length_is_a_weird_and_unknown_commands_are_named_by_value() -> None:
    ctx = SimpleContext()
    rq = g.associate_rq("CT_SCANNER1", "PACS", [g.CT_IMAGE])
    # a good first PDV, then one shorter than its own context id and header
    bad = g._pdu(0x04, struct.pack(">IBB", 4, 1, 0x02) + b"ab" + struct.pack(">I", 1) + bytes(4))
    out = dicom.decode(_pkt(rq + bad), ctx)
    assert ctx.weirds == {"dicom_bad_pdv": 1} and [o.pdu for o in out] == ["associate-rq", "p-data"]
    odd = g.p_data(1, g.command_set(0x0777, g.MPPS, 1, False), flags=0x03)
    assert dicom.decode(_pkt(rq + odd), SimpleContext())[1].dimse_commands == ("command-0x0777",)
