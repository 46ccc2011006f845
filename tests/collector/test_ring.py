"""The TPACKET_V3 ring's block walking (collector.ring), on blocks laid out byte by byte as the kernel does.

A block is a tpacket_block_desc (status, packet count, offset of the first packet) followed by
packets, each a tpacket3_hdr (offset of the next, time, snap and wire lengths, status, frame offset,
VLAN tag) and its frame.  The last test maps a real ring on the loopback interface (root only).
"""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from collector.ring import (
    BLOCK_DESC_SIZE,
    BLOCK_HDR,
    BLOCK_HDR_OFFSET,
    MIN_SOCKET_RING_BYTES,
    PKT_HDR,
    PKT_HDR_SIZE,
    PKT_HEAD,
    PKT_VLAN,
    PKT_VLAN_OFFSET,
    RING_BYTES,
    TP_STATUS_KERNEL,
    TP_STATUS_USER,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    Ring,
    read_block,
    ring_bytes_default,
    ring_share,
    tagged,
)
from tests import needs

MAC_OFFSET = 82
"""Where the kernel puts an Ethernet frame after its tpacket3_hdr and sockaddr_ll (IP header 16-aligned)."""


def _frame(i: int) -> bytes:
    return bytes(Ether(src=f"02:00:00:00:00:{i:02x}", dst="02:00:00:00:00:ff")
                 / IP(src=f"192.0.2.{i}", dst="192.0.2.200") / UDP(sport=40000 + i, dport=7001)
                 / (b"x" * (10 * i)))


def _block(packets: list[dict[str, int | bytes]], size: int = 8192) -> bytearray:
    """A retired block holding `packets` (frame, and optional sec, nsec, len, status, tci, tpid, snaplen)."""
    buf = bytearray(size)
    BLOCK_HDR.pack_into(buf, BLOCK_HDR_OFFSET, TP_STATUS_USER, len(packets), BLOCK_DESC_SIZE)
    pos = BLOCK_DESC_SIZE
    for i, p in enumerate(packets):
        frame = p["frame"]
        assert isinstance(frame, bytes)
        length = (MAC_OFFSET + len(frame) + 15) & ~15
        nxt = 0 if i == len(packets) - 1 else length
        PKT_HDR.pack_into(buf, pos, nxt, p.get("sec", 1_700_000_000 + i), p.get("nsec", 500_000_000),
                          p.get("snaplen", len(frame)), p.get("len", len(frame)),
                          p.get("status", TP_STATUS_USER), MAC_OFFSET, MAC_OFFSET + 14, 0,
                          p.get("tci", 0), p.get("tpid", 0))
        buf[pos + MAC_OFFSET: pos + MAC_OFFSET + len(frame)] = frame
        pos += length
    return buf


def test_layouts_are_the_kernels() -> None:
    """Sizes and offsets of include/uapi/linux/if_packet.h on Linux (x86-64 and arm64 alike)."""
    assert PKT_HDR.size == 38 and PKT_HDR_SIZE == 48  # up to hv1.tp_vlan_tpid; then tp_padding (2 + 8)
    assert BLOCK_HDR_OFFSET + BLOCK_HDR.size == 20 and BLOCK_DESC_SIZE == 48
    fields = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)  # the per-frame reads are parts of the one layout
    packed = PKT_HDR.pack(*fields)
    assert PKT_HEAD.unpack_from(packed) == fields[:7]
    assert PKT_VLAN.unpack_from(packed, PKT_VLAN_OFFSET) == fields[9:]


def test_a_block_is_walked_into_pipeline_tuples_in_order() -> None:
    frames = [_frame(i) for i in range(1, 4)]
    buf = _block([{"frame": f, "nsec": 250_000_000 * i} for i, f in enumerate(frames)])
    out = read_block(buf, 0, len(buf), first_no=5, step=2, iface="span0", snaplen=65535)
    assert [o[2] for o in out] == frames
    assert [o[0] for o in out] == [1_700_000_000.0, pytest.approx(1_700_000_001.25),
                                   pytest.approx(1_700_000_002.5)]
    assert [o[4] for o in out] == [5, 7, 9]  # this worker's frame numbers
    assert all(o[1] == 1 and o[3] == len(o[2]) and o[5] == "span0" and o[6] == 0 for o in out)


def test_a_block_at_an_offset_of_the_mapping() -> None:
    """Blocks follow one another in the ring: a block is read from its own start, not the mapping's."""
    first = _block([{"frame": _frame(1)}])
    second = _block([{"frame": _frame(2)}, {"frame": _frame(3)}])
    ring = bytes(first + second)
    out = read_block(ring, len(first), len(ring), first_no=1, step=1, iface="t", snaplen=65535)
    assert [o[2] for o in out] == [_frame(2), _frame(3)]


def test_vlan_tag_is_put_back_from_the_packet_header() -> None:
    """The kernel strips 802.1Q tags into hv1: TPID 0x8100 unless TP_STATUS_VLAN_TPID_VALID gives another."""
    frame = _frame(1)
    buf = _block([
        {"frame": frame, "status": TP_STATUS_USER | TP_STATUS_VLAN_VALID, "tci": 0x2000 | 120},
        {"frame": frame, "status": TP_STATUS_USER | TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
         "tci": 7, "tpid": 0x88A8},
        {"frame": frame, "tci": 99},  # a tci without TP_STATUS_VLAN_VALID is not a tag
    ])
    tagged_, ad, plain = read_block(buf, 0, len(buf), first_no=1, step=1, iface="t", snaplen=65535)
    assert tagged_[2] == frame[:12] + b"\x81\x00\x20\x78" + frame[12:] and tagged_[3] == len(frame) + 4
    assert ad[2][12:16] == b"\x88\xa8\x00\x07" and ad[3] == len(frame) + 4
    assert plain[2] == frame and plain[3] == len(frame)


