"""The run loop: a source (capture files or an interface) -> collector -> facts store -> analysis.

`run_replay` and `run_capture` read frames through the collector, which merges them into facts and
flushes a batch every period; each batch is upserted into the facts store as it arrives (`_DbSink`)
and folded into the running digest, and each flush of a live capture re-analyses, so the inventory
and the findings follow the traffic while it runs.  The CLI, the tests and (through the same store
functions) the API all go through here: nothing in this module knows about HTTP or printing.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from analyzer.models import Report
from collector.facts import Prepared
from collector.schema import Observation
from collector.sinks import send_prepared
from store.db import session_for
from store.errors import InvalidError, MissingToolError, NoInputError
from store.freshness import AnalysisGate
from store.service import import_sheets_path

if TYPE_CHECKING:
    from analyzer.digest import Digest

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".pcap.gz", ".pcapng.gz")
DAMAGE_WEIRD_PREFIXES = ("pcap_", "pcapng_", "capture_", "gzip_")

Progress = Callable[[int, int, int], None]
"""progress(frames, bytes_read, total_bytes), called while a replay decodes."""


@dataclass(frozen=True)
class ReplayOptions:
    """Everything `medtap replay` is asked to do, in one value (the CLI builds it from its options)."""

    paths: Sequence[Path]
    db_url: str
    site: Any = None
    """The site policy (analyzer.site.SitePolicy) given on the command line; None: the stored one."""
    sheets: Path | None = None
    sensor: str = "local"
    report_path: Path | None = None
    observations_path: Path | None = None
    baseline_path: Path | None = None
    forward_url: str | None = None
    token: str | None = None
    spool_dir: Path = Path(".medtap-spool")
    dissector: str = "medtap"
    workers: int | None = None
    """Worker processes decoding the captures (collector.parallel); None: `replay_workers_for(paths)`
    (the cores, for captures large enough to gain from them); 1: the single-process path."""


@dataclass
class RunResult:
    report: Report
    damaged: bool = False
    observations: int = 0
    already_stored: int = 0
    """Observations of batches this database already held (the same captures replayed before)."""
    sheet_conflicts: list[str] = field(default_factory=list)
    """Sheets of --sheets kept because they were edited since their last import (never overwritten
    silently)."""
    rejected_batches: list[str] = field(default_factory=list)
    """Spooled batches the central refused for good (--forward): data that did not reach it."""


def default_workers() -> int:
    """Worker processes when none is asked for: the cores this process may run on (its CPU affinity,
    which a container or `taskset` narrows), never less than one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


PARALLEL_MIN_BYTES = 32 * 1024 * 1024
"""Below this much capture, a replay runs in one process by default: starting the reader and the
workers and merging their periods costs more than they win on a few tens of thousands of frames."""


def replay_workers_for(files: Sequence[Path]) -> int:
    """Default worker count of a replay: `default_workers()` for PARALLEL_MIN_BYTES of captures or more,
    else one."""
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return default_workers() if total >= PARALLEL_MIN_BYTES else 1


def replay_key(files: Sequence[Path], *, sensor: str, dissector: str) -> str:
    """Identity of a replay: the sensor, the dissector and the SHA-256 of every input file, in order."""
    import hashlib

    whole = hashlib.sha256(f"{sensor}|{dissector}".encode())
    seen: dict[Path, bytes] = {}  # a file given twice is read and hashed once (0.4 s per 700 MB)
    for path in files:
        real = Path(path).resolve()
        if real not in seen:
            with open(real, "rb") as fh:
                seen[real] = hashlib.file_digest(fh, "sha256").digest()
        whole.update(seen[real])
    return "replay:" + whole.hexdigest()[:32]


