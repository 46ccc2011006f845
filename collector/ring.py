"""A TPACKET_V3 receive ring on an AF_PACKET socket (packet(7) PACKET_RX_RING + mmap), as libpcap has it.

Why: a `recvmsg` per frame costs a syscall, the parsing of its control messages and a queue hand-off
per frame, in a reader thread that shares the GIL with the pipeline; at 100,000 frames/s that thread
and its queue lost frames (issue 15).  With the ring the kernel writes frames into blocks of memory
this process has mapped; a block is handed over whole once full or `RETIRE_MS` after its first frame
(the kernel "retires" it), its frames are read from the mapping with no syscall per frame, and the
block is given back.  Frames wait in the ring, not in a Python queue: while the pipeline is busy
(a flush, a burst) the kernel keeps filling the other blocks, and drops (counted in
PACKET_STATISTICS tp_drops, collector.live.kernel_drops) only when every block is waiting for us.

The layouts below are the kernel's, from include/uapi/linux/if_packet.h (native byte order, the
kernel's and ours):

    struct tpacket_req3 { u32 tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr,
                          tp_retire_blk_tov, tp_sizeof_priv, tp_feature_req_word; }
    struct tpacket_block_desc { u32 version; u32 offset_to_priv;
        struct tpacket_hdr_v1 { u32 block_status; u32 num_pkts; u32 offset_to_first_pkt; u32 blk_len;
                                aligned_u64 seq_num; struct tpacket_bd_ts ts_first_pkt, ts_last_pkt; } }
    struct tpacket3_hdr { u32 tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status;
                          u16 tp_mac, tp_net;
                          struct tpacket_hdr_variant1 { u32 tp_rxhash, tp_vlan_tci;
                                                        u16 tp_vlan_tpid, tp_padding; } hv1;
                          u8 tp_padding[8]; }

A block is owned by the kernel while its block_status is TP_STATUS_KERNEL (0) and by us once the
kernel set TP_STATUS_USER; its num_pkts packets start at offset_to_first_pkt, each tpacket3_hdr
giving the offset of the next (tp_next_offset), the frame at tp_mac, tp_snaplen bytes of its
tp_len, the kernel's receive time (tp_sec, tp_nsec) and, when tp_status has TP_STATUS_VLAN_VALID,
the 802.1Q tag the NIC or the kernel stripped (hv1).  Writing TP_STATUS_KERNEL back gives the block
back.  The blocks are read in ring order, as the kernel fills them.
"""

from __future__ import annotations

import errno
import mmap
import os
import select
import socket
import struct
from typing import Any

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V3 = 2
TPACKET_ALIGNMENT = 16
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1 << 0
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6

REQ3 = struct.Struct("=7I")
"""struct tpacket_req3."""
BLOCK_HDR = struct.Struct("=III")
"""block_status, num_pkts, offset_to_first_pkt of a struct tpacket_block_desc, at BLOCK_HDR_OFFSET."""
BLOCK_HDR_OFFSET = 8
"""After tpacket_block_desc's version and offset_to_priv."""
BLOCK_DESC_SIZE = 48
"""sizeof(struct tpacket_block_desc): where a block's first packet starts when there is no private area."""
PKT_HDR = struct.Struct("=6I2H2IH")
"""struct tpacket3_hdr up to hv1.tp_vlan_tpid: next offset, sec, nsec, snaplen, len, status, mac, net,
rxhash, vlan tci, vlan tpid."""
PKT_HDR_SIZE = 48
"""sizeof(struct tpacket3_hdr)."""
PKT_HEAD = struct.Struct("=6IH")
"""The start of PKT_HDR, through tp_mac: what every frame needs (reading no more costs a third less)."""
PKT_VLAN = struct.Struct("=IH")
"""hv1.tp_vlan_tci and hv1.tp_vlan_tpid, at PKT_VLAN_OFFSET: read only when TP_STATUS_VLAN_VALID says so."""
PKT_VLAN_OFFSET = 32

