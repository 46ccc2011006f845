"""Deterministic generator of hostile capture files (issue: hardening).

`build(folder)` writes every case and returns what medtap must make of it:
the exit status of `medtap replay` and the frames it must keep.  Files are made
with struct (not scapy's writer) so that the damage is exactly where we want it.
Run it by hand with `python -m tests.hostile.corpus OUT_DIR`.
"""

from __future__ import annotations

import gzip
import random
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

T0 = 1767258000  # 2026-01-01 09:00 UTC


@dataclass(frozen=True)
class Expect:
    exit_code: int
    min_frames: int
    max_frames: int | None = None
    truncated: bool = False
    note: str = ""


def _eth_frames(n: int, payload: int = 32) -> list[bytes]:
    return [
        bytes(
            Ether(src=f"00:00:5e:00:53:{i:02x}", dst="00:00:5e:00:53:ff")
            / IP(src=f"10.0.0.{i + 1}", dst="10.0.0.254", id=i)
            / UDP(sport=40000 + i, dport=9999)
            / Raw(b"x" * payload)
        )
        for i in range(n)
    ]


def _pcap(frames: list[bytes], *, linktype: int = 1, snaplen: int = 65535, nano: bool = False, big: bool = False) -> bytes:
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, frame in enumerate(frames):
        frac = i * (1000 if nano else 1)
        out.append(struct.pack(e + "IIII", T0 + i, frac, len(frame), len(frame)) + frame)
    return b"".join(out)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def _shb() -> bytes:
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def _idb(linktype: int) -> bytes:
    return _block(0x00000001, struct.pack("<HHI", linktype, 0, 65535))


def _epb(iface: int, ts_us: int, frame: bytes) -> bytes:
    return _block(0x00000006, struct.pack("<IIIII", iface, ts_us >> 32, ts_us & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def cases() -> dict[str, tuple[bytes, Expect]]:
    """File name -> (bytes, expectation), built in memory, deterministically."""
    rng = random.Random(9)
    table: dict[str, tuple[bytes, Expect]] = {}
    good = _eth_frames(4)

    table["ok-little-endian-us.pcap"] = (_pcap(good), Expect(0, 4, 4))
    table["ok-big-endian-ns.pcap"] = (_pcap(good, nano=True, big=True), Expect(0, 4, 4))
    whole = _pcap(good)
    table["truncated-mid-file-header.pcap"] = (whole[:10], Expect(4, 0, 0, note="not even a header"))
    table["truncated-mid-record-header.pcap"] = (whole[: 24 + 3 * (16 + len(good[0])) + 7], Expect(3, 3, 3, True))
    table["truncated-mid-record.pcap"] = (whole[: 24 + 3 * (16 + len(good[0])) + 16 + 20], Expect(3, 3, 3, True))
    # A record whose length is larger than the snaplen and than the rest of the file.
    bad_len = bytearray(_pcap(good[:2], snaplen=128))
    struct.pack_into("<I", bad_len, 24 + 16 + len(good[0]) + 8, 10_000_000)
    table["record-longer-than-file.pcap"] = (bytes(bad_len), Expect(3, 1, 1, True))
    zero = _pcap([good[0], b"", good[1]])
    table["zero-length-record.pcap"] = (zero, Expect(0, 2, 3))
    table["unsupported-linktype.pcap"] = (_pcap(good, linktype=147), Expect(0, 4, 4, note="counted, not decoded"))
    table["random-bytes.pcap"] = (bytes(rng.getrandbits(8) for _ in range(4096)), Expect(4, 0, 0))
    table["empty.pcap"] = (b"", Expect(4, 0, 0))
    table["gzip.pcap.gz"] = (gzip.compress(_pcap(good), mtime=0), Expect(0, 4, 4))

    raw_ip = bytes(IP(src="10.0.0.9", dst="10.0.0.254") / UDP(sport=1, dport=2) / Raw(b"y" * 8))
    ng_multi = _shb() + _idb(1) + _idb(101) + _epb(0, T0 * 10**6, good[0]) + _epb(1, T0 * 10**6 + 1, raw_ip)
    table["pcapng-two-linktypes.pcapng"] = (ng_multi, Expect(0, 2, 2))
    unknown = _shb() + _idb(1) + _block(0x0BAD0BAD, b"junk" * 5) + _epb(0, T0 * 10**6, good[0]) + _epb(0, T0 * 10**6 + 5, good[1])
    table["pcapng-unknown-block.pcapng"] = (unknown, Expect(0, 2, 2))
    oversized = bytearray(_shb() + _idb(1) + _epb(0, T0 * 10**6, good[0]) + _epb(0, T0 * 10**6 + 5, good[1]))
    struct.pack_into("<I", oversized, len(_shb()) + len(_idb(1)) + len(_epb(0, 0, good[0])) + 4, 0x7FFFFFF0)
    table["pcapng-oversized-block.pcapng"] = (bytes(oversized), Expect(3, 1, 1, True))
    corrupt = bytearray(_shb() + _idb(1) + _epb(0, T0 * 10**6, good[0]) + _epb(0, T0 * 10**6 + 5, good[1]))
    struct.pack_into("<I", corrupt, len(_shb()) + len(_idb(1)) + len(_epb(0, 0, good[0])) + 4, 13)  # not a multiple of 4
    table["pcapng-corrupt-block-length.pcapng"] = (bytes(corrupt), Expect(3, 1, 1, True))

    big = bytes(
        Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=5000, dport=5001)
        / Raw(b"J" * 8900)
    )
    table["jumbo-frames.pcap"] = (_pcap([big, big]), Expect(0, 2, 2))
    frags = [bytes(Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02") / f) for f in fragment(
        IP(src="10.0.0.1", dst="10.0.0.2", id=77) / UDP(sport=5000, dport=5001) / Raw(b"F" * 3000), fragsize=1000
    )]
    table["ip-fragments.pcap"] = (_pcap(frags), Expect(0, len(frags), len(frags)))
    seg = Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02") / IP(src="10.0.0.1", dst="10.0.0.2")
    overlap = [
        bytes(seg / TCP(sport=40000, dport=80, flags="S", seq=100)),
        bytes(seg / TCP(sport=40000, dport=80, flags="PA", seq=101) / Raw(b"GET / HTTP/1.1\r\n")),
        bytes(seg / TCP(sport=40000, dport=80, flags="PA", seq=105) / Raw(b"EVIL OVERLAP\r\n\r\n")),
    ]
    table["overlapping-tcp.pcap"] = (_pcap(overlap), Expect(0, 3, 3))
    qinq = [
        bytes(Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02") / Dot1AD(vlan=100) / Dot1Q(vlan=120)
              / IP(src="10.10.120.5", dst="10.10.120.6") / UDP(sport=1, dport=2)),
        bytes(Ether(src="00:00:5e:00:53:01", dst="00:00:5e:00:53:02") / Dot1Q(vlan=10) / Dot1Q(vlan=20) / Dot1Q(vlan=30)
              / IP(src="10.10.120.5", dst="10.10.120.6") / UDP(sport=1, dport=2)),
    ]
    table["vlan-stacking.pcap"] = (_pcap(qinq), Expect(0, 2, 2))

    return table


def build(folder: Path) -> dict[str, Expect]:
    """Write the corpus into `folder`; return file name -> expectation."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Expect] = {}
    for name, (data, expect) in cases().items():
        (folder / name).write_bytes(data)
        out[name] = expect
    return out


if __name__ == "__main__":
    for file_name, expectation in build(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile")).items():
        print(f"{file_name:40s} exit={expectation.exit_code} frames>={expectation.min_frames}")
