"""Capture sources: every pcap flavour, pcapng blocks, gzip by magic, damage, folders in time order.

Files are built byte by byte with struct here, so each test knows exactly what is in them.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from collector.pcapfile import ReadStats
from collector.sources import FrameSource, RawFrame, open_capture, time_ordered

T0 = 1767258000


def frame(i: int, size: int = 60) -> bytes:
    return bytes([i]) * size


def pcap(frames: list[bytes], *, big: bool = False, nano: bool = False, linktype: int = 1, snaplen: int = 65535,
         t0: int = T0) -> bytes:
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack(e + "IIII", t0 + i, 250 if not nano else 250_000, len(f), len(f) + 4) + f)
    return b"".join(out)


def block(btype: int, body: bytes, e: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def shb(e: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)


def idb(linktype: int, tsresol: int | None = None, e: str = "<") -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(e + "HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3 + struct.pack(e + "HH", 0, 0)
    return block(1, struct.pack(e + "HHI", linktype, 0, 65535) + opts, e)


def epb(iface: int, ticks: int, data: bytes, e: str = "<") -> bytes:
    return block(6, struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data, e)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_variants(tmp_path: Path, big: bool, nano: bool) -> None:
    path = write(tmp_path, "a.pcap", pcap([frame(1), frame(2, 100)], big=big, nano=nano))
    frames = list(open_capture(path))
    assert [f.frame_no for f in frames] == [1, 2]
    assert all(isinstance(f, RawFrame) for f in frames)
    assert frames[0].ts == pytest.approx(T0 + 0.00025, abs=1e-7)
    assert frames[1].data == frame(2, 100)
    assert frames[1].wirelen == 104  # orig_len, not the captured length
    assert frames[0].linktype == 1 and frames[0].source == "a.pcap"


def test_pcapng_multi_interface_resolutions_and_blocks(tmp_path: Path) -> None:
    raw_ip = b"\x45" + b"\x00" * 19
    data = (
        shb()
        + idb(1)  # microseconds
        + idb(101, tsresol=9)  # nanoseconds
        + block(0x0BAD0BAD, b"unknown block, skipped")
        + epb(0, T0 * 10**6 + 500, frame(1))
        + epb(1, T0 * 10**9 + 7, raw_ip)
        + block(3, struct.pack("<I", 60) + frame(3))  # simple packet block: interface 0
        + block(5, b"\x00" * 8)  # interface statistics: skipped
    )
    frames = list(open_capture(write(tmp_path, "m.pcapng", data)))
    assert [(f.linktype, f.iface) for f in frames] == [(1, 0), (101, 1), (1, 0)]
    assert frames[0].ts == pytest.approx(T0 + 0.0005)
    assert frames[1].ts == pytest.approx(T0 + 7e-9, abs=1e-6)
    assert frames[2].data == frame(3)
    assert [f.frame_no for f in frames] == [1, 2, 3]


def test_pcapng_big_endian_section(tmp_path: Path) -> None:
    data = shb(">") + idb(1, e=">") + epb(0, T0 * 10**6, frame(9), e=">")
    frames = list(open_capture(write(tmp_path, "be.pcapng", data)))
    assert len(frames) == 1 and frames[0].data == frame(9) and frames[0].ts == pytest.approx(T0)


def test_pcapng_corrupt_and_oversized_block_lengths_stop_cleanly(tmp_path: Path) -> None:
    good = shb() + idb(1) + epb(0, T0 * 10**6, frame(1))
    for bad_len, weird in ((13, "pcapng_bad_block_length"), (0x7FFFFFF0, "pcapng_oversized_block")):
        second = bytearray(epb(0, T0 * 10**6 + 1, frame(2)))
        struct.pack_into("<I", second, 4, bad_len)
        stats = ReadStats()
        frames = list(open_capture(write(tmp_path, "c.pcapng", good + bytes(second)), stats))
        assert len(frames) == 1
        assert stats.truncated and stats.weirds == {weird: 1}


def test_gzip_detected_by_magic_not_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "rotated.pcap", gzip.compress(pcap([frame(1), frame(2)]), mtime=0))
    assert [f.data for f in open_capture(path)] == [frame(1), frame(2)]


@pytest.mark.parametrize("cut", [7, 16 + 20])  # inside the 2nd record header, inside the 2nd record data
def test_truncated_file_keeps_complete_records(tmp_path: Path, cut: int) -> None:
    whole = pcap([frame(1), frame(2), frame(3)])
    data = whole[: 24 + (16 + 60) + cut]
    stats = ReadStats()
    frames = list(open_capture(write(tmp_path, "t.pcap", data), stats))
    assert [f.data for f in frames] == [frame(1)]
    assert stats.truncated
    assert stats.weirds == {"pcap_truncated_record": 1}


def test_record_longer_than_snaplen_and_file(tmp_path: Path) -> None:
    data = bytearray(pcap([frame(1), frame(2)], snaplen=128))
    struct.pack_into("<I", data, 24 + 16 + 60 + 8, 10_000_000)
    stats = ReadStats()
    frames = list(open_capture(write(tmp_path, "o.pcap", bytes(data)), stats))
    assert len(frames) == 1 and stats.truncated and "pcap_oversized_record" in stats.weirds


def test_zero_length_records_are_counted_and_skipped(tmp_path: Path) -> None:
    stats = ReadStats()
    frames = list(open_capture(write(tmp_path, "z.pcap", pcap([frame(1), b"", frame(3)])), stats))
    assert [f.data for f in frames] == [frame(1), frame(3)]
    assert stats.weirds == {"zero_length_record": 1} and not stats.truncated


@pytest.mark.parametrize("content", [b"", b"\xa1\xb2\xc3\xd4\x00", b"hello world, not a capture"])
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    stats = ReadStats()
    assert list(open_capture(write(tmp_path, "x.pcap", content), stats)) == []
    assert stats.weirds == {"not_a_capture": 1}


def test_folder_files_in_first_packet_order(tmp_path: Path) -> None:
    folder = tmp_path / "rotated"
    folder.mkdir()
    # names sort the opposite way of time; one is gzipped; a text file is ignored
    write(folder, "a-late.pcap", pcap([frame(3)], t0=T0 + 100))
    write(folder, "b-early.pcap.gz", gzip.compress(pcap([frame(1), frame(2)], t0=T0), mtime=0))
    write(folder, "notes.txt", b"operator notes")
    assert [p.name for p in time_ordered([folder])] == ["b-early.pcap.gz", "a-late.pcap"]
    source = FrameSource([folder])
    frames = list(source)
    assert [f[2] for f in frames] == [frame(1), frame(2), frame(3)]
    assert [(f[5], f[4]) for f in frames] == [("b-early.pcap.gz", 1), ("b-early.pcap.gz", 2), ("a-late.pcap", 1)]
    assert source.bytes_read() == source.total_bytes
    assert len(source.stats.files) == 2


def test_several_files_sorted_by_time(tmp_path: Path) -> None:
    late = write(tmp_path, "one.pcap", pcap([frame(5)], t0=T0 + 50))
    early = write(tmp_path, "two.pcapng", shb() + idb(1) + epb(0, T0 * 10**6, frame(4)))
    assert [f[2] for f in FrameSource([late, early])] == [frame(4), frame(5)]


def test_unreadable_path_is_a_weird(tmp_path: Path) -> None:
    stats = ReadStats()
    assert list(open_capture(tmp_path / "missing.pcap", stats)) == []
    assert stats.weirds == {"unreadable_file": 1}
