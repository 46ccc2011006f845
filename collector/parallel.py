"""Replay on several cores: N worker processes, each reads the captures and decodes its share.

`replay_workers(paths, sink, workers=N, ...)` is `collector.pipeline.replay` on N worker processes.
Every worker reads the whole of the captures (collector.sources.FrameSource: files in time order,
gzip, read weirds) and keeps the frames `collector.shard.shard_of` gives it (both directions of a
flow to the same worker), so no frame crosses a process boundary: reading a frame and hashing its
addresses costs less than pickling it to another process (a reader process that sent each worker
its frames cost as much CPU as a worker, on the 2 cores such a box has).  Every worker also sees
every frame's time, so each applies the flush clock itself (the single pipeline's rule: first frame
time + interval, then the frame that passes it + interval) and all of them cut their periods at the
same frame: the merged periods are the single pipeline's.  Each worker runs a `Pipeline` with its
own packet clock off and sends back what it emits, through an outbox thread (collector.outbox: it
keeps decoding while the parent stores a period); the calling thread merges each period once every
worker closed it (`collector.shard.Rounds`), emits it to `sink` and calls `sink.flushed()`, so the
sink, the store behind it and the progress callback stay on the caller's thread.  Worker 0 reports
the read counters (frames and bytes for the progress display, the read weirds at the end): every
worker read the same.

The workers are forked (Linux): they inherit the loaded detectors, so starting one costs a few
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

from collector.outbox import Outbox
from collector.pcapfile import ReadStats
from collector.schema import CaptureStats
from collector.shard import PipeSink, Rounds, merge_stats, shard_of
from collector.sinks import Sink
from collector.sources import FrameSource

CHUNK = 2048
"""Frames of its shard a worker gathers before running its pipeline over them (Pipeline.run's batch)."""
PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (F_SETPIPE_SZ, up to /proc/sys/fs/pipe-max-size): a worker's batches wait in
it while the merging process stores the previous ones, instead of stalling the worker."""


def _widen(conn: Connection) -> None:
    try:
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):  # an unprivileged limit below 1 MiB: the default 64 KiB works, slower
        pass


def _worker(w: int, workers: int, source: FrameSource, outbox: Connection, sensor: str, key: bytes,
            flush_interval: float, counters: Any, options: dict[str, Any]) -> None:
    """Worker `w` of `workers`: reads every frame, decodes its shard, flushes on the shared packet clock.

    Sends batches and flush markers as its pipeline emits them, then its stats (worker 0: with the read
    stats); worker 0 also keeps `counters` [frames, bytes read] for the progress display."""
    from collector.pipeline import Pipeline, relaxed_gc

    gc.freeze()  # the inherited heap is never collected here: no copy-on-write of it by the GC
    out = Outbox(outbox)  # written by a thread: decoding goes on while the parent stores a period
    try:
        pipe = Pipeline(sensor=sensor, key=key, sink=PipeSink(out), packet_time_flush=False, **options)
        interval = flush_interval
        report = w == 0
        mine: list[Any] = []
        next_flush: float | None = None
        last_ts: float | None = None
        frames = 0
        with relaxed_gc():
            for frame in source:
                ts = frame[0]
                if next_flush is None:
                    next_flush = ts + interval
                elif ts >= next_flush:  # collector.pipeline.Pipeline.feed's rule, in every worker alike
                    if mine:
                        pipe.run(mine)
                        mine = []
                    # the time the single pipeline would age its tables at
                    pipe.last_ts = ts if pipe.last_ts is None else max(pipe.last_ts, ts)
                    pipe.flush()
                    next_flush = ts + interval
                last_ts = ts
                if shard_of(frame[2], frame[1], workers) == w:
                    mine.append(frame)
                    if len(mine) >= CHUNK:
                        pipe.run(mine)
                        mine = []
                frames += 1
                if report and not frames % CHUNK:
                    counters[0], counters[1] = frames, source.bytes_read()
            if mine:
                pipe.run(mine)
            if last_ts is not None:
                pipe.last_ts = last_ts if pipe.last_ts is None else max(pipe.last_ts, last_ts)
            if report:
                counters[0] = frames
            out.send(("done", (pipe.close(), source.stats if report else None)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        out.send(("error", traceback.format_exc()))
    finally:
        out.close()


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
    source = FrameSource(paths, ReadStats())  # files ordered once, here; each worker iterates its copy
    ctx = multiprocessing.get_context("fork")
    outboxes: list[Connection] = []
    procs: list[Any] = []
    rounds = Rounds(sink, workers, merge_facts=options.get("merge_facts", True))
    parts: list[CaptureStats | None] = [None] * workers
    counters = ctx.Array("q", 2, lock=False)
    try:
        for w in range(workers):
            recv_out, send_out = ctx.Pipe(duplex=False)
            _widen(send_out)
            args = (w, workers, source, send_out, sensor, key, flush_interval, counters, options)
            proc = ctx.Process(target=_worker, args=args,
                               name="medtap-worker", daemon=True)
            proc.start()
            send_out.close()
            outboxes.append(recv_out)
            procs.append(proc)
        with relaxed_gc():  # the merge allocates every record the workers send (as the single replay does)
            read_stats = _merge(outboxes, rounds, parts, counters, source.total_bytes, progress)
    finally:
        for conn in outboxes:
            conn.close()
        for proc in procs:
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

    Returns the read stats worker 0 sent with its results."""
    index = {id(c): w for w, c in enumerate(outboxes)}
    live = list(outboxes)
    read_stats: ReadStats | None = None
    clock = time.monotonic
    deadline = clock() + 0.1
    while live:
        for ready in wait(live, timeout=0.1):
            w = index[id(ready)]
            conn = outboxes[w]
            try:
                op, body = conn.recv()
            except EOFError:
                raise RuntimeError(f"replay worker {w} ended without its results") from None
            if op == "batch":
                rounds.batch(w, body)
            elif op == "flushed":
                rounds.flushed(w)
            elif op == "done":
                parts[w], read = body
                if read is not None:
                    read_stats = read
                live.remove(conn)
            else:
                raise RuntimeError(f"replay worker {w} failed:\n{body}")
        if progress is not None and clock() >= deadline:
            progress(counters[0], counters[1], total_bytes)
            deadline = clock() + 0.1
    if progress is not None:
        progress(counters[0], total_bytes, total_bytes)
    assert read_stats is not None
    return read_stats
