"""Parallel TCP connections of one conversation: each connection's first bytes reach the detectors.

A conversation (client, server, server port, VLAN) follows each of its TCP connections on its
own, keyed by client port (collector/deep.py), at most `MAX_PARALLEL_STREAMS` at once and
`MAX_STREAMS_PER_CONVERSATION` in all.  Captures are built here with scapy: one client opens
several connections to the same server port, SYNs first, then the hellos interleaved, as
browsers, DICOM modalities and HL7 engines do.  Each scenario runs through `Pipeline.run` (the
fast lane) and through `Pipeline.feed` alone: both must give the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw

from collector import deep
from collector.flows import MAX_PARALLEL_STREAMS, MAX_STREAMS_PER_CONVERSATION
from collector.pipeline import Pipeline
from collector.protocols import hl7, tls
from collector.protocols.base import Detector, Packet as DetectorPacket
from collector.schema import CaptureStats, Conversation, Hl7Obs, Observation, TlsObs, Weird, parse_observation
from collector.sinks import ListSink
from collector.sources import RawFrame
from pcaps.fixtures._streams import tcp_stream
from pcaps.fixtures.gen_infra import client_hello, server_hello
from pcaps.fixtures.gen_medical import hl7_ack, hl7_message, mllp
from tests.keys import TEST_KEY

CLIENT = ("02:00:5e:00:02:15", "192.0.2.21")  # RFC 5737 documentation addresses
SERVER = ("02:00:5e:00:64:14", "198.51.100.20")
T0 = 1767258000.0
LANES = ["run", "feed"]


def connection(sport: int, dport: int, chunks: list[tuple[bool, bytes]],
               vlan: int | None = 110) -> list[Packet]:
    """SYN, SYN/ACK, ACK, the chunks, both FINs and the last ACK of one connection (untimed)."""

    def l3(a: tuple[str, str], b: tuple[str, str]) -> Packet:
        e = Ether(src=a[0], dst=b[0])
        return (e / Dot1Q(vlan=vlan) if vlan is not None else e) / IP(src=a[1], dst=b[1])

    return tcp_stream(l3(CLIENT, SERVER), l3(SERVER, CLIENT), sport, dport, chunks, seq_c=1000 + sport,
                      seq_s=9000 + sport, close="full")


def interleave(conns: list[list[Packet]], handshake: bool = True) -> list[Packet]:
    """Every connection's handshake first (SYNs, SYN/ACKs, ACKs), then their later packets round robin,
    the last connection's first; without `handshake` the three handshake packets are left out."""
    out: list[Packet] = []
    if handshake:
        for i in range(3):
            out += [c[i] for c in conns]
    rest = [c[3:] for c in reversed(conns)]
    for i in range(max(len(r) for r in rest)):
        out += [r[i] for r in rest if i < len(r)]
    return out


def replay(pkts: list[Packet], detectors: list[Detector], lane: str) -> tuple[list[Observation], CaptureStats]:
    """Records and stats of the packets (1 ms apart) through the fast lane (`run`) or `feed` alone."""
    data = [bytes(p) for p in pkts]
    frames = [RawFrame(T0 + i * 0.001, 1, b, len(b), i + 1, "t.pcap", 0) for i, b in enumerate(data)]
    sink = ListSink()
    pipe = Pipeline(sensor="s1", key=TEST_KEY, sink=sink, detectors=detectors)
    if lane == "run":
        pipe.run(frames)
    else:
        for frame in frames:
            pipe.feed(frame)
    stats = pipe.close()
    for o in sink.observations:
        assert parse_observation(o.model_dump(mode="json")) == o
    return sink.observations, stats


def snis(observations: list[Observation]) -> list[str]:
    return sorted(o.sni or "" for o in observations if isinstance(o, TlsObs) and o.hello == "client")


def tls_connection(sport: int, name: str, reply: bool = True) -> list[Packet]:
    chunks = [(True, client_hello(sni=name))] + ([(False, server_hello())] if reply else [])
    return connection(sport, 443, chunks)


class Calls:
    """A test tcp detector: records each prefix it is given, emits one Weird per call."""

    def __init__(self) -> None:
        self.seen: list[DetectorPacket] = []

    def detector(self, probe: Callable[[bytes], bool], layer: str = "tcp") -> Detector:
        def decode(pkt: DetectorPacket, ctx: Any) -> list[Observation]:
            self.seen.append(pkt)
            return [Weird(**pkt.envelope(), name="saw", detail=str(len(pkt.payload)))]

        return Detector(name="probe", layer=layer, probe=probe, decode=decode)  # type: ignore[arg-type]


