"""Live capture on a SPAN port: raw AF_PACKET socket, TPACKET_V3 receive ring, pipeline.

Why raw AF_PACKET and not scapy's sniff(): scapy builds a packet object per frame (a few
thousand frames/s); frames read straight from the kernel go to the fast path as bytes.  The socket
is SOCK_RAW/ETH_P_ALL (packet(7)), the interface is put in promiscuous mode with
PACKET_ADD_MEMBERSHIP/PACKET_MR_PROMISC, an optional BPF filter is compiled by libpcap (through
scapy's `compile_filter`; tcpdump is not needed) and attached with SO_ATTACH_FILTER.  The kernel
strips 802.1Q tags (TP_STATUS_VLAN_VALID): the tag is put back so records keep their VLAN.

The frames are read from a TPACKET_V3 ring mapped in the process (collector.ring): the kernel fills
its blocks, the caller's thread takes a whole block at a time and runs the pipeline over it, with no
syscall per frame and no reader thread (issue 15: a recvmsg thread and its queue lost 14 % at
100,000 frames/s).  The pipeline flushes every `flush_interval` seconds of wall-clock time.
SIGINT/SIGTERM (when called from the main thread), `duration` or `stop_event` stop it cleanly: the
blocks the ring holds are decoded, everything seen is flushed.  Kernel drops (the ring full
included) come from getsockopt(PACKET_STATISTICS).  If the ring cannot be set up (an old kernel, a
locked-memory limit) or `ring_bytes` is 0, a reader thread receives one frame per `recvmsg` into a
bounded queue (frames it cannot queue are counted in `queue_drops`; the weird
`capture_ring_unavailable` says why).  With `workers` > 1, each worker process has its own socket
and ring in one PACKET_FANOUT group (hash mode) and its own `Engine`, and the parent merges their
flushes (collector.fanout).
"""

from __future__ import annotations

import ctypes
import logging
import queue
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from collector.pipeline import Pipeline, require_key
from collector.ring import SOL_PACKET, Ring, ring_bytes_default, ring_share, tagged
from collector.schema import CaptureStats
from collector.sinks import Sink

log = logging.getLogger("medtap.capture")

ETH_P_ALL = 0x0003
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_AUXDATA = 8
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
"""socket(7): the kernel's receive time of each frame, as a (seconds, nanoseconds) control message."""
TIMESPEC = struct.Struct("qq")
AUXDATA = struct.Struct("IIIHHHH")
PACKET_FANOUT = 18
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_FLAG_DEFRAG = 0x8000
QUEUE_FRAMES = 200_000
"""Without the ring: frames the reader thread may queue ahead of the pipeline."""
RCVBUF = 64 << 20
"""Without the ring: the socket's receive buffer."""
DRAIN_SECONDS = 10.0
"""At stop, seconds spent at most decoding the frames still in the ring (or the socket's buffer)."""


def compile_bpf(expression: str, snaplen: int = 65535) -> bytes:
    """A `struct sock_fprog`-ready instruction array for `expression` (libpcap syntax, Ethernet)."""
    from scapy.arch.common import compile_filter

    prog = compile_filter(expression, linktype=1)
    return b"".join(
        struct.pack("HBBI", ins.code, ins.jt, ins.jf,
                    ins.k) for ins in (prog.bf_insns[i] for i in range(prog.bf_len))
    )


def open_socket(interface: str, bpf: str | None = None, snaplen: int = 65535) -> tuple[socket.socket, Any]:
    """A promiscuous AF_PACKET socket on `interface` with auxdata (and the filter, if any)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    keep: Any = None
    try:
        if bpf:
            insns = compile_bpf(bpf, snaplen)
            keep = ctypes.create_string_buffer(insns, len(insns))
            fprog = struct.pack("HL", len(insns) // 8, ctypes.addressof(keep))
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        sock.bind((interface, 0))
        ifindex = socket.if_nametoindex(interface)
        mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        # the kernel's time of arrival, not the reader's: with several workers (PACKET_FANOUT) each process
        # reads its socket when it is scheduled, so a reader's clock would reorder frames across workers
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:  # SO_RCVBUFFORCE (root / CAP_NET_ADMIN) passes net.core.rmem_max; else the capped SO_RCVBUF
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            except OSError:
                pass
        sock.settimeout(0.2)
    except Exception:
        sock.close()
        raise
    return sock, keep


def join_fanout(sock: socket.socket, group: int) -> None:
    """Put a bound socket in fanout group `group` (packet(7) PACKET_FANOUT): hash mode, defragmented.

    The kernel hands each frame to one socket of the group by its flow hash (symmetric in the
    addresses and ports, so both directions of a connection reach the same socket), after
    reassembling IP fragments (PACKET_FANOUT_FLAG_DEFRAG) so that fragments follow their flow.
    Frames the socket received before it joined (its bind already made it a listener) are read
    and dropped: the group's other sockets had them too, and the capture is not ready yet.
    """
    mode = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG
    sock.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("I", (group & 0xFFFF) | (mode << 16)))
    discard_queued(sock)


def discard_queued(sock: socket.socket) -> None:
    """Read and drop the frames waiting in the socket's receive queue (before the capture was ready)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65535)
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        sock.settimeout(timeout)


