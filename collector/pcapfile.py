"""Streaming readers for libpcap and pcapng capture files.

libpcap: https://www.tcpdump.org/manpages/pcap-savefile.5.html (magic a1b2c3d4 micro- /
a1b23c4d nanosecond timestamps, either byte order).  pcapng: draft-ietf-opsawg-pcapng
(Section Header, Interface Description with if_tsresol/if_tsoffset, Enhanced and Simple Packet
blocks; obsolete Packet Block; any other block is skipped).

Files are read in large chunks and records are cut with `struct.unpack_from`, so memory is
bounded by the chunk size, never by the file.  Damage is never an exception: a truncated or
insane record stops the file cleanly after counting a named weird in `ReadStats`, and
everything before it has been yielded.  A pcapng timestamp that no calendar can show (before
1970 or from the year 10000 on, as a 64-bit count or a bad if_tsresol/if_tsoffset gives) is the
weird `timestamp_out_of_range`, counted per packet: the packet is kept with the last valid time
of its file (0 before the first), so the analysis never meets a date it cannot print.
Each reader yields plain tuples in `RawFrame` order `(ts, linktype, data, wirelen, frame_no,
source, iface)` (frame numbers from 1 per file).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 1 << 20
MAX_RECORD = 262_144  # Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD
MAX_BLOCK = 16 << 20  # no sane pcapng block is larger
MAX_TS = 253_402_300_800.0  # 10000-01-01T00:00:00Z: datetime's (and the report's) last year is 9999

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"

Frame = tuple[float, int, bytes, int, int, str, int]


@dataclass
class ReadStats:
    """Counters shared by every reader of one run."""

    weirds: dict[str, int] = field(default_factory=dict)
    truncated: bool = False
    files: list[str] = field(default_factory=list)

    def weird(self, name: str) -> None:
        self.weirds[name] = self.weirds.get(name, 0) + 1


class _Buffer:
    """A sliding window over a binary stream: `need(n)` makes n bytes available at `off`."""

    __slots__ = ("f", "buf", "off", "eof")

    def __init__(self, f: BinaryIO, head: bytes = b"") -> None:
        self.f = f
        self.buf = head
        self.off = 0
        self.eof = False

    def need(self, n: int) -> bool:
        while len(self.buf) - self.off < n:
            if self.eof:
                return False
            chunk = self.f.read(max(CHUNK, n))
            if not chunk:
                self.eof = True
                return False
            self.buf = self.buf[self.off :] + chunk
            self.off = 0
        return True

    def at_end(self) -> bool:
        return not self.need(1)


def read_pcap(f: BinaryIO, head: bytes, stats: ReadStats, name: str = "") -> Iterator[Frame]:
    """Records of a libpcap file whose first 4 bytes are `head`, as RawFrame-ordered tuples."""
    buf = head + f.read(CHUNK)
    if len(buf) < 24:
        stats.weird("not_a_capture")
        return
    endian, scale = PCAP_MAGICS[bytes(buf[0:4])]
    _, _, _, _, snaplen, linktype = struct.unpack_from(endian + "HHiIII", buf, 4)
    linktype &= 0x0FFFFFFF  # upper bits: FCS length flags
    off = 24
    unpack = struct.Struct(endian + "IIII").unpack_from
    limit = max(snaplen, MAX_RECORD) if snaplen else MAX_RECORD
    read = f.read
    n = 0
    eof = False
    size = len(buf)
    while True:
        if size - off < 16:
            if not eof:
                chunk = read(CHUNK)
                if chunk:
                    buf = buf[off:] + chunk
                    off = 0
                    size = len(buf)
                    continue
                eof = True
            if size - off > 0:
                stats.weird("pcap_truncated_record")
                stats.truncated = True
            return
        sec, frac, incl, orig = unpack(buf, off)
        end = off + 16 + incl
        if end > size:
            if incl > limit:
                stats.weird("pcap_oversized_record")
                stats.truncated = True
                return
            if not eof:
                chunk = read(max(CHUNK, incl + 16))
                if chunk:
                    buf = buf[off:] + chunk
                    off = 0
                    size = len(buf)
                    continue
                eof = True
            if snaplen and incl > snaplen:
                stats.weird("pcap_oversized_record")
            stats.weird("pcap_truncated_record")
            stats.truncated = True
            return
        if incl > limit:
            stats.weird("pcap_oversized_record")
            stats.truncated = True
            return
        data = buf[off + 16 : end]
        off = end
        if incl == 0:
            stats.weird("zero_length_record")
            continue
        if incl > snaplen and snaplen:
            stats.weird("record_exceeds_snaplen")
        n += 1
        yield sec + frac * scale, linktype, data, orig, n, name, 0


def _resolution(value: int) -> float:
    return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value


def _idb(body: bytes, e: str) -> tuple[int, int, float, int]:
    """(linktype, snaplen, ts resolution, ts offset) of an Interface Description Block body."""
    linktype, _, snaplen = struct.unpack_from(e + "HHI", body, 0)
    resol, offset = 1e-6, 0
    off = 8
    while off + 4 <= len(body):
        code, length = struct.unpack_from(e + "HH", body, off)
        value = body[off + 4 : off + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            resol = _resolution(value[0])
        elif code == 14 and length >= 8:
            offset = struct.unpack_from(e + "q", value, 0)[0]
        off += 4 + ((length + 3) & ~3)
    return linktype, snaplen, resol, offset


def read_pcapng(f: BinaryIO, head: bytes, stats: ReadStats, name: str = "") -> Iterator[Frame]:
    """Packets of a pcapng file (every section, every interface), as RawFrame-ordered tuples."""
    n = 0
    b = _Buffer(f, head)
    e = "<"
    ifaces: list[tuple[int, int, float, int]] = []
    last_ts = 0.0
    while True:
        if not b.need(12):
            if len(b.buf) - b.off > 0:
                stats.weird("pcapng_truncated_block")
                stats.truncated = True
            return
        raw_type = bytes(b.buf[b.off : b.off + 4])
        if raw_type == PCAPNG_MAGIC:
            bom = bytes(b.buf[b.off + 8 : b.off + 12])
            if bom == b"\x4d\x3c\x2b\x1a":
                e = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                e = ">"
            else:
                stats.weird("pcapng_bad_byte_order_magic")
                stats.truncated = True
                return
            ifaces = []
        btype, blen = struct.unpack_from(e + "II", b.buf, b.off)
        if blen < 12 or blen % 4:
            stats.weird("pcapng_bad_block_length")
            stats.truncated = True
            return
        if blen > MAX_BLOCK:
            stats.weird("pcapng_oversized_block")
            stats.truncated = True
            return
        if not b.need(blen):
            stats.weird("pcapng_truncated_block")
            stats.truncated = True
            return
        body = b.buf[b.off + 8 : b.off + blen - 4]
        b.off += blen
        if btype == 6:  # Enhanced Packet Block
            if len(body) < 20:
                stats.weird("pcapng_bad_epb")
                continue
            iface, hi, lo, caplen, orig = struct.unpack_from(e + "IIIII", body, 0)
            if iface >= len(ifaces):
                stats.weird("pcapng_unknown_interface")
                continue
            linktype, _, resol, tsoff = ifaces[iface]
            if caplen > len(body) - 20:
                stats.weird("pcapng_bad_epb")
                caplen = len(body) - 20
            if caplen == 0:
                stats.weird("zero_length_record")
                continue
            ts = ((hi << 32) | lo) * resol + tsoff
            if 0.0 <= ts < MAX_TS:
                last_ts = ts
            else:
                stats.weird("timestamp_out_of_range")
            n += 1
            yield last_ts, linktype, body[20 : 20 + caplen], orig, n, name, iface
        elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
            if not ifaces or len(body) < 4:
                stats.weird("pcapng_bad_spb")
                continue
            orig = struct.unpack_from(e + "I", body, 0)[0]
            linktype, snaplen, _, _ = ifaces[0]
            caplen = min(orig, len(body) - 4, snaplen or MAX_RECORD)
            if caplen == 0:
                stats.weird("zero_length_record")
                continue
            n += 1
            yield last_ts, linktype, body[4 : 4 + caplen], orig, n, name, 0
        elif btype == 2:  # obsolete Packet Block
            if len(body) < 20:
                stats.weird("pcapng_bad_packet_block")
                continue
            iface, _, hi, lo, caplen, orig = struct.unpack_from(e + "HHIIII", body, 0)
            if iface >= len(ifaces):
                stats.weird("pcapng_unknown_interface")
                continue
            linktype, _, resol, tsoff = ifaces[iface]
            caplen = min(caplen, len(body) - 20)
            ts = ((hi << 32) | lo) * resol + tsoff
            if 0.0 <= ts < MAX_TS:
                last_ts = ts
            else:
                stats.weird("timestamp_out_of_range")
            if caplen:
                n += 1
                yield last_ts, linktype, body[20 : 20 + caplen], orig, n, name, iface
        elif btype == 1:  # Interface Description Block
            try:
                ifaces.append(_idb(body, e))
            except struct.error:
                stats.weird("pcapng_bad_idb")
                ifaces.append((1, 0, 1e-6, 0))
        # section headers were handled above; other blocks (name resolution, statistics...) skipped
