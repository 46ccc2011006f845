"""The pipeline with test-only detectors: who gets called on what, once, and what reaches the sink."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import GRE, IP, TCP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from collector.pipeline import BATCH_MAX, Pipeline, replay
from collector.protocols.base import STREAM_PREFIX, Detector, Packet
from collector.schema import Observation, Weird, parse_observation
from collector.sinks import JsonlSink, ListSink, read_jsonl
from collector.sources import RawFrame
from tests import needs
from tests.keys import TEST_KEY

CT, PACS = ("02:00:00:00:01:15", "10.10.110.21"), ("02:00:00:00:50:14", "10.50.0.20")
T0 = 1767258000.0


class Calls:
    """Test detectors record what they were given and emit one Weird each (a schema record)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Packet]] = []

    def detector(self, name: str, layer: str, *, fail: bool = False, **kw: Any) -> Detector:
        def decode(pkt: Packet, ctx: Any) -> list[Observation]:
            self.seen.append((name, pkt))
            if fail:
                raise struct.error("boom")
            return [Weird(**pkt.envelope(), name=f"saw_{name}", detail=str(len(pkt.payload)))]

        return Detector(name=name, layer=layer, decode=decode, **kw)  # type: ignore[arg-type]

    def payloads(self, name: str) -> list[bytes]:
        return [p.payload for n, p in self.seen if n == name]


def tcp_session(client: tuple[str, str], server: tuple[str, str], sport: int, dport: int,
                chunks: list[tuple[bool, bytes]], vlan: int | None = 110) -> list[Any]:
    def l2(a: tuple[str, str], b: tuple[str, str]) -> Any:
        e = Ether(src=a[0], dst=b[0])
        return (e / Dot1Q(vlan=vlan) if vlan is not None else e) / IP(src=a[1], dst=b[1], ttl=64)

    c2s, s2c = l2(client, server), l2(server, client)
    sc, ss = 1000, 5000
    pkts = [c2s / TCP(sport=sport, dport=dport, flags="S", seq=sc), s2c / TCP(sport=dport, dport=sport, flags="SA", seq=ss, ack=sc + 1)]
    sc, ss = sc + 1, ss + 1
    for fwd, data in chunks:
        if fwd:
            pkts.append(c2s / TCP(sport=sport, dport=dport, flags="PA", seq=sc, ack=ss) / Raw(data))
            sc += len(data)
        else:
            pkts.append(s2c / TCP(sport=dport, dport=sport, flags="PA", seq=ss, ack=sc) / Raw(data))
            ss += len(data)
    pkts.append(c2s / TCP(sport=sport, dport=dport, flags="FA", seq=sc, ack=ss))
    pkts.append(s2c / TCP(sport=dport, dport=sport, flags="FA", seq=ss, ack=sc + 1))
    return pkts


def raw(pkts: list[Any], t0: float = T0, step: float = 0.01) -> list[RawFrame]:
    return [RawFrame(t0 + i * step, 1, bytes(p), len(bytes(p)), i + 1, "t.pcap", 0) for i, p in enumerate(pkts)]


def run(frames: list[RawFrame], detectors: list[Detector], **kw: Any) -> tuple[ListSink, Any]:
    sink = ListSink()
    pipe = Pipeline(sensor="s1", key=TEST_KEY, sink=sink, detectors=detectors, **kw)
    pipe.run(frames)
    stats = pipe.close()
    for o in sink.observations:
        assert parse_observation(o.model_dump(mode="json")) == o
    return sink, stats


