"""Hypothesis fuzzing of the medical detectors: random, truncated, mutated and oversized payloads.

probe() never raises; decode() returns valid records or raises only the exceptions the pipeline
turns into a counted `<detector>_malformed` weird.  MEDTAP_FUZZ_EXAMPLES raises the example count
(`make fuzz`).
"""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.layers.inet import TCP, UDP

from collector.protocols import astm, dicom, hl7, intellivue, poct, sdc
from collector.protocols.base import Detector, Packet, SimpleContext
from collector.schema import Observation, parse_observation
from pcaps.fixtures import gen_medical as g

ALLOWED = (struct.error, IndexError, ValueError, UnicodeDecodeError, KeyError, OverflowError)
EXAMPLES = int(os.environ.get("MEDTAP_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tcp_payloads(pkts: list) -> list[bytes]:
    client = pkts[0][TCP].sport
    c = b"".join(bytes(p[TCP].payload) for p in pkts if p[TCP].sport == client)
    s = b"".join(bytes(p[TCP].payload) for p in pkts if p[TCP].sport != client)
    return [x for x in (c, s) if x]


def _udp_payloads(pkts: list) -> list[bytes]:
    return [bytes(p[UDP].payload) for p in pkts]


SEEDS: dict[str, tuple[Detector, list[int], list[bytes]]] = {
    "dicom": (
        dicom.DETECTOR,
        [104, 2762],
        _tcp_payloads(g.dicom_associate()) + _tcp_payloads(g.dicom_anyport()) + _tcp_payloads(g.dicom_tls()),
    ),
    "hl7": (hl7.DETECTOR, [2575], _tcp_payloads(g.hl7_oru()[:8])),
    "sdc": (sdc.DETECTOR, [3702], _udp_payloads(g.sdc_hello()) + _udp_payloads(g.sdc_negative())),
    "intellivue": (intellivue.DETECTOR, [24005, 24105], _udp_payloads(g.intellivue_connect())),
    "poct": (poct.DETECTOR, [7010], [b"".join(g.poct_hello_messages())]),
    "astm": (astm.DETECTOR, [5002], _tcp_payloads(g.astm_header())),
}


def _run(det: Detector, port: int, payload: bytes) -> None:
    assert isinstance(det.probe(payload), bool)
    pkt = Packet(ts=1.0, frame_no=1, src_ip="10.0.0.1", dst_ip="10.0.0.2", src_port=port, dst_port=port,
                 transport="udp" if det.layer == "udp" else "tcp", payload=payload, server_port=port)
    try:
        out = list(det.decode(pkt, SimpleContext()))
    except ALLOWED:
        return
    for obs in out:
        assert isinstance(obs, Observation)
        parse_observation(obs.model_dump(mode="json"))  # round-trips through the documented schema


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in edits:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf)


def _oversize(data: bytes, pos: int, blob: bytes) -> bytes:
    """Insert a large run of bytes (or a huge length field) somewhere in a valid payload."""
    pos = pos % (len(data) + 1)
    return data[:pos] + blob + data[pos:]


names = st.sampled_from(sorted(SEEDS))
BIG = [b"\xff\xff\xff\xff", b"\xff\xff", b"A" * 9000, b"<" * 3000, b"|" * 5000]


@FUZZ
@given(name=names, data=st.binary(max_size=2048))
def test_random_bytes(name: str, data: bytes) -> None:
    det, ports, _ = SEEDS[name]
    for port in ports:
        _run(det, port, data)


@FUZZ
@given(name=names, which=st.integers(0, 20), cut=st.integers(0, 20000))
def test_truncated_valid_payloads(name: str, which: int, cut: int) -> None:
    det, ports, seeds = SEEDS[name]
    seed = seeds[which % len(seeds)]
    for port in ports:
        _run(det, port, seed[: cut % (len(seed) + 1)])


@FUZZ
@given(name=names, which=st.integers(0, 20),
       edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_valid_payloads(name: str, which: int, edits: list[tuple[int, int]]) -> None:
    det, ports, seeds = SEEDS[name]
    for port in ports:
        _run(det, port, _mutate(seeds[which % len(seeds)], edits))


@FUZZ
@given(name=names, which=st.integers(0, 20), pos=st.integers(0, 1 << 16),
       blob=st.one_of(st.sampled_from(BIG), st.binary(min_size=1, max_size=64)))
def test_oversized_fields(name: str, which: int, pos: int, blob: bytes) -> None:
    det, ports, seeds = SEEDS[name]
    for port in ports:
        _run(det, port, _oversize(seeds[which % len(seeds)], pos, blob))


def test_seeds_decode_to_something() -> None:
    """The fuzz seeds are real messages: each detector yields records on its own seeds."""
    for name, (det, ports, seeds) in SEEDS.items():
        found = 0
        for seed in seeds:
            for port in ports:
                pkt = Packet(ts=1.0, frame_no=1, src_port=port, dst_port=port, payload=seed, server_port=port)
                try:
                    found += len(list(det.decode(pkt, SimpleContext())))
                except ALLOWED:
                    pass
        assert found > 0, name
