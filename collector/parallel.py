"""Replay on several cores: one reader, N worker pipelines, their facts merged per flush period.

`replay_workers(paths, sink, workers=N, ...)` is `collector.pipeline.replay` on N worker processes.
A reader process reads the captures (collector.sources.FrameSource: files
in time order, gzip, read weirds) and sends each frame, in chunks of `CHUNK` frames pickled over
a pipe, to the worker `collector.shard.shard_of` names (both directions of a flow to the same
worker).  The reader also owns the flush clock: when a frame's time passes the next flush time
(the same rule as a single pipeline: first frame time + interval, then the frame that passes it
+ interval) it tells every worker to flush, so all workers cut their periods at the same frame and
the merged periods are the single pipeline's.  Each worker runs a `Pipeline` with its own packet
clock off and sends back what it emits; the calling thread merges each period once every worker
closed it (`collector.shard.Rounds`), emits it to `sink` and calls `sink.flushed()`, so the
sink, the store behind it and the progress callback stay on the caller's thread.

The reader and the workers are forked (Linux): they inherit the loaded detectors, so starting one costs a few
milliseconds, not the seconds of re-importing them.  A worker that fails makes the replay raise
(RuntimeError with its traceback); the others are then stopped.
"""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from collector.pcapfile import ReadStats
from collector.schema import CaptureStats
from collector.shard import PipeSink, Rounds, merge_stats, shard_of
from collector.sinks import Sink
from collector.sources import FrameSource