def open_ring(sock: socket.socket, size: int, snaplen: int) -> tuple[Ring | None, str]:
    """The socket's TPACKET_V3 ring (collector.ring) of `size` bytes, or None and why not.

    Frames the socket queued before it had its ring are dropped (the capture is not ready yet: the
    ring is set up before on_ready).  `size` 0 asks for no ring.  When the kernel refuses one (too
    old, locked memory), the capture reads one frame per recvmsg and says so.
    """
    if size <= 0:
        log.info("capture: no ring asked for: one recvmsg per frame")
        return None, ""
    try:
        ring = Ring(sock, size, snaplen=snaplen)
    except OSError as exc:
        log.warning("capture: no TPACKET_V3 receive ring (%s): one recvmsg per frame, through a queue", exc)
        return None, f"TPACKET_V3 ring refused: {exc}"
    discard_queued(sock)
    log.info("capture: TPACKET_V3 receive ring, %d blocks of %d KiB", ring.blocks, ring.block_size >> 10)
    return ring, ""


def kernel_drops(sock: socket.socket) -> int:
    """Frames the kernel dropped since the last call (PACKET_STATISTICS resets on read).

    With a ring the kernel answers a struct tpacket_stats_v3, whose first two fields are those of
    struct tpacket_stats (tp_packets, tp_drops): frames dropped because every block was ours count.
    """
    try:
        _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    except OSError:
        return 0
    return int(drops)


CMSG_BUFFER = socket.CMSG_SPACE(AUXDATA.size) + socket.CMSG_SPACE(TIMESPEC.size)


def restore_vlan(data: bytes, ancdata: list[tuple[int, int, bytes]]) -> tuple[bytes, int | None]:
    """Frame with its 802.1Q tag re-inserted from PACKET_AUXDATA, and the original length."""
    frame, length, _ = unpack_frame(data, ancdata)
    return frame, length


def unpack_frame(data: bytes,
                 ancdata: list[tuple[int, int, bytes]]) -> tuple[bytes, int | None, float | None]:
    """(frame with its 802.1Q tag re-inserted, original length, kernel receive time) from one recvmsg.

    The tag comes from PACKET_AUXDATA (the kernel strips it), the time from SO_TIMESTAMPNS; either is
    None when its control message is missing.
    """
    frame, length, ts = data, None, None
    for level, ctype, cdata in ancdata:
        if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(cdata) >= AUXDATA.size:
            status, wirelen, _, _, _, tci, tpid = AUXDATA.unpack_from(cdata)
            frame, length = tagged(data, wirelen, status, tci, tpid)
        elif level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= TIMESPEC.size:
            sec, nsec = TIMESPEC.unpack_from(cdata)
            ts = sec + nsec * 1e-9
    return frame, length, ts


class _Reader(threading.Thread):
    """Without the ring: a recvmsg loop filling the bounded queue; drops counted when it is full."""

    def __init__(self, sock: socket.socket, frames: queue.Queue[tuple[float, bytes, int]], snaplen: int,
                 stop: threading.Event) -> None:
        super().__init__(name="medtap-capture", daemon=True)
        self.sock, self.frames, self.snaplen, self.stop = sock, frames, snaplen, stop
        self.queue_drops = 0
        self.error: OSError | None = None

    def run(self) -> None:
        recvmsg, put, now = self.sock.recvmsg, self.frames.put_nowait, time.time
        cmsg = CMSG_BUFFER
        try:
            while not self.stop.is_set():
                try:
                    data, ancdata, _, _ = recvmsg(self.snaplen, cmsg)
                except TimeoutError:
                    continue
                except InterruptedError:
                    continue
                frame, length, ts = unpack_frame(data, ancdata)
                try:
                    put((ts or now(), frame, length or len(frame)))
                except queue.Full:
                    self.queue_drops += 1
        except OSError as exc:  # interface gone: stop the capture, report it
            self.error = exc