def test_tcp_prefix_per_direction_then_counting_only() -> None:
    calls = Calls()
    det = calls.detector("hello", "tcp", probe=lambda b: b.startswith(b"HELLO"), app="hello-app")
    bulk = [(True, b"B" * 1400) for _ in range(50)]
    chunks = [(True, b"HELLO "), (False, b"WELCOME"), (True, b"part2 "), (True, b"part3 ")] + bulk + [(False, b"BYE")]
    sink, stats = run(raw(tcp_session(CT, PACS, 49152, 104, chunks)), [det])
    got = calls.payloads("hello")
    # client direction: the first 4 payload segments, decoded once; the server prefix does not probe true
    assert got == [b"HELLO part2 part3 " + b"B" * 1400]
    (pkt,) = [p for _, p in calls.seen]
    assert pkt.from_client and (pkt.client_ip, pkt.server_ip, pkt.server_port) == (CT[1], PACS[1], 104)
    assert (pkt.frame_no, pkt.vlan, pkt.src_mac) == (3, 110, CT[0])
    (conv,) = [o for o in sink.observations if o.kind == "conversation" and o.vlan == 110 and o.server_port == 104]
    assert conv.app == "hello-app" and conv.syn_seen
    assert conv.packets_c2s == 1 + 3 + 50 + 1 and conv.packets_s2c == 1 + 2 + 1
    assert stats.packets == len(chunks) + 4


def test_prefix_is_capped_at_stream_prefix() -> None:
    calls = Calls()
    det = calls.detector("big", "tcp", probe=lambda b: b[:1] == b"X")
    chunks = [(True, b"X" * 6000), (True, b"Y" * 6000)]
    run(raw(tcp_session(CT, PACS, 49153, 7777, chunks)), [det])
    assert [len(p) for p in calls.payloads("big")] == [STREAM_PREFIX]


def test_port_only_signature_and_syn_detector() -> None:
    calls = Calls()
    port_only = calls.detector("portsig", "tcp", ports=frozenset({5938}))
    syn = calls.detector("syn", "tcp_syn")
    chunks = [(True, b"\x17\x24 opaque"), (False, b"\x17\x24 reply")]
    run(raw(tcp_session(CT, PACS, 50000, 5938, chunks)), [port_only, syn])
    assert calls.payloads("portsig") == [b"\x17\x24 opaque", b"\x17\x24 reply"]  # once per direction
    syns = [p for n, p in calls.seen if n == "syn"]
    assert [p.tcp_flags & 0x12 for p in syns] == [0x02, 0x12]  # the SYN then the SYN/ACK
    assert syns[0].client_ip == CT[1] and syns[0].server_port == 5938


def test_new_connection_of_a_known_conversation_is_parsed_again() -> None:
    calls = Calls()
    det = calls.detector("sni", "tcp", probe=lambda b: b.startswith(b"SNI"))
    pkts = tcp_session(CT, PACS, 51000, 443, [(True, b"SNI one")]) + tcp_session(CT, PACS, 51001, 443, [(True, b"SNI two")])
    sink, _ = run(raw(pkts), [det])
    assert calls.payloads("sni") == [b"SNI one", b"SNI two"]
    convs = [o for o in sink.observations if o.kind == "conversation" and o.server_port == 443]
    assert len(convs) == 1  # one conversation: same client, server, port, VLAN


def test_udp_port_and_any_port_detectors() -> None:
    calls = Calls()
    by_port = calls.detector("dnsish", "udp", ports=frozenset({53}))
    any_port = calls.detector("magic", "udp", any_port=True, probe=lambda b: b.startswith(b"MAGIC"))
    pkts = [
        Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=53) / Raw(b"query"),
        Ether(src=PACS[0], dst=CT[0]) / IP(src=PACS[1], dst=CT[1]) / UDP(sport=53, dport=40000) / Raw(b"answer"),
        Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=41000, dport=9999) / Raw(b"MAGIC!"),
        Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=41000, dport=9999) / Raw(b"other"),
    ]
    run(raw(pkts), [by_port, any_port])
    assert calls.payloads("dnsish") == [b"query", b"answer"]
    assert calls.payloads("magic") == [b"MAGIC!"]