BLOCK_SIZE = 1 << 20
"""Bytes per block.  A block holds about 1,300 frames of a hospital mix (~700 bytes each): one
pipeline batch, handed over once, and any frame up to 64 KiB fits in one."""
RING_BYTES = 512 << 20
"""Default ring memory of a capture, split over its workers' sockets (`ring_share`).  It must hold what
arrives while the workers do not read: their own flush, and above all the merging process storing and
analysing each flush period (4 to 6 s at 100,000 frames/s, on the cores the workers need).  Measured
with make bench's live-no-loss run (the 1M hospital mix at 100,000 frames/s for 30 s, 2 workers, 2
shared vCPUs): 128 MiB a socket lost 9 to 47 % in the kernel (the ring full), 256 and 512 MiB a
socket lost nothing.  Frames are spread over the workers, so the budget is the capture's: 256 MiB
each for 2 workers, 512 MiB for one (whose pipeline also stores and analyses), never less than
MIN_SOCKET_RING_BYTES.  The kernel allocates it once and it is never swapped out;
MEDTAP_CAPTURE_RING_MIB (or capture's `ring_bytes`) changes it."""
MIN_SOCKET_RING_BYTES = 64 << 20
"""A socket's ring however many workers share the budget: 128 MiB at 100,000 frames/s is ~1.7 s."""
RETIRE_MS = 50
"""The kernel hands over a block that is not full this many milliseconds after its first frame: a
quiet link's frames reach the pipeline within it, and the stop's drain waits for it at most."""
Frame = tuple[float, int, bytes, int, int, str, int]
"""A frame as the pipeline takes it: (ts, linktype 1, frame, wire length, frame number, interface, 0)."""
FRAME_SIZE = 2048
"""tp_frame_size: only checked by the kernel for TPACKET_V3 (frames are packed in a block, each as
long as it is); any aligned size dividing the block will do."""


