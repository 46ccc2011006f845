"""Resource bounds: a flood of distinct source MACs/IPs cannot grow the collector's tables without bound.

A pcap of distinct-source UDP frames is written with struct (fast, no scapy) and
replayed with small caps: the host and conversation tables stop at the cap, the
refused entries are counted in CaptureStats.table_overflow, the analyzer raises a
`table-overflow` finding, and the memory the pipeline holds (VmRSS in a subprocess) for 120k
frames is far below 3x that of 40k frames.  A million entries at the default
caps is for `make fuzz` / the bench, not the suite.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

from analyzer.engine import analyze
from collector.pipeline import replay
from collector.sinks import ListSink
from tests.keys import TEST_KEY

CAP = 10_000
MEMORY_CAP = 4_000
ETH_DST = bytes.fromhex("00000c9ff001")
DST_IP = bytes([10, 50, 0, 3])


def _csum(header: bytes) -> int:
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def write_flood(path: Path, frames: int, *, start: float = 1_700_000_000.0, span: float = 1.0,
                distinct: int | None = None) -> Path:
    """`frames` Ethernet/IPv4/UDP frames spread over `span` seconds of capture time; frame n comes from
    source number n % distinct (default: every frame from a distinct MAC and IPv4 address)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    payload = b"medtap-flood"
    udp_len = 8 + len(payload)
    ip_len = 20 + udp_len
    rec_hdr = struct.Struct("<IIII")
    distinct = distinct or frames
    for i in range(frames):
        n = i % distinct
        micros = int(start * 1_000_000 + i * span * 1_000_000 / max(frames, 1))
        src_ip = bytes([10, 100 + (n >> 16 & 0x3F), n >> 8 & 0xFF, n & 0xFF])
        mac = b"\x02" + n.to_bytes(5, "big")
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, i & 0xFFFF, 0, 64, 17, 0, src_ip, DST_IP)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        frame = ETH_DST + mac + b"\x08\x00" + ip + struct.pack("!HHHH", 40000 + (n & 0x3FF), 9, udp_len, 0) + payload
        out += rec_hdr.pack(micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


def test_tables_stop_at_the_cap_and_the_overflow_is_a_finding(tmp_path: Path) -> None:
    frames, cap = 12_000, 5_000
    pcap = write_flood(tmp_path / "flood.pcap", frames)
    sink = ListSink()
    stats = replay([pcap], sink, key=TEST_KEY, max_hosts=cap, max_conversations=cap)
    assert stats.packets == frames
    hosts = {(h.mac, h.ip) for h in sink.of_kind("host")}  # type: ignore[attr-defined]
    convs = {(c.client_ip, c.server_ip, c.server_port) for c in sink.of_kind("conversation")}  # type: ignore[attr-defined]
    flood_hosts = {h for h in hosts if h[0].startswith("02:")}
    assert cap - 5 <= len(flood_hosts) <= cap
    assert cap - 5 <= len(convs) <= cap
    assert stats.table_overflow["hosts"] >= frames - cap
    assert stats.table_overflow["conversations"] >= frames - cap
    assert [o for o in sink.observations if o.kind == "stats"] == [stats]  # the run's stats reach the sink
    report = analyze(sink.observations)
    overflow = [f for f in report.findings if f.rule == "table-overflow"]
    assert len(overflow) == 1, [f.rule for f in report.findings]
    assert report.stats.table_overflow == stats.table_overflow


def test_same_flood_under_the_cap_has_no_overflow(tmp_path: Path) -> None:
    pcap = write_flood(tmp_path / "small.pcap", 2_000)
    sink = ListSink()
    stats = replay([pcap], sink, key=TEST_KEY, max_hosts=CAP, max_conversations=CAP)
    assert not stats.table_overflow
    assert len({h.mac for h in sink.of_kind("host") if h.mac.startswith("02:")}) == 2_000  # type: ignore[attr-defined]


PROBE = r"""
import gc, json, sys
from collector.pipeline import Pipeline
from collector.registry import all_detectors
from collector.sinks import CountingSink
from collector.sources import open_capture

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

all_detectors()
gc.collect()
before = rss_kb()
pipe = Pipeline(key=b"table-caps-test-key", sink=CountingSink(), max_hosts=int(sys.argv[2]), max_conversations=int(sys.argv[2]), flush_interval=1e9)
pipe.run(open_capture(sys.argv[1]))
gc.collect()
after = rss_kb()  # the tables are still alive here: what they hold is resident
stats = pipe.close()
print(json.dumps({"growth_kb": after - before, "base_kb": before, "packets": stats.packets, "overflow": stats.table_overflow}))
"""


def _peak(pcap: Path, cap: int) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(pcap), str(cap)], capture_output=True, text=True, timeout=120,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_memory_is_bounded_by_the_caps(tmp_path: Path) -> None:
    """Resident memory held by the pipeline after the frames (a subprocess each): 120k frames vs 40k frames at a
    cap of 4,000 entries, and 40k frames uncapped."""
    pcap_40k = write_flood(tmp_path / "40k.pcap", 40_000)
    small = _peak(pcap_40k, MEMORY_CAP)
    big = _peak(write_flood(tmp_path / "120k.pcap", 120_000), MEMORY_CAP)
    uncapped = _peak(pcap_40k, 1_000_000)
    assert small["packets"] == 40_000 and big["packets"] == 120_000 and uncapped["packets"] == 40_000
    assert big["overflow"]["hosts"] >= 120_000 - MEMORY_CAP and not uncapped["overflow"]
    print(f"RSS held by the pipeline: cap {MEMORY_CAP}: 40k frames {small['growth_kb']} KiB, 120k frames "
          f"{big['growth_kb']} KiB; uncapped 40k frames {uncapped['growth_kb']} KiB (base {big['base_kb']} KiB)")
    # the measurement sees table growth: 40k distinct entries uncapped cost far more than the capped 300k run
    # (a ratio, not an absolute margin: allocator and page granularity move both figures by a few MiB)
    assert uncapped["growth_kb"] > 2 * big["growth_kb"] and uncapped["growth_kb"] > big["growth_kb"] + 16 * 1024, (uncapped, big)
    # linear growth would be ~3x; with the tables capped the extra 200k frames cost (almost) nothing
    assert big["growth_kb"] < 1.3 * small["growth_kb"] + 16 * 1024, (small, big)