class _DbSink:
    """Sink that upserts each batch into the facts store as it arrives (memory and store stay flat).

    With `once_key` (a replay; a future while the captures are still being hashed), batch n is stored
    once per key: the same captures replayed again, or a replay re-run after it was killed, acknowledge
    the batches already there.  What is stored
    is also folded into `digest`, which follows the facts counter as long as no other writer
    interleaves (then the next analysis reads the facts again).  `on_flush` runs after each flush
    period of the collector: a live capture analyzes there, so findings appear while it runs.
    """

    def __init__(self, session: Session, sensor: str, once_key: str | Future[str] | None = None,
                 digest: Digest | None = None,
                 on_flush: Callable[[], None] | None = None, gate: AnalysisGate | None = None) -> None:
        self.session = session
        self.gate = gate
        self.sensor = sensor
        self.once_key = once_key
        self.digest = digest
        self.on_flush = on_flush
        self.count = 0
        self.already = 0
        self.seq = 0

    def emit(self, batch: list[Observation]) -> None:
        self._store(batch, None, None)

    def emit_prepared(self, batch: Prepared) -> None:
        """A batch with its fact keys (and blobs) computed by the collector: the store uses them."""
        self._store(batch.records, batch.keys, batch.blobs)

    def _store(self, batch: list[Observation], keys: list[str] | None,
               blobs: list[bytes | None] | None) -> None:
        from store.facts import store_batch

        if self.once_key is None:
            result = store_batch(self.session, batch, sensor=self.sensor, keys=keys, blobs=blobs)
        else:
            if not isinstance(self.once_key, str):  # hashed while the workers decoded the first period
                self.once_key = self.once_key.result()
            self.seq += 1
            result = store_batch(self.session, batch, sensor=self.sensor, seq=self.seq,
                                 batch_key=self.once_key, keys=keys, blobs=blobs)
        if not result.stored:
            self.already += result.records
            return
        self.count += result.records
        if self.gate is not None:
            self.gate.stored(result)
        digest = self.digest
        if digest is not None:  # what is stored is analyzed as it goes: no reading it back
            digest.add_many(result.records_stored)  # sensor stamped
            if digest.generation == result.previous_facts_generation:
                digest.generation = result.facts_generation

    def flushed(self) -> None:
        if self.on_flush is not None:
            self.on_flush()

    def close(self) -> None:
        return None


class FlushAnalysis:
    """The analysis after each flush period of a running capture: only when it is due (store.freshness).

    It runs on the capture's in-memory digest (`_DbSink.digest`), read again from the store only
    when another writer stored facts meanwhile.
    """

    def __init__(self, session: Session, *, site: Any, gate: AnalysisGate | None = None) -> None:
        self.session, self.site = session, site
        self.gate = gate or AnalysisGate()
        self.seconds: list[float] = []
        """Duration of each analysis that ran."""

    def run(self, sink: _DbSink) -> bool:
        """Analyze if due (True when it ran)."""
        from store.facts import facts_generation, generation
        from store.service import reanalyze, stored_digest

        gen, facts = generation(self.session), facts_generation(self.session)
        digest = sink.digest
        now = digest.max_ts if digest is not None and digest.max_ts is not None else 0.0  # packet time
        other = digest is not None and digest.generation != facts
        if self.gate.due(gen, facts, now, other_writer=other) is None:
            return False
        started = time.perf_counter()
        if other:
            sink.digest = stored_digest(self.session, site=self.site)
        reanalyze(self.session, site=self.site, digest=sink.digest, record_run=False)
        self.gate.analyzed(gen, facts, now)
        self.seconds.append(time.perf_counter() - started)
        return True


