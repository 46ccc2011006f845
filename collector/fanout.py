"""Live capture on several cores: N worker processes, one AF_PACKET socket each, one PACKET_FANOUT group.

The kernel spreads the interface's frames over the group's sockets by flow hash (hash mode,
defragmented: collector.live.join_fanout), so each worker process (forked; it inherits the loaded
detectors) captures its share with its own receive ring and pipeline (collector.live.Engine) and no
frame crosses a process boundary.  The parent owns the flush clock: every `flush_interval`
seconds it tells every worker to flush; each sends back its records and an end-of-period marker
(through an outbox thread, collector.outbox, so that it reads its ring on while the parent stores),
and `collector.shard.Rounds` merges each period once every worker closed it, emits it to the sink
and calls `sink.flushed()` (the store analyses there), exactly as after a single capture's flush.
On stop (duration, stop event, SIGINT/SIGTERM in the parent) every worker drains its ring, flushes
and returns its stats; `collector.shard.merge_stats` adds them up (kernel and queue drops summed,
frames per worker in `workers`).

The kernel's flow hash includes the ports, so the connections of one conversation (client,
server, server port) may land in different workers; their records merge per fact, but each worker
counts that conversation's stream budget (collector.flows) on its own.  The replay shards by
addresses only (collector.shard) and equals one worker exactly; live capture cannot be replayed
twice, and the test compares it with the replay of the same frames.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any

from collector.outbox import Outbox
from collector.schema import CaptureStats
from collector.shard import PipeSink, Rounds, merge_stats
from collector.sinks import Sink

START_TIMEOUT = 60.0
"""Seconds the workers have to open their sockets (forking, binding and mapping a ring take milliseconds)."""


def _worker(w: int, workers: int, interface: str, group: int, ctrl: Connection, out: Connection,
            settings: dict[str, Any]) -> None:
    """One worker: its socket in the group, its pipeline; flushes and stops when the parent says so."""
    # a terminal's Ctrl-C reaches the whole process group: the parent stops its workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = Outbox(out)  # written by a thread: the ring is read on while the parent stores a period
    try:
        _run(w, workers, interface, group, ctrl, outbox, settings)
    finally:
        outbox.close()


def _run(w: int, workers: int, interface: str, group: int, ctrl: Connection, out: Outbox,
         settings: dict[str, Any]) -> None:
    from collector.live import Engine

    try:
        engine = Engine(interface, PipeSink(out), fanout=group, first_no=w + 1, step=workers, **settings)
    except BaseException as exc:  # noqa: BLE001 - the parent raises it (PermissionError: the CLI's message)
        out.send(("error", exc))
        return
    try:
        engine.start()
        out.send(("ready", None))
        while engine.error is None:
            if ctrl.poll():
                try:
                    order = ctrl.recv()
                except EOFError:  # the parent is gone
                    break
                if order == "stop":
                    break
                engine.flush()
            engine.pump(0.05)
        out.send(("done", engine.finish()))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        out.send(("error", traceback.format_exc()))


def capture_fanout(interface: str, sink: Sink, *, workers: int, bpf: str | None, duration: float | None,
                   snaplen: int, flush_interval: float, sensor: str, key: bytes, stop: threading.Event,
                   on_ready: Any = None, **options: Any) -> CaptureStats:
    """collector.live.capture on `workers` processes (see the module docstring)."""
    from collector.registry import all_detectors

    if options.get("detectors") is None:
        options["detectors"] = list(all_detectors())
    settings = dict(options, bpf=bpf, snaplen=snaplen, flush_interval=flush_interval, sensor=sensor, key=key)
    group = os.getpid() & 0xFFFF
    ctx = multiprocessing.get_context("fork")
    ctrls: list[Connection] = []
    outs: list[Connection] = []
    procs: list[Any] = []
    rounds = Rounds(sink, workers, merge_facts=options.get("merge_facts", True))
    parts: list[CaptureStats | None] = [None] * workers
    try:
        for w in range(workers):
            ctrl_r, ctrl_w = ctx.Pipe(duplex=False)
            out_r, out_w = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(w, workers, interface, group, ctrl_r, out_w, settings),
                               name="medtap-capture-worker", daemon=True)
            proc.start()
            ctrl_r.close()
            out_w.close()
            ctrls.append(ctrl_w)
            outs.append(out_r)
            procs.append(proc)
        _wait_ready(outs)
        if on_ready is not None:
            on_ready()
        started = time.monotonic()
        next_flush = started + flush_interval
        failure: str | None = None
        while failure is None and not stop.is_set():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            if now >= next_flush:
                for conn in ctrls:
                    conn.send("flush")
                next_flush = now + flush_interval
            failure = _receive(outs, rounds, parts, timeout=min(0.1, max(0.0, next_flush - now)))
        for conn in ctrls:
            try:
                conn.send("stop")
            except OSError:  # that worker is gone: its failure is reported below
                pass
        deadline = time.monotonic() + START_TIMEOUT
        while failure is None and any(p is None for p in parts) and time.monotonic() < deadline:
            failure = _receive(outs, rounds, parts, timeout=0.1)
        if failure is not None:
            raise RuntimeError(f"capture worker failed:\n{failure}")
        missing = [w for w, p in enumerate(parts) if p is None]
        if missing:
            raise RuntimeError(f"capture workers {missing} did not return their results")
    finally:
        for conn in ctrls + outs:
            conn.close()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    stats = merge_stats([p for p in parts if p is not None], sensor=sensor)
    sink.emit([stats])
    return stats


def _wait_ready(outs: list[Connection]) -> None:
    """Every worker's socket joined the group, or the first worker's error raised as it is."""
    waiting = set(range(len(outs)))
    deadline = time.monotonic() + START_TIMEOUT
    while waiting:
        left = deadline - time.monotonic()
        ready = wait([outs[w] for w in waiting], timeout=max(0.0, left))
        if not ready:
            raise RuntimeError(f"capture workers {sorted(waiting)} did not start in {START_TIMEOUT:g} s")
        for conn in ready:
            w = outs.index(conn)  # type: ignore[arg-type]
            try:
                op, body = outs[w].recv()
            except EOFError:
                raise RuntimeError(f"capture worker {w} ended before it was ready") from None
            if op == "error":
                raise body if isinstance(body, BaseException) else RuntimeError(str(body))
            waiting.discard(w)


def _receive(outs: list[Connection], rounds: Rounds, parts: list[CaptureStats | None], *,
             timeout: float) -> str | None:
    """Take what the workers sent (batches, period ends, final stats); a worker's failure as text."""
    for conn in wait([c for w, c in enumerate(outs) if parts[w] is None], timeout=timeout):
        w = outs.index(conn)  # type: ignore[arg-type]
        try:
            op, body = outs[w].recv()
        except EOFError:
            return f"worker {w} ended without its results"
        if op == "batch":
            rounds.batch(w, body)
        elif op == "flushed":
            rounds.flushed(w)
        elif op == "done":
            parts[w] = body
        else:
            return str(body)
    return None