def test_ether_detectors_by_ethertype_and_dst_mac() -> None:
    calls = Calls()
    arp = calls.detector("arpish", "ether", ethertypes=frozenset({0x0806}))
    mac = calls.detector("macish", "ether", dst_macs=frozenset({"01:80:c2:00:00:0e"}))
    pkts = [
        Ether(src=CT[0], dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=110) / ARP(hwsrc=CT[0], psrc=CT[1], pdst=PACS[1]),
        Ether(src=CT[0], dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07\x04" + b"\x00" * 20),
    ]
    sink, _ = run(raw(pkts), [arp, mac])
    (arp_pkt,) = [p for n, p in calls.seen if n == "arpish"]
    assert arp_pkt.vlan == 110 and arp_pkt.ethertype == 0x0806 and arp_pkt.payload[:2] == b"\x00\x01"
    assert calls.payloads("macish")[0][:3] == b"\x02\x07\x04"
    hosts = {(o.mac, o.ip, o.vlan) for o in sink.observations if o.kind == "host"}
    assert hosts == {(CT[0], None, 110), (CT[0], None, None)}


def test_malformed_detector_input_is_a_named_weird_and_the_frame_counts() -> None:
    calls = Calls()
    bad = calls.detector("fragile", "udp", ports=frozenset({9}), fail=True)
    pkt = Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=9, dport=9) / Raw(b"x")
    sink, stats = run(raw([pkt, pkt]), [bad])
    assert stats.weirds == {"fragile_malformed": 2} and stats.packets == 2 and stats.malformed == 2
    assert [o.name for o in sink.observations if o.kind == "weird"] == ["fragile_malformed"]  # first occurrence
    (host,) = [o for o in sink.observations if o.kind == "host"]
    assert host.frames == 2


def test_inner_frames_from_a_tunnel_are_wifi_hosts() -> None:
    inner = Ether(src="02:77:00:00:00:01", dst=PACS[0]) / IP(src="10.30.0.50", dst=PACS[1]) / UDP(sport=5000, dport=6000)

    def decap(pkt: Packet, ctx: Any) -> list[Observation]:
        ctx.inner_frame(pkt.payload[4:], 1, "capwap", pkt.ts, pkt.frame_no)
        return []

    gre = Detector(name="gre-test", layer="ip", ip_protos=frozenset({47}), decode=decap)
    outer = Ether(src="02:aa:00:00:00:01", dst=PACS[0]) / IP(src="10.60.0.2", dst=PACS[1]) / GRE(proto=0x6558) / inner
    sink, stats = run(raw([outer]), [gre])
    hosts = {o.mac: o for o in sink.observations if o.kind == "host"}
    assert hosts["02:77:00:00:00:01"].wifi and hosts["02:77:00:00:00:01"].tunnel == "capwap"
    assert not hosts["02:aa:00:00:00:01"].wifi
    convs = {(o.client_ip, o.server_port, o.tunnel) for o in sink.observations if o.kind == "conversation"}
    assert ("10.30.0.50", 6000, "capwap") in convs and stats.packets == 1


def test_flush_by_packet_time_emits_period_deltas() -> None:
    pkt = Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=7000)
    frames = raw([pkt] * 6, step=5.0)  # 0, 5, 10, 15, 20, 25 s
    sink, _ = run(frames, [], flush_interval=10.0)
    periods = [o.frames for o in sink.observations if o.kind == "host"]
    assert periods == [2, 2, 2] and sink.batches >= 3
    assert [o.packets_c2s for o in sink.observations if o.kind == "conversation"] == [2, 2, 2]


def test_every_period_counts_frames_that_took_the_fast_lane() -> None:
    a = Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=7000) / Raw(b"a" * 30)
    b = Ether(src=PACS[0], dst=CT[0]) / IP(src=PACS[1], dst=CT[1]) / UDP(sport=7000, dport=40000) / Raw(b"b" * 30)
    frames = raw([a, b, a, b], step=1.0) + raw([a, b, b], t0=T0 + 20.0, step=1.0)
    sink = ListSink()
    pipe = Pipeline(key=TEST_KEY, sink=sink, detectors=[], flush_interval=10.0)
    slow: list[Any] = []
    feed = pipe.feed
    pipe.feed = lambda frame: (slow.append(frame[4]), feed(frame))  # type: ignore[method-assign]
    pipe.run(frames)
    pipe.close()
    assert len(slow) < len(frames)  # some frames took the lane
    hosts = [(o.ip, o.frames) for o in sink.observations if o.kind == "host"]
    assert sorted(hosts) == sorted([(CT[1], 2), (PACS[1], 2), (CT[1], 1), (PACS[1], 2)])
    convs = [(o.packets_c2s, o.packets_s2c) for o in sink.observations if o.kind == "conversation"]
    assert convs == [(2, 2), (1, 2)]


