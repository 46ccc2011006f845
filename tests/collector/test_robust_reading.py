"""Robust reading (issue 20 item 9): out-of-range pcapng times, malformed counted per frame, empty captures.

The pcapng files are built here block by block (draft-ietf-opsawg-pcapng section 4): a Section
Header, an Interface Description (optionally with if_tsresol), then Enhanced Packet Blocks
whose 64-bit timestamps are chosen to fall beyond the year 9999.
"""

from __future__ import annotations

import struct
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from collector.pcapfile import MAX_TS, ReadStats, read_pcapng
from collector.pipeline import Pipeline
from collector.sinks import ListSink
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

FRAME = bytes.fromhex(
    "020000000002" "020000000001" "0800"  # Ethernet II
    "4500001d00000000401100000000c0000201c0000202"  # IPv4 192.0.2.1 -> 192.0.2.2, UDP
    "000100020009000078"  # UDP 1 -> 2, one byte
)
GOOD_US = 1_700_000_000 * 10**6  # 2023-11-14, microseconds
YEAR_11476_US = 300_000_000_000 * 10**6


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def _pcapng(*timestamps: int, tsresol: int | None = None) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = b"" if tsresol is None else struct.pack("<HHB3x", 9, 1, tsresol) + b"\0\0\0\0"
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535) + options)
    epbs = b"".join(_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(FRAME), len(FRAME)) + FRAME)
                    for ts in timestamps)
    return shb + idb + epbs


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_out_of_range_timestamp_is_a_weird_per_packet_and_the_packet_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "far.pcapng", _pcapng(GOOD_US, YEAR_11476_US, GOOD_US + 1, YEAR_11476_US))
    stats = ReadStats()
    with path.open("rb") as f:
        head = f.read(4)
        frames = list(read_pcapng(f, head, stats, "far"))
    assert len(frames) == 4
    assert stats.weirds == {"timestamp_out_of_range": 2}
    assert not stats.truncated
    assert [f[0] for f in frames] == [GOOD_US / 1e6, GOOD_US / 1e6, (GOOD_US + 1) / 1e6, (GOOD_US + 1) / 1e6]
    assert all(0 <= f[0] < MAX_TS for f in frames)


def test_a_64_bit_second_count_never_overflows(tmp_path: Path) -> None:
    # if_tsresol 0x80: 2^-0 = whole seconds, so the largest 64-bit count is ~5.8e11 years
    path = _write(tmp_path, "max.pcapng", _pcapng(2**64 - 1, tsresol=0x80))
    result = run(path)
    assert result.stats.weirds["timestamp_out_of_range"] == 1
    assert result.stats.packets == 1 and result.stats.malformed == 1


def test_replay_of_a_year_beyond_9999_exits_0_with_the_weird(tmp_path: Path) -> None:
    # before: "error: year 11476 is out of range" and exit 1 (a configuration error), or an OverflowError
    path = _write(tmp_path, "far.pcapng", _pcapng(GOOD_US, YEAR_11476_US))
    out = CliRunner().invoke(app, ["replay", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}", "-q",
                                   "--report", str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    assert "timestamp_out_of_range" in out.output
    only_bad = _write(tmp_path, "max.pcapng", _pcapng(2**64 - 1, tsresol=0x80))
    out = CliRunner().invoke(app, ["replay", str(only_bad), "--db", f"sqlite:///{tmp_path / 'y.db'}", "-q"])
    assert out.exit_code == 0, out.output


def test_malformed_counts_frames_not_weirds() -> None:
    # one frame raising two weirds counts once: an IPv4 header claiming a 60-byte IHL in 24 bytes
    # (ipv4_bad_header_len) is one frame; a truncated Ethernet frame is another
    pipe = Pipeline(sink=ListSink(), key=TEST_KEY)
    bad_ihl = bytearray(FRAME)
    bad_ihl[14] = 0x4F
    short = FRAME[:10]
    for n, data in enumerate((FRAME, bytes(bad_ihl), short, bytes(bad_ihl)), start=1):
        pipe.feed((1.0 + n, 1, data, len(data), n, "t", 0))
    stats = pipe.close()
    assert sum(stats.weirds.values()) == 3
    assert stats.malformed == 3
    pipe2 = Pipeline(sink=ListSink(), key=TEST_KEY)

    def two_weirds(*args: object) -> None:
        pipe2.decoder.weird("first")
        pipe2.decoder.weird("second")

    pipe2.process = two_weirds  # type: ignore[method-assign]
    pipe2.feed((1.0, 1, FRAME, len(FRAME), 1, "t", 0))
    stats2 = pipe2.close()
    assert sum(stats2.weirds.values()) == 2
    assert stats2.malformed == 1


def test_empty_capture_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    empty = real_pcap("tcpdump-empty.pcapng")  # a section header and nothing else
    out = CliRunner().invoke(app, ["replay", str(empty), "--db", f"sqlite:///{tmp_path / 'x.db'}", "-q"])
    assert out.exit_code == 4, out.output
    assert "no packet in the capture" in out.output and "tcpdump-empty.pcapng" in out.output
    headers_only = _write(tmp_path, "hdr.pcapng", _pcapng())
    out = CliRunner().invoke(app, ["replay", str(headers_only), "--db", f"sqlite:///{tmp_path / 'y.db'}", "-q"])
    assert out.exit_code == 4 and "no packet in the capture" in out.output
    zero_bytes = _write(tmp_path, "zero.pcap", b"")
    out = CliRunner().invoke(app, ["replay", str(zero_bytes), "--db", f"sqlite:///{tmp_path / 'z.db'}", "-q"])
    assert out.exit_code == 4 and "not a capture file" in out.output
