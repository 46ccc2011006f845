"""Hypothesis fuzzing of the infrastructure detectors: random, truncated, mutated and oversized payloads.

probe() never raises; decode() returns schema-valid records or raises only the exceptions the
pipeline turns into a counted `<detector>_malformed` weird.  Seeds are the payloads of the
fixture captures (pcaps/fixtures/gen_infra.py).  MEDTAP_FUZZ_EXAMPLES raises the example count.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.layers.inet import TCP, UDP
from scapy.layers.l2 import Dot3, Ether

from collector.protocols import (
    arp,
    cdp,
    dhcp,
    dns,
    http,
    lldp,
    netbios,
    ntp,
    oshint,
    smb,
    snmp,
    ssdp,
    ssh,
    tls,
)
from collector.protocols.base import Detector, Packet, SimpleContext
from collector.schema import Observation, parse_observation
from pcaps.fixtures import gen_infra as g
from tests.collector.replay_helpers import MALFORMED as ALLOWED, l2_payload

EXAMPLES = int(os.environ.get("MEDTAP_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _l2(pkts: list) -> list[bytes]:
    views = [l2_payload(bytes(p)) for p in pkts if isinstance(p, (Ether, Dot3))]
    return [v for v in views if v]


def _udp(pkts: list) -> list[bytes]:
    return [bytes(p[UDP].payload) for p in pkts if UDP in p]


def _tcp(pkts: list) -> list[bytes]:
    server = pkts[0][TCP].dport
    c = b"".join(bytes(p[TCP].payload) for p in pkts if p[TCP].dport == server)
    s = b"".join(bytes(p[TCP].payload) for p in pkts if p[TCP].sport == server)
    return [x for x in (c, s) if x]


def _syn(pkts: list) -> list[bytes]:
    t = TCP(bytes(pkts[0][TCP]))
    return [bytes(t)[20 : t.dataofs * 4]]


DNS_DET = {d.name: d for d in dns.DETECTORS}
SEEDS: dict[str, tuple[Detector, list[bytes]]] = {
    "arp": (arp.DETECTOR, _l2(g.arp_gratuitous())),
    "lldp": (lldp.DETECTOR, _l2(g.lldp_med())),
    "cdp": (cdp.DETECTOR, _l2(g.cdp_switch())),
    "dhcp": (dhcp.DETECTOR, _udp(g.dhcp_dora()) + _udp(g.dhcp_anyport())),
    "dns": (DNS_DET["dns"], _udp(g.dns_query())),
    "mdns": (DNS_DET["mdns"], _udp(g.mdns_announce())),
    "llmnr": (DNS_DET["llmnr"], _udp(g.llmnr_query())),
    "netbios": (netbios.DETECTOR, _udp(g.netbios_ns())),
    "ssdp": (ssdp.DETECTOR, _udp(g.ssdp_notify())),
    "snmp": (snmp.DETECTOR, _udp(g.snmp_public())),
    "ntp": (ntp.DETECTOR, _udp(g.ntp_sync())),
    "http": (http.DETECTOR, _tcp(g.http_basic())),
    "tls": (tls.DETECTOR, _tcp(g.tls_hello())),
    "ssh": (ssh.DETECTOR, _tcp(g.ssh_banner())),
    "smb": (smb.DETECTOR, _tcp(g.smb_negotiate()) + _tcp(g.smb_v1())),
    "os-syn": (oshint.DETECTOR, _syn(g.os_syn()) + _syn(g.os_syn()[1:])),
}


def _run(det: Detector, data: bytes) -> None:
    assert isinstance(det.probe(data), bool)
    pkt = Packet(
        ts=1.0,
        frame_no=1,
        src_mac="00:00:00:00:00:01",
        src_ip="10.0.0.1",
        dst_ip="10.0.0.2",
        ip_ttl=64,
        tcp_window=1024,
        tcp_options=data,
        src_port=1000,
        dst_port=1000,
        transport="udp" if det.layer == "udp" else "tcp",
        payload=data,
        server_port=1000,
    )
    try:
        out = list(det.decode(pkt, SimpleContext()))
    except ALLOWED:
        return
    for obs in out:
        assert isinstance(obs, Observation)
        parse_observation(obs.model_dump(mode="json"))


names = st.sampled_from(sorted(SEEDS))
BIG = [b"\xff\xff\xff\xff", b"\xff\xff", b"\xc0\x0c" * 40, b"A" * 9000, b"\x00" * 3000, b"\x81" * 70]


@FUZZ
@given(name=names, data=st.binary(max_size=2048))
def test_random_bytes(name: str, data: bytes) -> None:
    _run(SEEDS[name][0], data)


@FUZZ
@given(name=names, which=st.integers(0, 20), cut=st.integers(0, 20000))
def test_truncated_valid_payloads(name: str, which: int, cut: int) -> None:
    det, seeds = SEEDS[name]
    seed = seeds[which % len(seeds)]
    _run(det, seed[: cut % (len(seed) + 1)])


@FUZZ
@given(
    name=names,
    which=st.integers(0, 20),
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_mutated_valid_payloads(name: str, which: int, edits: list[tuple[int, int]]) -> None:
    det, seeds = SEEDS[name]
    buf = bytearray(seeds[which % len(seeds)])
    for pos, value in edits:
        buf[pos % len(buf)] = value
    _run(det, bytes(buf))


@FUZZ
@given(
    name=names,
    which=st.integers(0, 20),
    pos=st.integers(0, 1 << 16),
    blob=st.one_of(st.sampled_from(BIG), st.binary(min_size=1, max_size=64)),
)
def test_oversized_fields(name: str, which: int, pos: int, blob: bytes) -> None:
    det, seeds = SEEDS[name]
    seed = seeds[which % len(seeds)]
    pos %= len(seed) + 1
    _run(det, seed[:pos] + blob + seed[pos:])


def test_seeds_decode_to_something() -> None:
    """The fuzz seeds are real messages: every detector yields records on every one of its seeds."""
    for name, (det, seeds) in SEEDS.items():
        assert seeds, name
        for seed in seeds:
            pkt = Packet(ts=1.0, frame_no=1, ip_ttl=64, tcp_options=seed, payload=seed, transport="tcp")
            assert list(det.decode(pkt, SimpleContext())), name
