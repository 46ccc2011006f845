"""Several workers (issue 15 item 3): symmetric sharding, and a replay on N workers equals one worker.

`shard_of` must send both directions of a flow (and every flow between two hosts, fragments
included) to the same worker, whatever the VLAN tags, and non-IP frames by source MAC.  A replay of
the demo hospital on 2 and 3 workers must produce the same facts (counts included) and the same
run counters as the single pipeline, and the whole `medtap replay` job the same devices and findings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from collector.factblob import encode
from collector.facts import Prepared, fact_key, keyed
from collector.parallel import replay_workers
from collector.pipeline import replay
from collector.schema import CaptureStats, Observation
from collector.shard import shard_of
from collector.sinks import ListSink
from tests.conftest import REPO
from tests.keys import TEST_KEY

DEMO = REPO / "pcaps" / "demo"
CAPTURES = sorted(DEMO.glob("demo-*.pcap"))


def _both(a: str, b: str, *, v6: bool = False, vlan: int | None = None) -> tuple[bytes, bytes]:
    l2 = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if vlan is not None:
        l2 = l2 / Dot1Q(vlan=vlan)
    ip = IPv6 if v6 else IP
    there = l2 / ip(src=a, dst=b) / TCP(sport=40000, dport=104)
    back = l2 / ip(src=b, dst=a) / TCP(sport=104, dport=40000)
    return bytes(there), bytes(back)


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_shard_is_symmetric_and_spreads(workers: int) -> None:
    seen: set[int] = set()
    for i in range(32):
        for kind in ("v4", "v6", "vlan"):
            if kind == "v6":
                there, back = _both(f"2001:db8::{i + 1:x}", "2001:db8::100", v6=True)
            else:
                there, back = _both(f"192.0.2.{i + 1}", "198.51.100.7", vlan=110 if kind == "vlan" else None)
            w = shard_of(there, 1, workers)
            assert w == shard_of(back, 1, workers) and 0 <= w < workers
            seen.add(w)
    assert seen == set(range(workers))  # 96 host pairs reach every worker


def test_shard_keys_on_addresses_not_ports_and_macs_without_ip() -> None:
    base = Ether() / IP(src="192.0.2.1", dst="198.51.100.7")
    workers = {shard_of(bytes(base / UDP(sport=p, dport=53)), 1, 4) for p in range(40000, 40050)}
    assert len(workers) == 1  # every connection between two hosts: one worker (a conversation's budget)
    fragment = bytes(Ether() / IP(src="198.51.100.7", dst="192.0.2.1", frag=100, proto=17) / (b"x" * 30))
    assert shard_of(fragment, 1, 4) in workers
    arps = {shard_of(bytes(Ether(src=f"02:00:00:00:01:{i:02x}") / ARP()), 1, 4) for i in range(64)}
    assert len(arps) == 4  # ARP spread by source MAC
    arp = Ether(src="02:00:00:00:01:05") / ARP()
    lldp = Ether(src="02:00:00:00:01:05", dst="01:80:c2:00:00:0e", type=0x88CC) / (b"\x00" * 40)
    assert shard_of(bytes(arp), 1, 4) == shard_of(bytes(lldp), 1, 4)  # one device's link layer: one worker
    raw = bytes(IP(src="192.0.2.1", dst="198.51.100.7") / UDP())
    assert shard_of(raw, 101, 4) == shard_of(bytes(IP(src="198.51.100.7", dst="192.0.2.1") / UDP()), 101, 4)
    assert shard_of(b"\x00" * 60, 127, 4) == 0  # radiotap: not parsed, one worker
    assert shard_of(b"\x00", 1, 4) == 0  # too short: worker 0, the pipeline counts the weird


def _facts(observations: list[Observation]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for key, o in keyed(o for o in observations if o.kind != "stats").items():
        out[key] = (o.count, getattr(o, "frames", None), getattr(o, "bytes", None),
                    getattr(o, "packets_c2s", None), getattr(o, "packets_s2c", None), o.ts, o.last_ts)
    return out


@pytest.mark.parametrize("workers", [2, 3])
def test_replay_on_workers_equals_one_worker(workers: int) -> None:
    one, many = ListSink(), ListSink()
    single = replay(CAPTURES, one, key=TEST_KEY)
    merged = replay_workers(CAPTURES, many, key=TEST_KEY, workers=workers)
    assert _facts(many.observations) == _facts(one.observations)
    assert len(merged.workers) == workers and sum(merged.workers) == merged.packets == single.packets
    assert all(merged.workers)  # every worker had a share of the demo hospital
    same = {"aged_out", "workers"}  # a host seen by two workers is aged out by each
    assert merged.model_dump(exclude=same) == single.model_dump(exclude=same)
    assert [o for o in many.observations if isinstance(o, CaptureStats)] == [merged]


def test_damaged_capture_on_workers_keeps_the_reader_weirds(tmp_path: Path) -> None:
    data = (DEMO / "demo-core.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 37])
    one, many = ListSink(), ListSink()
    single = replay([cut], one, key=TEST_KEY)
    merged = replay_workers([cut], many, key=TEST_KEY, workers=2)
    assert merged.truncated and merged.truncated == single.truncated
    assert merged.weirds == single.weirds and merged.malformed == single.malformed
    assert _facts(many.observations) == _facts(one.observations)


def test_replay_command_on_two_workers_reports_what_one_does(tmp_path: Path) -> None:
    from analyzer.site import load_site
    from store.jobs import report_json
    from store.loop import ReplayOptions, run_replay

    reports = []
    for workers in (1, 2):
        result = run_replay(ReplayOptions(paths=CAPTURES, db_url=f"sqlite:///{tmp_path / f'w{workers}.db'}",
                                          site=load_site(DEMO / "site.yaml"), sheets=DEMO / "sheets.csv",
                                          workers=workers))
        reports.append(report_json(result.report))
    one, two = reports
    assert one["devices"] and one["findings"]
    assert two["devices"] == one["devices"]
    assert two["findings"] == one["findings"]
    assert two["stats"]["packets"] == one["stats"]["packets"]


def test_report_stats_carry_frames_per_worker_and_drops() -> None:
    from analyzer.engine import analyze
    from api.render import stats_line

    runs = [CaptureStats(ts=1.0, packets=10, workers=[6, 4], kernel_drops=2, queue_drops=1),
            CaptureStats(ts=2.0, packets=5, workers=[2, 2, 1], kernel_drops=0)]
    stats = analyze(runs, rules=[]).stats
    assert (stats.packets, stats.workers, stats.kernel_drops, stats.queue_drops) == (15, [8, 6, 1], 2, 1)
    line = stats_line(stats)
    assert "2 kernel drops" in line and "1 queue drops" in line and "3 workers (8 + 6 + 1 frames)" in line


def test_a_failing_worker_fails_the_replay_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.pipeline import Pipeline

    def boom(self: Pipeline, frames: Any) -> None:
        raise RuntimeError("boom in a worker")

    monkeypatch.setattr(Pipeline, "run", boom)  # the workers are forked: they inherit it
    with pytest.raises(RuntimeError, match="boom in a worker"):
        replay_workers(CAPTURES, ListSink(), key=TEST_KEY, workers=2)


def test_capture_workers_report_an_interface_that_cannot_be_opened() -> None:
    from collector.live import capture

    with pytest.raises(OSError):  # the CLI turns it into "cannot capture on IF" (or the permission message)
        capture("mt-absent0", ListSink(), key=TEST_KEY, duration=1.0, workers=2)


def test_a_small_replay_runs_in_one_process_by_default(tmp_path: Path) -> None:
    from store.loop import PARALLEL_MIN_BYTES, default_workers, replay_workers_for

    small = tmp_path / "small.pcap"
    small.write_bytes(b"\0" * 1000)
    big = tmp_path / "big.pcap"
    with open(big, "wb") as fh:  # sparse: the size is what counts
        fh.truncate(PARALLEL_MIN_BYTES)
    assert replay_workers_for([small]) == 1
    assert replay_workers_for([big]) == default_workers()
    assert replay_workers_for([small, tmp_path / "missing.pcap"]) == 1


class _Prepared(ListSink):
    """Keeps the batches the collector prepares for the store (collector.facts.Prepared)."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[Prepared] = []

    def emit_prepared(self, batch: Prepared) -> None:
        self.prepared.append(batch)
        self.emit(batch.records)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_keys_and_blobs_sent_along_are_those_of_the_records(workers: int) -> None:
    sink = _Prepared()
    if workers == 1:
        replay(CAPTURES, sink, key=TEST_KEY)
    else:
        replay_workers(CAPTURES, sink, key=TEST_KEY, workers=workers)
    records = [o for batch in sink.prepared for o in batch.records]
    assert len(records) > 400 and {o.kind for o in records} >= {"host", "conversation", "dns", "dhcp"}
    for batch in sink.prepared:
        assert batch.keys == [fact_key(o) for o in batch.records]  # what store_batch would compute
        blobs = batch.blobs if batch.blobs is not None else [None] * len(batch.records)
        given = [(o, b) for o, b in zip(batch.records, blobs, strict=True) if b is not None]
        assert [b for _, b in given] == [encode(o) for o, _ in given]
    with_blob = {k for batch in sink.prepared if batch.blobs
                 for k, b in zip(batch.keys, batch.blobs, strict=True) if b}
    keys = {k for batch in sink.prepared for k in batch.keys}
    # one process: keys only (the store encodes the new facts); workers: the blob of (nearly) every fact,
    # once (a fact merged from two workers' records of a host or conversation is encoded by the store)
    assert not with_blob if workers == 1 else len(with_blob) > 0.9 * len(keys)