def _drain(frames: queue.Queue[tuple[float, bytes, int]], first: tuple[float, bytes, int],
           limit: int) -> Iterator[tuple[float, bytes, int]]:
    yield first
    for _ in range(limit):
        try:
            yield frames.get_nowait()
        except queue.Empty:
            return


class Engine:
    """One socket's capture: the socket (in a fanout group or alone), its ring (or reader), its pipeline.

    The caller decides when to `flush` (its own clock, or a parent's order in a fanout worker),
    calls `pump` in between, and `finish` once: what the ring (or the queue) holds is decoded,
    everything seen flushed, and the run's stats returned (with the kernel's and the queue's
    drops).  `error` is the socket's error that ends the capture (the interface went away).  Frame
    numbers start at `first_no` and step by `step`, so that the workers of one capture never share one.
    `ring_bytes`: this socket's ring (None: the whole default budget, collector.ring; 0: no ring).
    """

    def __init__(self, interface: str, sink: Sink, *, bpf: str | None, snaplen: int, flush_interval: float,
                 sensor: str, key: bytes, fanout: int | None = None, first_no: int = 1, step: int = 1,
                 ring_bytes: int | None = None, **options: Any) -> None:
        self.interface = interface
        self.sock, self._filter = open_socket(interface, bpf, snaplen)
        try:
            if fanout is not None:
                join_fanout(self.sock, fanout)
            size = ring_share(ring_bytes_default(), 1) if ring_bytes is None else ring_bytes
            self.ring, self.ring_refused = open_ring(self.sock, size, snaplen)
        except Exception:
            self.sock.close()
            raise
        self.frames: queue.Queue[tuple[float, bytes, int]] = queue.Queue(QUEUE_FRAMES)
        self.reader_stop = threading.Event()
        self.reader = (None if self.ring is not None
                       else _Reader(self.sock, self.frames, snaplen, self.reader_stop))
        self.pipe = Pipeline(sensor=sensor, key=key, sink=sink, flush_interval=flush_interval,
                             packet_time_flush=False, **options)
        self.drops = 0
        self.snaplen = snaplen
        self.n = first_no - step
        self.step = step

    @property
    def error(self) -> OSError | None:
        """The socket's error that stopped the capture (ENETDOWN: the interface went down or away), if any."""
        return self.ring.error if self.ring is not None else self.reader.error if self.reader else None

    def start(self) -> None:
        if self.reader is not None:
            self.reader.start()

    def pump(self, timeout: float = 0.1) -> None:
        """Run the pipeline over the ring's next block, or what the reader queued (waits up to `timeout`)."""
        if self.ring is not None:
            if self.ring.ready(timeout):
                self._run_block()
            return
        try:
            first = self.frames.get(timeout=timeout)
        except queue.Empty:
            return
        batch = []
        n, step, iface = self.n, self.step, self.interface
        for ts, data, length in _drain(self.frames, first, 4095):
            n += step
            batch.append((ts, 1, data, length, n, iface, 0))
        self.n = n
        self.pipe.run(batch)

    def _run_block(self) -> None:
        assert self.ring is not None
        batch = self.ring.read(self.n + self.step, self.step, self.interface)
        self.n += self.step * len(batch)
        self.pipe.run(batch)

    def flush(self) -> None:
        self.pipe.flush()
        self.drops += kernel_drops(self.sock)

    def _drain_ring(self) -> None:
        """Decode the blocks the ring holds at stop, and the block the kernel was filling.

        They were received (the interface counted them, the kernel did not drop them): a pipeline
        behind the traffic may have the whole ring waiting.  Each block is read once at most (a SPAN
        port keeps sending after the stop), for at most DRAIN_SECONDS; the block being filled is
        handed over by the kernel within its retire timeout, which is waited for (twice, once).
        """
        ring = self.ring
        assert ring is not None
        deadline = time.monotonic() + DRAIN_SECONDS
        wait = 2 * ring.retire_ms / 1000
        for _ in range(ring.blocks + 1):
            if time.monotonic() >= deadline or not ring.ready(wait):
                break
            self._run_block()

    def _drain_socket(self) -> None:
        """Without the ring: decode what the socket's buffer held when the capture stopped.

        A pipeline behind the traffic at stop time has up to RCVBUF of frames in the socket: they
        were received (the interface counted them, the kernel did not drop them), so they are
        decoded too, for at most DRAIN_SECONDS (a SPAN port keeps sending after the stop).
        """
        sock, n, step, iface = self.sock, self.n, self.step, self.interface
        cmsg = CMSG_BUFFER
        deadline = time.monotonic() + DRAIN_SECONDS
        batch: list[tuple[float, int, bytes, int, int, str, int]] = []
        sock.setblocking(False)
        try:
            while time.monotonic() < deadline:
                try:
                    data, ancdata, _, _ = sock.recvmsg(self.snaplen, cmsg)
                except (BlockingIOError, InterruptedError):
                    break
                frame, length, ts = unpack_frame(data, ancdata)
                n += step
                batch.append((ts or time.time(), 1, frame, length or len(frame), n, iface, 0))
                if len(batch) >= 4096:
                    self.pipe.run(batch)
                    batch = []
        except OSError:  # the interface went away meanwhile: what was read is kept
            pass
        self.pipe.run(batch)
        self.n = n

    def finish(self) -> CaptureStats:
        """Stop reading, decode what the ring (or queue) holds, close the socket; final flush and stats."""
        pipe = self.pipe
        try:
            if self.ring is not None:
                self._drain_ring()
            elif self.reader is not None:
                self.reader_stop.set()
                if self.reader.is_alive():
                    self.reader.join(timeout=2.0)
                while True:  # everything the reader queued is processed before the final flush
                    try:
                        ts, data, length = self.frames.get_nowait()
                    except queue.Empty:
                        break
                    self.n += self.step
                    pipe.feed((ts, 1, data, length, self.n, self.interface, 0))
                if self.reader.error is None:
                    self._drain_socket()
            self.drops += kernel_drops(self.sock)
        finally:
            if self.ring is not None:
                self.ring.close()
            self.sock.close()
        pipe.kernel_drops = self.drops
        pipe.queue_drops = self.reader.queue_drops if self.reader is not None else 0
        if self.ring_refused:
            pipe.weird("capture_ring_unavailable", self.ring_refused[:100])
        if self.error is not None:
            pipe.weird("capture_interface_error", str(self.error)[:100])
        return pipe.close()