def test_short_frames_after_established_traffic_are_weirds_not_crashes() -> None:
    a = bytes(Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=7000) / Raw(b"a" * 30))
    frames = raw([a, a]) + [RawFrame(T0 + 1, 1, a[:10], 10, 3, "t", 0), RawFrame(T0 + 2, 1, a[:12] + b"\x81\x00\x00", 15, 4, "t", 0),
                            RawFrame(T0 + 3, 1, a[:30], 60, 5, "t", 0)]
    _, stats = run(frames, [])
    assert stats.packets == 5
    assert stats.weirds == {"truncated_ethernet": 1, "truncated_vlan": 1, "truncated_ipv4": 1}


def test_records_are_emitted_early_when_the_batch_is_full() -> None:
    def decode(pkt: Packet, ctx: Any) -> list[Observation]:  # one distinct fact per frame
        return [Weird(**pkt.envelope(), name="each", detail=pkt.payload.hex())]

    det = Detector(name="each", layer="udp", decode=decode, ports=frozenset({7}))  # type: ignore[arg-type]
    pkt = bytes(Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=7, dport=7) / Raw(bytes(4)))
    frames = [pkt[:-4] + struct.pack("!I", i) for i in range(BATCH_MAX + 10)]  # distinct: no identity repeat
    sink = ListSink()
    pipe = Pipeline(key=TEST_KEY, sink=sink, detectors=[det], flush_interval=1e9)
    pipe.run([RawFrame(T0, 1, f, len(f), i + 1, "t", 0) for i, f in enumerate(frames)])
    assert sink.batches == 1 and len(sink.observations) == BATCH_MAX  # before any flush
    pipe.close()


def test_table_caps_are_reported_in_stats() -> None:
    pkts = [Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=p) for p in (7001, 7002, 7003)]
    sink, stats = run(raw(pkts), [], max_conversations=1)
    assert stats.table_overflow == {"conversations": 2}
    assert len([o for o in sink.observations if o.kind == "conversation"]) == 1


def test_replay_jsonl_progress_and_stats(tmp_path: Path) -> None:
    pcap = tmp_path / "s.pcap"
    pkts = tcp_session(CT, PACS, 49152, 104, [(True, b"A"), (False, b"B")])
    for i, p in enumerate(pkts):
        p.time = T0 + i
    wrpcap(str(pcap), pkts)
    seen: list[tuple[int, int, int]] = []
    out = tmp_path / "obs.jsonl"
    sink = JsonlSink(out, sensor="s9")
    stats = replay([pcap], sink, sensor="s9", key=TEST_KEY, progress=lambda *a: seen.append(a))
    sink.close()
    assert seen and seen[-1] == (len(pkts), pcap.stat().st_size, pcap.stat().st_size)
    header = out.read_text().splitlines()[0]
    assert '"schema_version": 1' in header and '"type": "header"' in header
    records = list(read_jsonl(out))
    assert records[-1].kind == "stats" and records[-1].packets == len(pkts) == stats.packets
    assert stats.files == [str(pcap)] and stats.linktypes == {"ethernet": len(pkts)}
    assert {o.sensor for o in records} == {"s9"}
    assert stats.first_ts == pytest.approx(T0) and stats.last_ts == pytest.approx(T0 + len(pkts) - 1)