class _Tee:
    """Fan one observation stream out to several sinks (database, JSON lines, forwarder)."""

    def __init__(self, sinks: Sequence[Any]) -> None:
        self.sinks = list(sinks)

    def emit(self, batch: list[Observation]) -> None:
        for sink in self.sinks:
            sink.emit(batch)

    def emit_prepared(self, batch: Prepared) -> None:
        """The keys and blobs to the sinks that take them (the database's), the records to the others."""
        for sink in self.sinks:
            send_prepared(sink, batch)

    def flushed(self) -> None:
        for sink in self.sinks:
            flushed = getattr(sink, "flushed", None)
            if flushed is not None:
                flushed()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def rejected(self) -> list[str]:
        """Batches a forwarder's central refused for good (still in its spool as *.rejected)."""
        return [str(p) for sink in self.sinks for p in getattr(sink, "rejected_batches", lambda: [])()]


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders expanded to the capture files they hold; missing ones refused."""
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file()
                                and p.name.endswith(CAPTURE_SUFFIXES)))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(path))
    if missing and not files:
        raise NoInputError("no such capture file: " + ", ".join(missing))
    if not files:
        raise NoInputError("no capture file in: " + ", ".join(str(p) for p in paths))
    return files


def _extra_sinks(observations_path: Path | None, forward_url: str | None, token: str | None, spool_dir: Path,
                 sensor: str) -> list[Any]:
    sinks: list[Any] = []
    if observations_path is not None:
        from collector.sinks import JsonlSink

        sinks.append(JsonlSink(observations_path, sensor=sensor))
    if forward_url:
        from collector.forward import ForwardSink

        sinks.append(ForwardSink(forward_url, token=token or "", sensor=sensor, spool_dir=spool_dir))
    return sinks


def _analyze_and_store(session: Session, *, site: Any, baseline_path: Path | None,
                       digest: Digest | None = None) -> Report:
    from store.service import reanalyze

    baseline = None
    if baseline_path is not None and baseline_path.exists():
        from analyzer.baseline import load_baseline

        baseline = load_baseline(baseline_path)
    return reanalyze(session, site=site, baseline=baseline, digest=digest)


def run_replay(options: ReplayOptions, *, progress: Progress | None = None) -> RunResult:
    """Replay captures into the database, import sheets, analyze, write the report.

    `dissector="tshark"` also runs tshark over the files and labels the conversations medtap's
    own detectors did not identify (`app="tshark:<protocol>"`); it needs the tshark binary.
    `progress(frames, bytes_read, total_bytes)` is called as frames are decoded (the CLI's bar).
    """
    o = options
    paths, db_url, site, sheets, sensor = o.paths, o.db_url, o.site, o.sheets, o.sensor
    report_path, observations_path, baseline_path = o.report_path, o.observations_path, o.baseline_path
    forward_url, token, spool_dir, dissector = o.forward_url, o.token, o.spool_dir, o.dissector
    if dissector not in ("medtap", "tshark"):
        raise InvalidError(f"unknown dissector {dissector!r} (medtap or tshark)")
    if dissector == "tshark":
        from collector.tshark_backend import available

        if not available():
            raise MissingToolError("tshark not found: install the Debian package tshark or drop "
                                   "--dissector tshark")
    from collector.pipeline import relaxed_gc, replay
    from store.facts import policy_in_force
    from store.service import start_digest

    files = expand_inputs(paths)
    # the whole job under relaxed GC: the analysis allocates as much as the replay (devices, facts,
    # rows) while the collector tables and the digest keep many objects alive: at the default
    # thresholds, 640 collections (5 full ones) and 0.7 s on the 1M-frame mix; 6 and 0.1 s here
    conflicts: list[str] = []
    with relaxed_gc(), session_for(db_url, replayable=True) as session:
        site = policy_in_force(session, site, source="replay")
        if sheets is not None:
            conflicts = import_sheets_path(session, sheets, actor="cli", partial=False).conflicts
        digest = start_digest(session, site=site)
        # the captures are hashed (hashlib releases the GIL) while the collector decodes the first period:
        # 1.2 s of a 700 MB file that the command no longer waits for before decoding
        hasher = ThreadPoolExecutor(1, thread_name_prefix="medtap-hash")
        once_key = hasher.submit(replay_key, files, sensor=sensor, dissector=dissector)
        hasher.shutdown(wait=False)
        db_sink = _DbSink(session, sensor, once_key=once_key, digest=digest)
        if dissector == "tshark":
            # Keep the observations until tshark has labelled what medtap's detectors did not.
            from collector.sinks import ListSink

            held = ListSink()
            sink = _Tee([held])
        else:
            sink = _Tee([db_sink, *_extra_sinks(observations_path, forward_url, token, spool_dir, sensor)])
        live = _LiveRun(session, sources=[str(f) for f in files], sensor=sensor)

        def callback(frames: int, bytes_read: int, total_bytes: int) -> None:
            live.update(frames)
            if progress is not None:
                progress(frames, bytes_read, total_bytes)

        try:
            workers = o.workers if o.workers is not None else replay_workers_for(files)
            if workers > 1:
                from collector.parallel import replay_workers

                stats = replay_workers(files, sink, workers=workers, sensor=sensor, key=pseudonym_key(),
                                       progress=callback)
            else:
                stats = replay(files, sink, sensor=sensor, key=pseudonym_key(), progress=callback)
        finally:
            live.done()
        sink.close()
        if dissector == "tshark":
            from collector.tshark_backend import enrich_with_tshark

            enriched = enrich_with_tshark(files, list(held.observations))
            out = _Tee([db_sink, *_extra_sinks(observations_path, forward_url, token, spool_dir, sensor)])
            for start in range(0, len(enriched), 5000):
                out.emit(enriched[start : start + 5000])
            out.close()
            sink = out
        if stats.packets == 0:  # unreadable, or a capture with headers and no packet: nothing to analyze
            unreadable = any(w.startswith(("unreadable", "not_a_capture")) for w in stats.weirds)
            raise NoInputError(("not a capture file: " if unreadable else "no packet in the capture: ")
                               + ", ".join(str(f) for f in files))
        report = _analyze_and_store(session, site=site, baseline_path=baseline_path, digest=digest)
        _purge_if_retained(session)
    damaged = bool(stats.truncated) or any(w.startswith(DAMAGE_WEIRD_PREFIXES) for w in stats.weirds)
    if report_path is not None:
        from store.jobs import write_report

        write_report(report, report_path)
    return RunResult(report=report, damaged=damaged, observations=db_sink.count,
                     already_stored=db_sink.already,
                     sheet_conflicts=conflicts, rejected_batches=sink.rejected())


def run_capture(
    *,
    interface: str,
    bpf: str | None,
    duration: float | None,
    snaplen: int,
    flush_interval: float,
    db_url: str,
    site: Any = None,
    sensor: str = "local",
    observations_path: Path | None = None,
    forward_url: str | None = None,
    token: str | None = None,
    spool_dir: Path = Path(".medtap-spool"),
    on_ready: Callable[[], None] | None = None,
    workers: int | None = None,
    ring_bytes: int | None = None,
) -> RunResult:
    """Live capture until duration or SIGINT/SIGTERM; observations are stored at every flush.

    `on_ready()`: the database is ready and the interface bound (collector.live.capture).
    `workers`: capture processes in one PACKET_FANOUT group (None: `default_workers()`).
    `ring_bytes`: the kernel ring memory shared by the workers (None: collector.ring's default; 0: none)."""
    from collector.live import capture
    from store.facts import policy_in_force
    from store.service import start_digest

    with session_for(db_url) as session:
        site = policy_in_force(session, site, source="capture")
        digest = start_digest(session, site=site)

        flushes = FlushAnalysis(session, site=site)

        def analyze_flush() -> None:
            # every flush period: the inventory and findings follow the capture while it runs
            if flushes.run(db_sink):
                _purge_if_retained(session)

        db_sink = _DbSink(session, sensor, digest=digest, on_flush=analyze_flush, gate=flushes.gate)
        sink = _Tee([db_sink, *_extra_sinks(observations_path, forward_url, token, spool_dir, sensor)])
        capture(
            interface, sink, bpf=bpf, duration=duration, snaplen=snaplen, flush_interval=flush_interval,
            sensor=sensor, key=pseudonym_key(), on_ready=on_ready,
            workers=workers if workers is not None else default_workers(), ring_bytes=ring_bytes,
        )
        sink.close()
        report = _analyze_and_store(session, site=site, baseline_path=None, digest=db_sink.digest)
    return RunResult(report=report, observations=db_sink.count, rejected_batches=sink.rejected())


def _purge_if_retained(session: Session) -> None:
    """Raw observation rows are kept only when a retention is set; then those past it go at each store."""
    from store.facts import purge_raw, raw_retention_days

    if raw_retention_days() > 0:
        purge_raw(session)


def pseudonym_key() -> bytes:
    """The sensor's HMAC key for pseudonymising user names (RDP cookie, FTP USER, SDC operators).

    MEDTAP_PSEUDONYM_KEY when set (give every sensor of a site the same one so that pseudonyms
    correlate); else a random key created once in MEDTAP_KEY_FILE (default
    ~/.config/medtap/pseudonym.key, mode 0600).  Never empty: an unkeyed hash of a user name is
    reversible by trying names.
    """
    env = os.environ.get("MEDTAP_PSEUDONYM_KEY")
    if env:
        return env.encode()
    path = Path(os.environ.get("MEDTAP_KEY_FILE") or Path.home() / ".config" / "medtap" / "pseudonym.key")
    try:
        key = path.read_bytes()
        if len(key) >= 16:
            return key
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class _LiveRun:
    """A run record updated while frames are decoded, so the dashboard can show packets and rate.

    It is removed once decoding ends: the analysis that follows records the run with its stats.
    """

    def __init__(self, session: Session, *, sources: list[str], sensor: str) -> None:
        from store.records import start_run

        self.session = session
        self.run = start_run(session, sources=sources, sensor=sensor)
        self.last = 0.0

    def update(self, frames: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        self.run.stats = json.dumps({"packets": frames})
        self.session.add(self.run)
        self.session.commit()

    def done(self) -> None:
        self.session.delete(self.run)
        self.session.commit()