@pytest.mark.parametrize("lane", LANES)
def test_three_parallel_tls_connections_all_have_their_client_hello_parsed(lane: str) -> None:
    names = ["pacs.demo-hospital.example", "update.vendor.example", "rs-eu.vendor.example"]
    pkts = interleave([tls_connection(50001 + i, n) for i, n in enumerate(names)])
    obs, stats = replay(pkts, [tls.DETECTOR], lane)
    assert snis(obs) == sorted(names)
    # three identical ServerHellos from three connections: one fact standing for three (collector.facts)
    assert sum(o.count for o in obs if isinstance(o, TlsObs) and o.hello == "server") == 3
    (conv,) = [o for o in obs if isinstance(o, Conversation)]
    assert conv.app == "tls" and conv.packets_c2s == 3 * 5 and conv.packets_s2c == 3 * 3
    assert stats.tcp_streams_refused == 0


@pytest.mark.parametrize("lane", LANES)
def test_three_parallel_mllp_links_all_have_their_sending_application(lane: str) -> None:
    apps = [b"MONGW", b"LABGW", b"PUMPGW"]
    conns = [connection(51001 + i, 2575, [(True, mllp(hl7_message(b"ORU^R01", b"M%d" % i, sender=app))),
                                          (False, mllp(hl7_ack(b"M%d" % i)))])
             for i, app in enumerate(apps)]
    obs, _ = replay(interleave(conns), [hl7.DETECTOR], lane)
    senders = sorted(o.sending_application or "" for o in obs if isinstance(o, Hl7Obs) for _ in range(o.count))
    assert senders == sorted([a.decode() for a in apps] + ["HL7ENG"] * 3)  # three messages, three ACKs


@pytest.mark.parametrize("lane", LANES)
def test_connections_whose_syn_was_not_captured_are_followed_from_the_client_payload(lane: str) -> None:
    names = ["a.example", "b.example", "c.example"]
    pkts = interleave([tls_connection(52001 + i, n) for i, n in enumerate(names)], handshake=False)
    assert not any(p[TCP].flags & 0x02 for p in pkts)
    obs, _ = replay(pkts, [tls.DETECTOR], lane)
    assert snis(obs) == sorted(names)


@pytest.mark.parametrize("lane", LANES)
def test_a_connection_beyond_the_parallel_bound_is_counted_not_followed(lane: str) -> None:
    assert MAX_PARALLEL_STREAMS == MAX_STREAMS_PER_CONVERSATION == 8
    names = [f"host{i}.example" for i in range(MAX_PARALLEL_STREAMS + 1)]
    conns = [tls_connection(53001 + i, n) for i, n in enumerate(names)]
    # SYNs in order, so the 9th connection is the one beyond the bound; hellos interleaved after
    obs, stats = replay(interleave(conns), [tls.DETECTOR], lane)
    assert snis(obs) == sorted(names[:MAX_PARALLEL_STREAMS])
    assert stats.tcp_streams_refused == 1
    (conv,) = [o for o in obs if isinstance(o, Conversation)]
    assert conv.packets_c2s == 9 * 5  # counted all the same


@pytest.mark.parametrize("lane", LANES)
def test_a_finished_connection_frees_its_slot(lane: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deep, "MAX_PARALLEL_STREAMS", 2)
    one, two, three = (tls_connection(54001 + i, f"n{i}.example") for i in range(3))
    # one and two open; one says hello and closes; then three opens: its slot is the one `one` left
    pkts = one[:3] + two[:3] + one[3:] + three[:3] + three[3:] + two[3:]
    obs, stats = replay(pkts, [tls.DETECTOR], lane)
    assert snis(obs) == ["n0.example", "n1.example", "n2.example"]
    assert stats.tcp_streams_refused == 0


@pytest.mark.parametrize("lane", LANES)
def test_fresh_connections_keep_their_slots_and_a_refusal_is_counted(
        lane: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deep, "MAX_PARALLEL_STREAMS", 2)
    conns = [tls_connection(55001 + i, f"n{i}.example") for i in range(3)]
    obs, stats = replay(interleave(conns), [tls.DETECTOR], lane)
    assert snis(obs) == ["n0.example", "n1.example"]
    assert stats.tcp_streams_refused == 1