def ring_share(total: int, workers: int) -> int:
    """Each of `workers` sockets' ring out of a capture's `total` bytes: an equal share, at least
    MIN_SOCKET_RING_BYTES unless the total is smaller (0 stays 0: no ring)."""
    return max(total // max(1, workers), min(total, MIN_SOCKET_RING_BYTES))


RING_MIB_ENV = "MEDTAP_CAPTURE_RING_MIB"
"""Environment variable setting a capture's ring memory in MiB (`medtap capture --ring-mib` reads it too)."""


def ring_bytes_default() -> int:
    """A capture's ring memory: RING_BYTES, or MEDTAP_CAPTURE_RING_MIB MiB when set (0: no ring, recvmsg)."""
    value = os.environ.get(RING_MIB_ENV, "").strip()
    if not value:
        return RING_BYTES
    if not value.isdigit():
        raise ValueError(f"{RING_MIB_ENV} is a number of MiB (0: no ring), not {value!r}")
    return int(value) << 20


def tagged(data: bytes, length: int, status: int, tci: int, tpid: int) -> tuple[bytes, int]:
    """(frame, original length) with the 802.1Q tag the kernel stripped put back, if it says it did.

    The kernel reports a stripped tag with TP_STATUS_VLAN_VALID (in PACKET_AUXDATA for recvmsg, in
    tpacket3_hdr for the ring); its TPID is 0x8100 unless TP_STATUS_VLAN_TPID_VALID gives another
    (802.1ad 0x88a8).  The original length grows by the tag's 4 bytes.
    """
    if status & TP_STATUS_VLAN_VALID and len(data) >= 12:
        tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID and tpid else 0x8100
        return data[:12] + struct.pack(">HH", tpid, tci & 0xFFFF) + data[12:], length + 4
    return data, length


def read_block(buf: Any, start: int, end: int, first_no: int, step: int, iface: str,
               snaplen: int) -> list[Frame]:
    """The frames of the block at buf[start:end], as pipeline tuples (ts, 1, frame, wirelen, no, iface, 0).

    Frame numbers start at `first_no` and step by `step`.  A frame is cut at `snaplen` bytes.  The
    walk never reads past the block's end: a header that would not fit in it ends the walk, a frame
    that would is cut (the kernel never writes either).  It runs once per frame: 0.55 us a frame on
    the hospital mix (1 MiB blocks of 1,315 frames), beside 5 us in the pipeline.
    """
    _, count, off = BLOCK_HDR.unpack_from(buf, start + BLOCK_HDR_OFFSET)
    head, vlan = PKT_HEAD.unpack_from, PKT_VLAN.unpack_from
    vlan_valid, limit = TP_STATUS_VLAN_VALID, end - PKT_HDR_SIZE
    out: list[Frame] = []
    append = out.append
    pos = start + off
    n = first_no
    for _ in range(count):
        if pos > limit:
            break
        nxt, sec, nsec, caplen, length, status, mac = head(buf, pos)
        first = pos + mac
        last = first + (caplen if caplen <= snaplen else snaplen)
        data = buf[first: last if last <= end else end]
        if status & vlan_valid:
            tci, tpid = vlan(buf, pos + PKT_VLAN_OFFSET)
            data, length = tagged(data, length, status, tci, tpid)
        append((sec + nsec * 1e-9, 1, data, length, n, iface, 0))
        n += step
        if not nxt:
            break
        pos += nxt
    return out


class Ring:
    """The mapped TPACKET_V3 ring of one bound AF_PACKET socket, read block after block.

    `ready(timeout)` waits (poll(2)) for the next block to be ours; `read` takes its frames and gives
    it back.  A socket error (the interface went down or away: ENETDOWN) is kept in `error` and ends
    the wait.  `close` unmaps the ring (the socket is its owner's to close).
    """

    def __init__(self, sock: socket.socket, size: int, *, block_size: int = BLOCK_SIZE,
                 retire_ms: int = RETIRE_MS, snaplen: int = 65535) -> None:
        if block_size % mmap.PAGESIZE or block_size % FRAME_SIZE:
            raise ValueError(f"ring block size {block_size} is not a multiple of the page and frame sizes")
        self.sock = sock
        self.block_size = block_size
        self.blocks = max(2, size // block_size)
        self.retire_ms = retire_ms
        self.snaplen = snaplen
        self.error: OSError | None = None
        frames = block_size // FRAME_SIZE * self.blocks
        if frames > 0xFFFFFFFF:  # tpacket_req3 counts in u32: the kernel would never get such a request
            raise OSError(errno.EINVAL, f"a ring of {size >> 20} MiB is too large")
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        REQ3.pack(block_size, self.blocks, FRAME_SIZE, frames, retire_ms, 0, 0))
        try:
            self.map = mmap.mmap(sock.fileno(), block_size * self.blocks, mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:  # no ring after all: the kernel frees it, and frames go to recvmsg again
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, REQ3.pack(0, 0, 0, 0, 0, 0, 0))
            raise
        self.block = 0
        self.poller = select.poll()
        self.poller.register(sock.fileno(), select.POLLIN | select.POLLERR)

    @property
    def size(self) -> int:
        return self.block_size * self.blocks

    def _ours(self) -> bool:
        status: int = BLOCK_HDR.unpack_from(self.map, self.block * self.block_size + BLOCK_HDR_OFFSET)[0]
        return bool(status & TP_STATUS_USER)

    def ready(self, timeout: float) -> bool:
        """Whether the next block is ours, waiting up to `timeout` seconds for the kernel to retire it."""
        if self._ours():
            return True
        if self.error is not None:
            return False
        for _, events in self.poller.poll(max(0, int(timeout * 1000))):
            if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code or not events & select.POLLIN:  # else poll would return at once, again and again
                    self.error = OSError(code, os.strerror(code) if code else "capture socket closed")
        return self._ours()

    def read(self, first_no: int, step: int, iface: str) -> list[Frame]:
        """The next block's frames (see `read_block`); the block goes back to the kernel.  After `ready`."""
        start = self.block * self.block_size
        frames = read_block(self.map, start, start + self.block_size, first_no, step, iface, self.snaplen)
        struct.pack_into("=I", self.map, start + BLOCK_HDR_OFFSET, TP_STATUS_KERNEL)
        self.block = (self.block + 1) % self.blocks
        return frames

    def close(self) -> None:
        self.map.close()
