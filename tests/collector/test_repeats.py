"""Identity repeats (collector.deep): a frame that repeats an identity is counted, not decoded, and the
facts a flush emits are those a decode of every frame gives (counts, first and last times included)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

import collector.deep
import collector.pipeline
from collector.facts import fact_key
from collector.pipeline import Pipeline
from collector.protocols import arp, ntp
from collector.registry import all_detectors
from collector.schema import Observation
from collector.sinks import ListSink
from collector.sources import RawFrame
from pcaps import make_bench_mix
from tests.keys import TEST_KEY

CT, NTP_SERVER = ("02:00:00:00:01:15", "10.10.110.21"), ("02:00:00:00:50:01", "10.50.0.1")
T0 = 1767258000.0


def frames_of(pkts: list[Any], step: float = 0.5) -> list[RawFrame]:
    return [RawFrame(T0 + i * step, 1, bytes(p), len(bytes(p)), i + 1, "t.pcap", 0)
            for i, p in enumerate(pkts)]


def replay_records(frames: list[RawFrame], detectors: list[Any], **kw: Any) -> tuple[list[Observation], Any]:
    """The detector records a replay emits, and its stats."""
    sink = ListSink()
    pipe = Pipeline(sensor="s1", key=TEST_KEY, sink=sink, detectors=detectors, **kw)
    pipe.run(frames)
    stats = pipe.close()
    return [o for o in sink.observations if o.kind not in ("stats", "host", "conversation")], stats


def replay_facts(frames: list[RawFrame], detectors: list[Any]) -> tuple[dict[str, Observation], Any]:
    """The facts of a replay in one flush period, by fact key."""
    records, stats = replay_records(frames, detectors)
    facts = {fact_key(o): o for o in records}
    assert len(facts) == len(records), "a fact emitted twice within one flush period"
    return facts, stats


def test_arp_requests_for_other_targets_count_in_the_senders_fact_without_a_decode() -> None:
    decodes = []

    def counting(pkt: Any, ctx: Any) -> Any:
        decodes.append(pkt.frame_no)
        return arp.decode(pkt, ctx)

    det = replace(arp.DETECTOR, decode=counting)
    who_has = [Ether(src=CT[0], dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=CT[0], psrc=CT[1], pdst=f"10.10.110.{n}")
               for n in (1, 2, 3, 2)]
    gratuitous = Ether(src=CT[0], dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=CT[0], psrc=CT[1], pdst=CT[1])
    facts, stats = replay_facts(frames_of([*who_has, gratuitous]), [det])
    assert decodes == [1, 5]  # a gratuitous announcement is another fact: decoded
    assert stats.deep_repeats == 3
    by_kind = sorted(((o.gratuitous, o.count, o.frame_no, o.ts, o.last_ts) for o in facts.values()),
                     key=lambda t: t[0])
    assert by_kind == [(False, 4, 1, T0, T0 + 1.5), (True, 1, 5, T0 + 2.0, None)]


def test_a_repeat_of_a_fact_emitted_early_is_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector.pipeline, "BATCH_MAX", 2)
    decodes = []

    def counting(pkt: Any, ctx: Any) -> Any:
        decodes.append(pkt.frame_no)
        return arp.decode(pkt, ctx)

    det = replace(arp.DETECTOR, decode=counting)
    other = ("02:00:00:00:01:16", "10.10.110.22")
    pkts = [Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=mac, psrc=ip, pdst=f"10.10.110.{n}")
            for mac, ip, n in (CT + (1,), CT + (2,), other + (1,), CT + (3,), CT + (4,))]
    # frame 2 repeats frame 1 (buffered: counted); frame 3 fills the batch (emitted early); frame 4 repeats
    # a fact that left: decoded; frame 5 repeats it in the new batch: counted
    records, stats = replay_records(frames_of(pkts), [det])
    assert decodes == [1, 3, 4] and stats.deep_repeats == 2
    summary = [(o.sender_mac, o.count, o.frame_no, o.ts, o.last_ts) for o in records]
    assert summary == [(CT[0], 2, 1, T0, T0 + 0.5), (other[0], 1, 3, T0 + 1.0, None),
                       (CT[0], 2, 4, T0 + 1.5, T0 + 2.0)]
    monkeypatch.setattr(collector.deep, "REPEAT_CAP", 0)
    decoded, _ = replay_records(frames_of(pkts), [det])
    assert [(o.sender_mac, o.count, o.frame_no, o.ts, o.last_ts) for o in decoded] == summary


def test_ntp_timestamps_are_not_identity_but_the_reference_id_is() -> None:
    def reply(refid: bytes, stamp: int) -> Any:
        body = bytes((0x24, 1, 6, 0xEC)) + bytes(8) + refid + bytes(24) + stamp.to_bytes(8, "big")
        return (Ether(src=NTP_SERVER[0], dst=CT[0]) / IP(src=NTP_SERVER[1], dst=CT[1])
                / UDP(sport=123, dport=123) / Raw(body))

    pkts = [reply(b"GPS\x00", 1), reply(b"GPS\x00", 2), reply(b"PPS\x00", 3), reply(b"GPS\x00", 4)]
    facts, stats = replay_facts(frames_of(pkts), [ntp.DETECTOR])
    assert stats.deep_repeats == 2
    assert sorted((o.reference_id, o.count) for o in facts.values()) == [("GPS", 3), ("PPS", 1)]


def bench_frames(n: int) -> Iterator[RawFrame]:
    for i, (t, frame) in enumerate(make_bench_mix.frames(n, seed=7, profile="identity"), start=1):
        yield RawFrame(t, 1, frame, len(frame), i, "mix.pcap", 0)


@pytest.mark.parametrize("batch_max", [collector.pipeline.BATCH_MAX, 50])
def test_facts_with_repeats_equal_the_facts_of_a_decode_of_every_frame(
        monkeypatch: pytest.MonkeyPatch, batch_max: int) -> None:
    """On the identity bench mix (varied identities, some repeats), with early emits (small batches) too."""
    monkeypatch.setattr(collector.pipeline, "BATCH_MAX", batch_max)
    frames = list(bench_frames(20_000))
    with_repeats, stats = replay_records(frames, list(all_detectors()), flush_interval=1.0)
    monkeypatch.setattr(collector.deep, "REPEAT_CAP", 0)
    decoded, reference = replay_records(frames, list(all_detectors()), flush_interval=1.0)
    assert stats.deep_repeats > (50 if batch_max > 1000 else 0) and reference.deep_repeats == 0
    assert len(with_repeats) > 2_000

    def summary(records: list[Observation]) -> list[tuple[Any, ...]]:
        return sorted((fact_key(o), o.count, o.ts, o.last_ts, o.frame_no) for o in records)

    assert summary(with_repeats) == summary(decoded)