CHUNK = 2048
"""Frames per message to a worker: large enough that pickling and the pipe cost little per frame,
small enough that a worker starts before the reader has read much ahead."""
PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (F_SETPIPE_SZ, up to /proc/sys/fs/pipe-max-size): a few chunks in flight,
so the reader does not wait on one busy worker while another is idle."""


def _widen(conn: Connection) -> None:
    try:
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):  # an unprivileged limit below 1 MiB: the default 64 KiB works, slower
        pass


def _worker(inbox: Connection, outbox: Connection, sensor: str, key: bytes, options: dict[str, Any]) -> None:
    """One worker process: frames in, batches and flush markers out, its stats at the end."""
    from collector.pipeline import Pipeline, relaxed_gc

    gc.freeze()  # the inherited heap is never collected here: no copy-on-write of it by the GC
    try:
        pipe = Pipeline(sensor=sensor, key=key, sink=PipeSink(outbox), packet_time_flush=False, **options)
        with relaxed_gc():
            while True:
                msg = inbox.recv()
                if type(msg) is list:
                    pipe.run(msg)
                    continue
                op, ts = msg
                if ts is not None:  # the time the single pipeline would age its tables at
                    pipe.last_ts = ts if pipe.last_ts is None else max(pipe.last_ts, ts)
                if op == "flush":
                    pipe.flush()
                else:
                    outbox.send(("done", pipe.close()))
                    return
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        outbox.send(("error", traceback.format_exc()))


def _read(source: FrameSource, inboxes: list[Connection], flush_interval: float, counters: Any,
          report: Connection) -> None:
    """The reader process: reads the captures, shards the frames, sends chunks and flush orders to the
    workers; `counters` [frames, bytes read] for the progress display; its read stats at the end."""
    gc.freeze()  # the inherited heap is never collected here: no copy-on-write of it by the GC
    n, interval = len(inboxes), flush_interval
    chunks: list[list[Any]] = [[] for _ in range(n)]
    next_flush: float | None = None
    last_ts: float | None = None
    frames = 0
    try:
        for frame in source:
            ts = frame[0]
            if next_flush is None:
                next_flush = ts + interval
            elif ts >= next_flush:  # collector.pipeline.Pipeline.feed's rule, for every worker at once
                for w in range(n):
                    if chunks[w]:
                        inboxes[w].send(chunks[w])
                        chunks[w] = []
                    inboxes[w].send(("flush", ts))
                next_flush = ts + interval
            last_ts = ts
            w = shard_of(frame[2], frame[1], n)
            chunk = chunks[w]
            chunk.append(frame)
            frames += 1
            if len(chunk) >= CHUNK:
                inboxes[w].send(chunk)
                chunks[w] = []
                counters[0], counters[1] = frames, source.bytes_read()
        for w in range(n):
            if chunks[w]:
                inboxes[w].send(chunks[w])
            inboxes[w].send(("end", last_ts))
        counters[0] = frames
        report.send(("read", source.stats))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        report.send(("error", traceback.format_exc()))


def replay_workers(
    paths: Sequence[Path | str],
    sink: Sink,
    *,
    workers: int,
    sensor: str = "",
    key: bytes,
    progress: Callable[[int, int, int], None] | None = None,
    **options: Any,
) -> CaptureStats:
    """Replay capture files into `sink` on `workers` processes (see the module docstring)."""
    from collector.pipeline import relaxed_gc, require_key
    from collector.registry import all_detectors

    key = require_key(key)
    if options.get("detectors") is None:
        options["detectors"] = list(all_detectors())  # loaded once, inherited by every worker
    flush_interval = float(options.pop("flush_interval", 10.0))
    options.pop("packet_time_flush", None)
    source = FrameSource(paths, ReadStats())
    ctx = multiprocessing.get_context("fork")
    inboxes: list[Connection] = []
    outboxes: list[Connection] = []
    procs: list[Any] = []
    rounds = Rounds(sink, workers, merge_facts=options.get("merge_facts", True))
    parts: list[CaptureStats | None] = [None] * workers
    try:
        for _ in range(workers):
            recv_in, send_in = ctx.Pipe(duplex=False)
            recv_out, send_out = ctx.Pipe(duplex=False)
            _widen(send_in)
            _widen(send_out)
            proc = ctx.Process(target=_worker, args=(recv_in, send_out, sensor, key, options),
                               name="medtap-worker", daemon=True)
            proc.start()
            recv_in.close()
            send_out.close()
            inboxes.append(send_in)
            outboxes.append(recv_out)
            procs.append(proc)
        # the reader is a process too: in a thread it would share the GIL with the merge and the store
        counters = ctx.Array("q", 2, lock=False)
        report_r, report_w = ctx.Pipe(duplex=False)
        reader = ctx.Process(target=_read, args=(source, inboxes, flush_interval, counters, report_w),
                             name="medtap-reader", daemon=True)
        reader.start()
        report_w.close()
        procs.append(reader)
        outboxes.append(report_r)
        for conn in inboxes:  # only the reader writes to the workers
            conn.close()
        with relaxed_gc():  # the merge allocates every record the workers send (as the single replay does)
            read_stats = _merge(outboxes, rounds, parts, counters, source.total_bytes, progress)
    finally:
        for conn in inboxes + outboxes:
            conn.close()
        for proc in procs[::-1]:  # the reader first: a worker that failed may have left it blocked
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    stats = merge_stats([p for p in parts if p is not None], read_stats, sensor=sensor)
    sink.emit([stats])
    return stats


def _merge(outboxes: list[Connection], rounds: Rounds, parts: list[CaptureStats | None], counters: Any,
           total_bytes: int, progress: Callable[[int, int, int], None] | None) -> ReadStats:
    """The caller's thread: worker messages into periods, emitted merged; progress ~10 times a second.

    `outboxes`: the workers' pipes, then the reader's (its read stats, returned, or its failure)."""
    reader = len(outboxes) - 1
    index = {id(c): w for w, c in enumerate(outboxes)}
    live = list(outboxes)
    read_stats: ReadStats | None = None
    clock = time.monotonic
    deadline = clock() + 0.1
    while live:
        for ready in wait(live, timeout=0.1):
            w = index[id(ready)]
            conn = outboxes[w]
            who = "reader" if w == reader else f"worker {w}"
            try:
                op, body = conn.recv()
            except EOFError:
                raise RuntimeError(f"replay {who} ended without its results") from None
            if op == "batch":
                rounds.batch(w, body)
            elif op == "flushed":
                rounds.flushed(w)
            elif op == "done":
                parts[w] = body
                live.remove(conn)
            elif op == "read":
                read_stats = body
                live.remove(conn)
            else:
                raise RuntimeError(f"replay {who} failed:\n{body}")
        if progress is not None and clock() >= deadline:
            progress(counters[0], counters[1], total_bytes)
            deadline = clock() + 0.1
    if progress is not None:
        progress(counters[0], total_bytes, total_bytes)
    assert read_stats is not None
    return read_stats
