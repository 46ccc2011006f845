"""ASTM E1381 / LIS2-A2 detector: the H record identifies the analyzer; P/O/R records never read."""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP

from collector.protocols import astm
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_medical as g


def _pkt(payload: bytes) -> Packet:
    return Packet(
        ts=1.0, frame_no=1, src_ip="10.10.130.51", dst_ip="10.50.0.60", src_port=43000, dst_port=5002,
        transport="tcp", payload=payload,
    )


def test_header_from_the_fixture_stream() -> None:
    client = b"".join(bytes(p[TCP].payload) for p in g.astm_header() if p[TCP].dport == 5002)
    assert client.startswith(b"\x05\x02")
    assert astm.probe(client)
    ctx = SimpleContext()
    (obs,) = astm.decode(_pkt(client), ctx)
    assert obs.sender == "DemoLab^ChemDemo 3000^4.2.1"
    assert (obs.manufacturer, obs.instrument, obs.software_version) == ("DemoLab", "ChemDemo 3000", "4.2.1")
    assert (obs.processing_id, obs.version) == ("P", "LIS2-A2")
    assert ctx.weirds == {}
    blob = obs.model_dump_json()
    assert "DOE" not in blob and "PAT12345" not in blob and "mmol" not in blob


def test_header_split_over_two_frames() -> None:
    rec = g.ASTM_HEADER
    frame1 = b"\x02" + b"1" + rec[:20] + b"\x17"
    frame1 += f"{sum(frame1[1:]) % 256:02X}".encode() + b"\r\n"
    frame2 = g.astm_frame(2, rec[20:])
    (obs,) = astm.decode(_pkt(frame1 + frame2), SimpleContext())
    assert obs.sender == "DemoLab^ChemDemo 3000^4.2.1" and obs.version == "LIS2-A2"


def test_bad_checksum_is_a_weird() -> None:
    frame = bytearray(g.astm_frame(1, g.ASTM_HEADER))
    frame[-4:-2] = b"ZZ"
    ctx = SimpleContext()
    (obs,) = astm.decode(_pkt(bytes(frame)), ctx)
    assert obs.processing_id == "P" and ctx.weirds == {"astm_bad_checksum": 1}


def test_password_field_is_never_kept() -> None:
    frame = g.astm_frame(1, b"H|\\^&||S3CRET-PW|ANALYZER^ACME^1.2|||||||P|1")
    (obs,) = astm.decode(_pkt(frame), SimpleContext())
    assert obs.manufacturer == "ANALYZER" and "S3CRET" not in obs.model_dump_json()


def test_no_components_and_truncation() -> None:
    ctx = SimpleContext()
    (obs,) = astm.decode(_pkt(b"\x021H|\\^&|||SOLO"), ctx)
    assert (obs.sender, obs.manufacturer, obs.instrument, obs.version) == ("SOLO", "SOLO", None, None)
    assert ctx.weirds == {"astm_truncated_header": 1}


@pytest.mark.parametrize(
    "payload",
    [b"\x021X|\\^&|||x\r\x0300\r\n", b"\x029H|\\^&|", b"\x05", b"H|\\^&|||x\r", b"\x021HA\\^&", b""],
)
def test_not_astm(payload: bytes) -> None:
    assert not astm.probe(payload)
    assert astm.decode(_pkt(payload), SimpleContext()) == []