@pytest.mark.parametrize("lane", LANES)
def test_a_stale_connection_gives_its_slot_to_a_new_one(lane: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the bound, a connection whose client prefix is decided (here: full, 4 segments) while its
    server still has not spoken yields its slot; its server's first bytes are then not parsed."""
    monkeypatch.setattr(deep, "MAX_PARALLEL_STREAMS", 2)
    calls = Calls()
    det = calls.detector(lambda b: b.startswith((b"HELLO", b"REPLY")))
    talkative = [(True, b"HELLO %d " % i) for i in range(4)]
    one = connection(56001, 7000, talkative + [(False, b"REPLY one")])
    two = connection(56002, 7000, [(True, b"HELLO two")])
    three = connection(56003, 7000, [(True, b"HELLO three")])
    pkts = one[:3] + two[:3] + one[3:7] + three + one[7:] + two[3:]
    _, stats = replay(pkts, [det], lane)
    got = [(p.src_port if p.from_client else p.dst_port, p.payload[:11]) for p in calls.seen]
    assert sorted(got) == [(56001, b"HELLO 0 HEL"), (56002, b"HELLO two"), (56003, b"HELLO three")]
    assert stats.tcp_streams_refused == 0


@pytest.mark.parametrize("lane", LANES)
def test_a_finished_connection_is_not_parsed_again_but_a_new_one_without_syn_is(lane: str) -> None:
    calls = Calls()
    det = calls.detector(lambda b: b.startswith(b"HELLO"))
    first = connection(57001, 7000, [(True, b"HELLO a%d " % i) for i in range(4)]
                       + [(False, b"ok %d" % i) for i in range(4)]
                       + [(True, b"HELLO again %d" % i) for i in range(3)])  # after its prefixes are decided
    later = connection(57002, 7000, [(True, b"HELLO b")])[3:]  # its SYN was not captured
    _, _ = replay(first[:-3] + later + first[-3:], [det], lane)
    assert [p.payload[:8] for p in calls.seen] == [b"HELLO a0", b"HELLO b"]


@pytest.mark.parametrize("lane", LANES)
def test_syn_detectors_see_the_first_connection_only(lane: str) -> None:
    calls = Calls()
    syn = calls.detector(lambda b: False, layer="tcp_syn")
    one, two = connection(58001, 443, [(True, b"x")]), connection(58002, 443, [(True, b"y")])
    pkts = [one[0], two[0], two[1], one[1]] + one[2:] + two[2:]  # the second SYN and its SYN/ACK in between
    replay(pkts, [syn, tls.DETECTOR], lane)
    assert [(p.src_port, p.tcp_flags & 0x12) for p in calls.seen] == [(58001, 0x02), (443, 0x12)]
    assert calls.seen[1].dst_port == 58001


@pytest.mark.parametrize("lane", LANES)
def test_the_budget_bounds_connections_in_all_and_is_not_a_refusal(lane: str) -> None:
    n = MAX_STREAMS_PER_CONVERSATION + 2
    pkts = [p for i in range(n) for p in tls_connection(59001 + i, f"seq{i:02d}.example")]  # one by one
    obs, stats = replay(pkts, [tls.DETECTOR], lane)
    assert snis(obs) == [f"seq{i:02d}.example" for i in range(MAX_STREAMS_PER_CONVERSATION)]
    assert stats.tcp_streams_refused == 0


def test_memory_is_bounded_by_the_parallel_bound() -> None:
    """A flood of connections from one client to one service: at most the bound are followed."""
    pipe = Pipeline(key=TEST_KEY, sink=ListSink(), detectors=[tls.DETECTOR])
    base = Ether(src=CLIENT[0], dst=SERVER[0]) / IP(src=CLIENT[1], dst=SERVER[1])
    for i in range(200):
        data = bytes(base / TCP(sport=20000 + i, dport=443, flags="S", seq=i))
        pipe.feed(RawFrame(T0 + i * 0.001, 1, data, len(data), i + 1, "t", 0))
        data = bytes(base / TCP(sport=20000 + i, dport=443, flags="PA", seq=i + 1) / Raw(b"\x16\x03\x01"))
        pipe.feed(RawFrame(T0 + i * 0.001, 1, data, len(data), i + 1, "t", 0))
    (conv,) = pipe.tables.convs.values()
    assert len(conv[12]) == MAX_PARALLEL_STREAMS and conv[16] == 0 and conv[17] == ()
    assert pipe.stats().tcp_streams_refused == 200 - MAX_PARALLEL_STREAMS