def test_default_detectors_find_dicom_on_the_fixture(repo: Path) -> None:
    fixture = repo / "pcaps" / "fixtures" / "dicom-associate.pcap"
    if not fixture.is_file():
        needs.missing(str(fixture), "make samples")
    sink = ListSink()
    replay([fixture], sink, key=TEST_KEY)
    convs = [o for o in sink.observations if o.kind == "conversation" and o.server_port == 104]
    assert convs and all(c.app == "dicom" for c in convs)
    assert {o.pdu for o in sink.observations if o.kind == "dicom"} >= {"associate-rq", "associate-ac"}


def test_evidence_pointer_follows_the_file_of_each_period(tmp_path: Path) -> None:
    pkt = Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=40000, dport=7000) / Raw(b"x" * 30)
    for name, t0 in (("b-second.pcap", T0 + 100), ("a-first.pcap", T0)):
        pkts = [pkt.copy() for _ in range(3)]
        for i, p in enumerate(pkts):
            p.time = t0 + i
        wrpcap(str(tmp_path / name), pkts)
    sink = ListSink()
    replay([tmp_path], sink, key=TEST_KEY, detectors=[])
    hosts = [(o.source, o.frame_no, o.frames) for o in sink.observations if o.kind == "host"]
    convs = [(o.source, o.frame_no, o.packets_c2s) for o in sink.observations if o.kind == "conversation"]
    assert hosts == [("a-first.pcap", 1, 3), ("b-second.pcap", 1, 3)]
    assert convs == [("a-first.pcap", 1, 3), ("b-second.pcap", 1, 3)]


def test_identical_identity_frames_are_decoded_once_per_flush_period() -> None:
    calls = Calls()
    arp = calls.detector("arpish", "ether", ethertypes=frozenset({0x0806}))
    dns = calls.detector("dns", "udp", ports=frozenset({53}))
    who_has = Ether(src=CT[0], dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=CT[0], psrc=CT[1], pdst=PACS[1])
    other = Ether(src=CT[0], dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=CT[0], psrc=CT[1], pdst="10.50.0.99")

    def query(tid: int, sport: int) -> Any:
        dns_msg = struct.pack("!HHHHHH", tid, 0x0100, 1, 0, 0, 0) + b"\x04pacs\x00\x00\x01\x00\x01"
        return Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=sport, dport=53) / Raw(dns_msg)

    # period 1 (0-3 s): who-has x3, a changed who-has, the same query x2 with new ids and ports;
    # period 2 (20 s): the same who-has again
    frames = raw([who_has, who_has, other, who_has, query(1, 40000), query(2, 40001)], step=0.5)
    frames += raw([who_has], t0=T0 + 20.0)
    sink, stats = run(frames, [arp, dns], flush_interval=10.0)
    assert len(calls.payloads("arpish")) == 3  # who-has, the changed one, who-has in the next period
    assert calls.payloads("arpish")[1] != calls.payloads("arpish")[0]
    assert len(calls.payloads("dns")) == 1  # only the transaction id differs
    assert stats.deep_repeats == 3
    hosts = [o for o in sink.observations if o.kind == "host" and o.ip is None]
    assert sum(h.frames for h in hosts) == 5  # skipped frames still count in the fast path
    assert parse_observation(stats.model_dump(mode="json")).deep_repeats == 3


def test_a_decode_with_side_effects_is_never_skipped() -> None:
    calls = Calls()
    bad = calls.detector("fragile", "udp", ports=frozenset({9}), fail=True)
    pkt = Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=9, dport=9) / Raw(b"x")
    _, stats = run(raw([pkt, pkt, pkt]), [bad])
    assert stats.weirds == {"fragile_malformed": 3} and stats.deep_repeats == 0