class _Plain:
    """A sink that takes records only: the store computes every key and blob itself."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def emit(self, batch: list[Observation]) -> None:
        self.sink.emit(batch)

    def flushed(self) -> None:
        self.sink.flushed()

    def close(self) -> None:
        self.sink.close()


def test_the_store_written_on_workers_is_the_store_written_by_one_process(tmp_path: Path) -> None:
    from sqlalchemy import select
    from sqlmodel import Session, col

    from store.db import make_engine, upgrade
    from store.loop import _DbSink
    from store.models import FactRow

    tables = {}
    for name in ("plain", "prepared", "workers-plain", "workers-prepared"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                db: Any = _DbSink(session, "local")
                sink = _Plain(db) if name.endswith("plain") else db
                if name.startswith("workers"):
                    replay_workers(CAPTURES, sink, sensor="local", key=TEST_KEY, workers=2)
                else:
                    replay(CAPTURES, sink, sensor="local", key=TEST_KEY)
                tables[name] = session.execute(
                    select(*(col(c) for c in (FactRow.fkey, FactRow.sensor, FactRow.kind, FactRow.count,
                                              FactRow.first_ts, FactRow.last_ts, FactRow.blob)))
                    .where(col(FactRow.kind) != "stats")  # the run's counters say how many workers ran
                    .order_by(col(FactRow.fkey))).all()
        finally:
            engine.dispose()
    assert len(tables["plain"]) > 400
    for name, rows in tables.items():
        assert rows == tables["plain"], name  # blobs compared byte for byte


def test_a_worker_sends_the_blob_of_a_fact_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector import shard
    from collector.schema import DnsObs

    class Conn:
        def __init__(self) -> None:
            self.sent: list[Any] = []

        def send(self, msg: Any) -> None:
            self.sent.append(msg)

    o = DnsObs(ts=1.0, src_ip="192.0.2.1", protocol="dns", response=False, queries=("pacs.example",))
    again = o.model_copy(update={"ts": 11.0})
    conn = Conn()
    sink = shard.PipeSink(conn)  # type: ignore[arg-type]
    sink.emit([o])
    sink.emit([again])  # a later period: the fact is stored by then
    assert [body.blobs for _, body in conn.sent] == [[encode(o)], [None]]
    monkeypatch.setattr(shard, "SENT_MAX", 0)  # past the bound, the worker forgets and encodes again
    sink.emit([again])
    assert conn.sent[2][1].blobs == [encode(again)]
