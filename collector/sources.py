"""Capture sources: files (pcap, pcapng, gzip by magic), several files in time order, folders.

`open_capture(path)` streams `RawFrame`s from one file or folder; `FrameSource(paths)` is what
the replay uses: it orders files by their first packet time (rotated captures given in any
order replay in time order), numbers frames per file from 1 (the evidence pointer), tracks the
bytes read for progress displays, and collects weirds (`not_a_capture`,
`pcap_truncated_record`, ...) in a `ReadStats` instead of raising.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

from collector.pcapfile import GZIP_MAGIC, PCAP_MAGICS, PCAPNG_MAGIC, Frame, ReadStats, read_pcap, read_pcapng

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".dmp", ".trace")


class RawFrame(NamedTuple):
    """One captured frame as read from a source (the pipeline's input)."""

    ts: float
    linktype: int
    data: bytes
    wirelen: int
    frame_no: int
    source: str
    iface: int = 0


def _open(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(stream to parse, raw file for position): gunzip transparently when the magic says gzip."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        # a binary stream; typeshed has no common type
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), raw
    raw.seek(0)
    return raw, raw


def _frames(path: Path, stats: ReadStats, holder: list[BinaryIO] | None = None) -> Iterator[Frame]:
    """Frames of one file; every failure becomes a weird."""
    try:
        stream, raw = _open(path)
    except OSError:
        stats.weird("unreadable_file")
        return
    if holder is not None:
        holder[:] = [raw]
    try:
        head = stream.read(4)
        if head in PCAP_MAGICS:
            yield from read_pcap(stream, head, stats, path.name)
        elif head == PCAPNG_MAGIC:
            yield from read_pcapng(stream, head, stats, path.name)
        else:
            stats.weird("not_a_capture")
    except (OSError, EOFError, zlib.error) as exc:
        name = "gzip_corrupt" if stream is not raw else "capture_read_error"
        stats.weird(name if not isinstance(exc, EOFError) else "gzip_truncated")
        stats.truncated = True
    finally:
        stream.close()
        raw.close()


def expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; folders replaced by the capture files they hold (sorted by name)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(c for c in p.iterdir() if c.is_file() and _looks_like_capture(c)))
        else:
            out.append(p)
    return out


def _looks_like_capture(path: Path) -> bool:
    if path.name.lower().endswith(CAPTURE_SUFFIXES):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in PCAP_MAGICS or head == PCAPNG_MAGIC or head[:2] == GZIP_MAGIC


def first_ts(path: Path) -> float:
    """Time of the first packet of a file (inf when it has none): the sort key of rotated files."""
    for frame in _frames(path, ReadStats()):
        return frame[0]
    return float("inf")


def time_ordered(paths: Iterable[Path | str]) -> list[Path]:
    """Files (folders expanded) sorted by first packet time, ties by name."""
    files = expand(paths)
    if len(files) < 2:
        return files
    return sorted(files, key=lambda p: (first_ts(p), str(p)))


class FrameSource:
    """Frames of several captures in time order, as plain 7-tuples in `RawFrame` field order."""

    def __init__(self, paths: Iterable[Path | str], stats: ReadStats | None = None) -> None:
        self.files = time_ordered(paths)
        self.stats = stats if stats is not None else ReadStats()
        self.total_bytes = 0
        for p in self.files:
            try:
                self.total_bytes += p.stat().st_size
            except OSError:
                pass
        self._done_bytes = 0
        self._current: list[BinaryIO] = []

    def bytes_read(self) -> int:
        """Bytes of the capture files consumed so far (compressed bytes for .gz)."""
        pos = 0
        if self._current:
            try:
                pos = self._current[0].tell()
            except (OSError, ValueError):
                pos = 0
        return self._done_bytes + pos

    def __iter__(self) -> Iterator[tuple[float, int, bytes, int, int, str, int]]:
        for path in self.files:
            self.stats.files.append(str(path))
            yield from _frames(path, self.stats, self._current)
            self._current = []
            try:
                self._done_bytes += path.stat().st_size
            except OSError:
                pass


def open_capture(path: Path | str, stats: ReadStats | None = None) -> Iterator[RawFrame]:
    """Stream the frames of a capture file, a .gz, or a folder of captures (time ordered)."""
    for frame in FrameSource([path], stats):
        yield RawFrame._make(frame)