def test_records_stating_the_same_fact_are_merged_within_a_flush() -> None:
    calls = Calls()
    det = calls.detector("same", "udp", ports=frozenset({7}))
    pkt = bytes(Ether(src=CT[0], dst=PACS[0]) / IP(src=CT[1], dst=PACS[1]) / UDP(sport=7, dport=7) / Raw(bytes(4)))
    frames = [pkt[:-4] + struct.pack("!I", i) for i in range(50)]  # distinct payloads, one fact (same detail)
    sink = ListSink()
    pipe = Pipeline(sink=sink, detectors=[det], flush_interval=10.0, key=TEST_KEY)
    pipe.run([RawFrame(T0 + i * 0.1, 1, f, len(f), i + 1, "t", 0) for i, f in enumerate(frames)])
    pipe.close()
    saw = [o for o in sink.observations if o.kind == "weird" and o.name == "saw_same"]
    assert len(saw) == 1 and saw[0].count == 50
    assert saw[0].frame_no == 1 and saw[0].ts == T0 and saw[0].last_ts == pytest.approx(T0 + 4.9)


def test_no_default_pseudonymisation_key(tmp_path: Path) -> None:
    """Issue 18 item 12: a key in the source would make every pseudonym reversible; callers must give one."""
    import collector.pipeline as pipeline
    from collector.live import capture

    assert not hasattr(pipeline, "DEFAULT_KEY")
    with pytest.raises(TypeError, match="key"):
        Pipeline(sink=ListSink())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="key"):
        replay([tmp_path], ListSink())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="key"):
        capture("lo", ListSink())  # type: ignore[call-arg]
    for empty in (b"", None):
        with pytest.raises(ValueError, match="pseudonymisation key"):
            Pipeline(sink=ListSink(), key=empty)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="pseudonymisation key"):
            capture("no-such-interface", ListSink(), key=empty)  # type: ignore[arg-type]
    assert Pipeline(key=b"k1", detectors=[]).key == b"k1"


def test_tables_stay_flat_over_days_as_idle_entries_age_out() -> None:
    """Issue 14: three days, a new host every ten minutes: the tables hold the last hour, not the three days."""
    frames = []
    for i in range(3 * 24 * 6):
        mac = f"02:00:00:{i >> 16:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"
        pkt = bytes(Ether(src=mac, dst=PACS[0]) / IP(src=f"10.20.{i // 250}.{i % 250 + 1}", dst=PACS[1])
                    / UDP(sport=40000, dport=7001))
        frames.append(RawFrame(T0 + i * 600.0, 1, pkt, len(pkt), i + 1, "t", 0))
    sink = ListSink()
    pipe = Pipeline(key=TEST_KEY, sink=sink, detectors=[], flush_interval=60.0)
    pipe.run(frames)
    assert len(pipe.tables.hosts) <= 7 and len(pipe.tables.convs) <= 7
    stats = pipe.close()
    assert stats.aged_out["hosts"] >= len(frames) - 7 and stats.aged_out["conversations"] >= len(frames) - 7
    assert len({o.mac for o in sink.observations if o.kind == "host"}) == len(frames)  # every host was reported


def test_arp_records_of_one_sender_are_one_fact_whoever_they_ask_for() -> None:
    """The sender's (mac, ip) is the identity an ARP record states; the targets are evidence (issue 15)."""
    from collector.facts import keyed
    from collector.schema import ArpObs

    records = [ArpObs(ts=T0 + i, src_mac=CT[0], dst_mac="ff:ff:ff:ff:ff:ff", op="request", sender_mac=CT[0],
                      sender_ip=CT[1], target_mac="00:00:00:00:00:00", target_ip=f"192.0.2.{i}") for i in range(1, 30)]
    other = ArpObs(ts=T0, src_mac=PACS[0], dst_mac="ff:ff:ff:ff:ff:ff", op="request", sender_mac=PACS[0],
                   sender_ip=PACS[1], target_mac="00:00:00:00:00:00", target_ip="192.0.2.1")
    facts = keyed([*records, other])
    assert len(facts) == 2
    mine = next(f for f in facts.values() if f.sender_mac == CT[0])  # type: ignore[attr-defined]
    assert mine.count == 29 and mine.target_ip == "192.0.2.1"  # type: ignore[attr-defined]