def capture(
    interface: str,
    sink: Sink,
    *,
    bpf: str | None = None,
    duration: float | None = None,
    snaplen: int = 65535,
    flush_interval: float = 10.0,
    sensor: str = "",
    key: bytes,
    stop_event: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
    workers: int = 1,
    ring_bytes: int | None = None,
    **options: Any,
) -> CaptureStats:
    """Capture on `interface` until `duration`, `stop_event` or SIGINT/SIGTERM; returns the run's stats.

    `on_ready()` is called once the socket is bound and its ring mapped: from then on no frame is
    missed (the CLI says so on stderr, which a supervisor's log and the tests wait for).  `workers`
    > 1: one process per worker, each with its socket and ring in one PACKET_FANOUT group
    (collector.fanout).  `ring_bytes`: the capture's ring memory, shared by the workers' sockets
    (None: collector.ring.ring_bytes_default(); 0: no ring, one recvmsg per frame).
    """
    key = require_key(key)
    ring_bytes = ring_share(ring_bytes_default() if ring_bytes is None else ring_bytes, workers)
    stop = stop_event or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        if workers > 1:
            from collector.fanout import capture_fanout

            return capture_fanout(interface, sink, workers=workers, bpf=bpf, duration=duration,
                                  snaplen=snaplen, flush_interval=flush_interval, sensor=sensor, key=key,
                                  stop=stop, on_ready=on_ready, ring_bytes=ring_bytes, **options)
        return _capture_one(interface, sink, bpf=bpf, duration=duration, snaplen=snaplen,
                            flush_interval=flush_interval, sensor=sensor, key=key, stop=stop,
                            on_ready=on_ready, ring_bytes=ring_bytes, **options)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _capture_one(interface: str, sink: Sink, *, bpf: str | None, duration: float | None, snaplen: int,
                 flush_interval: float, sensor: str, key: bytes, stop: threading.Event,
                 on_ready: Callable[[], None] | None, **options: Any) -> CaptureStats:
    """One socket, one pipeline in this process, flushed on the wall clock."""
    engine = Engine(interface, sink, bpf=bpf, snaplen=snaplen, flush_interval=flush_interval, sensor=sensor,
                    key=key, **options)
    started = time.monotonic()
    next_flush = started + flush_interval
    engine.start()
    if on_ready is not None:
        on_ready()
    try:
        while not stop.is_set() and engine.error is None:
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            if now >= next_flush:
                engine.flush()
                next_flush = now + flush_interval
            engine.pump(min(0.1, max(0.0, next_flush - now)))
    finally:
        stats = engine.finish()
    return stats