def test_snaplen_cuts_and_the_wire_length_is_kept() -> None:
    frame = _frame(9)
    buf = _block([{"frame": frame, "len": len(frame) + 1000}])  # the kernel kept less than was on the wire
    (one,) = read_block(buf, 0, len(buf), first_no=1, step=1, iface="t", snaplen=40)
    assert one[2] == frame[:40] and one[3] == len(frame) + 1000


def test_a_header_past_the_block_ends_the_walk() -> None:
    """A count or next offset pointing out of the block never reads past it (the kernel never writes one)."""
    frames = [_frame(1), _frame(2)]
    buf = _block([{"frame": f} for f in frames], size=512)
    BLOCK_HDR.pack_into(buf, BLOCK_HDR_OFFSET, TP_STATUS_USER, 50, BLOCK_DESC_SIZE)  # claims 50 packets
    second = BLOCK_DESC_SIZE + ((MAC_OFFSET + len(frames[0]) + 15) & ~15)
    struct.pack_into("=I", buf, second, 4000)  # the second packet's next one: far away
    out = read_block(buf, 0, len(buf), first_no=1, step=1, iface="t", snaplen=65535)
    assert [o[2] for o in out] == frames
    struct.pack_into("=I", buf, second + 12, 60_000)  # the second frame's snap length: past the block's end
    out = read_block(buf, 0, len(buf), first_no=1, step=1, iface="t", snaplen=65535)
    assert out[1][2] == bytes(buf[second + MAC_OFFSET:])  # cut at the end, the next block not read
    BLOCK_HDR.pack_into(buf, BLOCK_HDR_OFFSET, TP_STATUS_USER, 3, 600)  # first packet past the end
    assert read_block(buf, 0, len(buf), first_no=1, step=1, iface="t", snaplen=65535) == []


def test_tagged_is_the_one_vlan_restore() -> None:
    data = b"\x02" * 12 + b"\x08\x00" + b"\x45" * 20
    assert tagged(data, 34, TP_STATUS_VLAN_VALID, 5, 0) == (data[:12] + b"\x81\x00\x00\x05" + data[12:], 38)
    assert tagged(data, 34, 0, 0x0005, 0) == (data, 34)
    assert tagged(b"\x02" * 6, 6, TP_STATUS_VLAN_VALID, 5, 0) == (b"\x02" * 6, 6)  # too short to hold a tag


def test_ring_size_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDTAP_CAPTURE_RING_MIB", raising=False)
    assert ring_bytes_default() == RING_BYTES == 512 << 20
    monkeypatch.setenv("MEDTAP_CAPTURE_RING_MIB", "256")
    assert ring_bytes_default() == 256 << 20
    monkeypatch.setenv("MEDTAP_CAPTURE_RING_MIB", "0")
    assert ring_bytes_default() == 0  # no ring: recvmsg
    for bad in ("-1", "1.5", "lots"):
        monkeypatch.setenv("MEDTAP_CAPTURE_RING_MIB", bad)
        with pytest.raises(ValueError, match="MEDTAP_CAPTURE_RING_MIB"):
            ring_bytes_default()


def test_the_capture_budget_is_shared_by_its_workers_sockets() -> None:
    """Frames are spread over the workers: each socket gets a share, at least 64 MiB unless asked for less."""
    assert ring_share(RING_BYTES, 1) == 512 << 20
    assert ring_share(RING_BYTES, 2) == 256 << 20
    assert ring_share(RING_BYTES, 16) == MIN_SOCKET_RING_BYTES == 64 << 20
    assert ring_share(16 << 20, 1) == ring_share(16 << 20, 4) == 16 << 20  # a small budget stays small
    assert ring_share(0, 2) == 0  # no ring


def test_a_ring_too_large_for_the_kernel_request_is_refused_before_asking() -> None:
    """tpacket_req3 counts frames in 32 bits: such a ring is an OSError (the capture falls back), no crash."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        with pytest.raises(OSError, match="too large"):
            Ring(sock, 1 << 53)


def test_a_real_ring_on_loopback_hands_over_blocks_and_takes_them_back() -> None:
    """Kernel and ring agree: a UDP datagram sent on lo is in the next block, with the kernel's time;
    once read, the block is the kernel's again and the next one is waited for."""
    if os.geteuid() != 0:
        needs.missing("root (AF_PACKET)", "run the suite as root, as CI does")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    try:
        sock.bind(("lo", 0))
        ring = Ring(sock, 4 << 20, block_size=1 << 20, retire_ms=20)
        try:
            assert ring.blocks == 4 and not ring.ready(0)
            marker = os.urandom(16)
            before = time.time()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(marker, ("127.0.0.1", 9))
            frames = []
            deadline = time.monotonic() + 5
            while not any(marker in f[2] for f in frames) and time.monotonic() < deadline:
                if ring.ready(0.5):
                    block = ring.block
                    frames += ring.read(len(frames) + 1, 1, "lo")
                    status = BLOCK_HDR.unpack_from(ring.map, block * ring.block_size + BLOCK_HDR_OFFSET)[0]
                    assert status == TP_STATUS_KERNEL and ring.block == (block + 1) % ring.blocks
            ours = [f for f in frames if marker in f[2]]
            assert ours, "the datagram never reached the ring"
            ts, linktype, data, wirelen, _, iface, _ = ours[0]
            assert before - 1 <= ts <= time.time() and linktype == 1 and iface == "lo"
            assert wirelen == len(data)
            assert data.endswith(marker) and data[12:14] == b"\x08\x00"
            assert ring.error is None
        finally:
            ring.close()
    finally:
        sock.close()
