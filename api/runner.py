"""Jobs behind the CLI: replay or capture into the database, then analyze; load what is stored.

Kept apart from `api.cli` so that the web UI and the tests run the same code paths
the command line does, without parsing arguments or printing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from sqlmodel import Session

from analyzer.models import Report
from collector.schema import Observation

if TYPE_CHECKING:
    from analyzer.digest import Digest

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".pcap.gz", ".pcapng.gz")
DAMAGE_WEIRD_PREFIXES = ("pcap_", "pcapng_", "capture_", "gzip_")


class NoInputError(Exception):
    """None of the inputs could be read as a capture."""


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


@dataclass
class SheetImport:
    imported: int
    errors: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    """Sheets kept because they were edited since their last import (api.service.import_sheets)."""


@contextlib.contextmanager
def session_for(db_url: str, *, replayable: bool = False) -> Iterator[Session]:
    """A session on an initialised database (tables created or migrated).

    `replayable`: what this session stores can be stored again by running the same command (a
    replay: its batches are stored once per input digest), so SQLite need not sync the disk at
    every commit (synchronous=NORMAL; WAL keeps the file consistent, a power cut can lose the
    last commits, which the next replay stores again).
    """
    from api.db import make_engine
    from api.service import init_db

    engine = make_engine(db_url)
    if replayable and engine.dialect.name == "sqlite":
        from sqlalchemy import event

        event.listen(engine, "connect", _sqlite_normal_sync)
    init_db(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _sqlite_normal_sync(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class _DbSink:
    """Sink that upserts each batch into the facts store as it arrives (memory and store stay flat).

    With `once_key` (a replay), batch n is stored once per key: the same captures replayed again,
    or a replay re-run after it was killed, acknowledge the batches already there.  What is stored
    is also folded into `digest`, which follows the facts counter as long as no other writer
    interleaves (then the next analysis reads the facts again).  `on_flush` runs after each flush
    period of the collector: a live capture analyzes there, so findings appear while it runs.
    """

    def __init__(self, session: Session, sensor: str, once_key: str | None = None,
                 digest: Digest | None = None,
                 on_flush: Callable[[], None] | None = None) -> None:
        self.session = session
        self.sensor = sensor
        self.once_key = once_key
        self.digest = digest
        self.on_flush = on_flush
        self.count = 0
        self.already = 0
        self.seq = 0

    def emit(self, batch: list[Observation]) -> None:
        from api.facts_store import store_batch

        if self.once_key is None:
            result = store_batch(self.session, batch, sensor=self.sensor)
        else:
            self.seq += 1
            result = store_batch(self.session, batch, sensor=self.sensor, seq=self.seq,
                                 batch_key=self.once_key)
        if not result.stored:
            self.already += result.records
            return
        self.count += result.records
        digest = self.digest
        if digest is not None:  # what is stored is analyzed as it goes: no reading it back
            digest.add_many(o if o.sensor or not self.sensor else o.model_copy(update={"sensor": self.sensor})
                            for o in batch)
            if digest.generation == result.previous_facts_generation:
                digest.generation = result.facts_generation

    def flushed(self) -> None:
        if self.on_flush is not None:
            self.on_flush()

    def close(self) -> None:
        return None


class _Tee:
    """Fan one observation stream out to several sinks (database, JSON lines, forwarder)."""

    def __init__(self, sinks: Sequence[Any]) -> None:
        self.sinks = list(sinks)

    def emit(self, batch: list[Observation]) -> None:
        for sink in self.sinks:
            sink.emit(batch)

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
    from api.service import reanalyze

    baseline = None
    if baseline_path is not None and baseline_path.exists():
        from analyzer.baseline import load_baseline

        baseline = load_baseline(baseline_path)
    return reanalyze(session, site=site, baseline=baseline, digest=digest)


def run_replay(
    *,
    paths: Sequence[Path],
    db_url: str,
    site: Any = None,
    sheets: Path | None = None,
    sensor: str = "local",
    report_path: Path | None = None,
    observations_path: Path | None = None,
    baseline_path: Path | None = None,
    forward_url: str | None = None,
    token: str | None = None,
    spool_dir: Path = Path(".medtap-spool"),
    progress: bool = False,
    console: Console | None = None,
    dissector: str = "medtap",
) -> RunResult:
    """Replay captures into the database, import sheets, analyze, write the report.

    `dissector="tshark"` also runs tshark over the files and labels the conversations medtap's
    own detectors did not identify (`app="tshark:<protocol>"`); it needs the tshark binary.
    """
    if dissector not in ("medtap", "tshark"):
        raise ValueError(f"unknown dissector {dissector!r} (medtap or tshark)")
    if dissector == "tshark":
        from collector.tshark_backend import available

        if not available():
            raise ValueError("tshark not found: install the Debian package tshark or drop --dissector tshark")
    from api.facts_store import policy_in_force
    from api.service import start_digest
    from collector.pipeline import relaxed_gc, replay

    files = expand_inputs(paths)
    # the whole job under relaxed GC: the analysis allocates as much as the replay (devices, facts,
    # rows) while the collector tables and the digest keep many objects alive: at the default
    # thresholds, 640 collections (5 full ones) and 0.7 s on the 1M-frame mix; 6 and 0.1 s here
    conflicts: list[str] = []
    with relaxed_gc(), session_for(db_url, replayable=True) as session:
        site = policy_in_force(session, site, source="replay")
        if sheets is not None:
            conflicts = _import_sheets(session, sheets, actor="cli", partial=False).conflicts
        digest = start_digest(session, site=site)
        db_sink = _DbSink(session, sensor, once_key=replay_key(files, sensor=sensor, dissector=dissector),
                          digest=digest)
        if dissector == "tshark":
            # Keep the observations until tshark has labelled what medtap's detectors did not.
            from collector.sinks import ListSink

            held = ListSink()
            sink = _Tee([held])
        else:
            sink = _Tee([db_sink, *_extra_sinks(observations_path, forward_url, token, spool_dir, sensor)])
        live = _LiveRun(session, sources=[str(f) for f in files], sensor=sensor)
        with _progress(progress, console, files) as bar:

            def callback(frames: int, bytes_read: int, total_bytes: int) -> None:
                live.update(frames)
                if bar is not None:
                    bar(frames, bytes_read, total_bytes)

            try:
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
        if stats.packets == 0 and any(w.startswith(("unreadable", "not_a_capture")) for w in stats.weirds):
            raise NoInputError("not a capture file: " + ", ".join(str(f) for f in files))
        report = _analyze_and_store(session, site=site, baseline_path=baseline_path, digest=digest)
        _purge_if_retained(session)
    damaged = bool(stats.truncated) or any(w.startswith(DAMAGE_WEIRD_PREFIXES) for w in stats.weirds)
    if report_path is not None:
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
    console: Console | None = None,
) -> RunResult:
    """Live capture until duration or SIGINT/SIGTERM; observations are stored at every flush."""
    from api.facts_store import policy_in_force
    from api.service import start_digest
    from collector.live import capture

    with session_for(db_url) as session:
        site = policy_in_force(session, site, source="capture")
        digest = start_digest(session, site=site)

        def analyze_flush() -> None:
            # every flush period: the inventory and findings follow the capture while it runs
            from api.facts_store import facts_generation
            from api.service import reanalyze, stored_digest

            if db_sink.digest is not None and db_sink.digest.generation != facts_generation(session):
                db_sink.digest = stored_digest(session,
                                               site=site)  # a sheet or another writer changed the store
            reanalyze(session, site=site, digest=db_sink.digest, record_run=False)
            _purge_if_retained(session)

        db_sink = _DbSink(session, sensor, digest=digest, on_flush=analyze_flush)
        sink = _Tee([db_sink, *_extra_sinks(observations_path, forward_url, token, spool_dir, sensor)])
        capture(
            interface, sink, bpf=bpf, duration=duration, snaplen=snaplen, flush_interval=flush_interval,
            sensor=sensor, key=pseudonym_key(),
        )
        sink.close()
        report = _analyze_and_store(session, site=site, baseline_path=None, digest=db_sink.digest)
    return RunResult(report=report, observations=db_sink.count, rejected_batches=sink.rejected())


def _purge_if_retained(session: Session) -> None:
    """Raw observation rows are kept only when a retention is set; then those past it go at each store."""
    from api.facts_store import purge_raw, raw_retention_days

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
        from api.store import start_run

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


@contextlib.contextmanager
def _progress(enabled: bool, console: Console | None, files: Sequence[Path]) -> Iterator[Any]:
    """A rich progress bar (frames, rate, ETA) for replays that last more than a second.

    Only when asked for (not --quiet) and stderr is a terminal; short replays print nothing.
    """
    if not enabled:
        yield None
        return
    total = sum(f.stat().st_size for f in files)
    bar = Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        TextColumn("{task.fields[frames]} frames"),
        TextColumn("{task.fields[rate]} frames/s"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    started = time.monotonic()
    task: list[Any] = []

    def callback(frames: int, bytes_read: int, total_bytes: int) -> None:
        elapsed = time.monotonic() - started
        if elapsed < 1.0:
            return
        if not task:
            bar.start()
            task.append(bar.add_task("replay", total=total_bytes or total or None, frames=0, rate=0))
        bar.update(task[0], completed=bytes_read, frames=frames, rate=int(frames / elapsed))

    try:
        yield callback
    finally:
        if task:
            bar.stop()


def write_report(report: Report, path: Path) -> None:
    """The report JSON contract (schema 1), stable field order, sorted lists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(by_alias=True, indent=2) + "\n", encoding="utf-8")


def load_report(db_url: str) -> Report:
    """The inventory and findings as stored (no re-analysis)."""
    from api.service import stored_report

    with session_for(db_url) as session:
        return stored_report(session)


def _import_sheets(session: Session, path: Path, *, actor: str, partial: bool,
                   overwrite: bool = False) -> SheetImport:
    from api.service import import_sheets

    fmt = path.suffix.lower().lstrip(".").replace("yml", "yaml")
    result = import_sheets(session, path.read_bytes(), fmt=fmt, actor=actor, partial=partial,
                           overwrite=overwrite)
    errors = [str(e) for e in result.errors]
    if errors and not partial:
        raise ValueError(f"{path}: sheets refused:\n  " + "\n  ".join(errors))
    return SheetImport(imported=result.imported, errors=errors, conflicts=[str(c) for c in result.conflicts])


def import_sheets_file(db_url: str, path: Path, *, actor: str, partial: bool,
                       overwrite: bool = False) -> SheetImport:
    """Import a sheets file, then re-match: the inventory and findings follow the new sheets at once."""
    if not path.is_file():
        raise FileNotFoundError(path)
    with session_for(db_url) as session:
        result = _import_sheets(session, path, actor=actor, partial=partial, overwrite=overwrite)
        if result.imported:
            from api.facts_store import generation
            from api.service import reanalyze

            if generation(session) > 0:
                reanalyze(session, record_run=False)
        return result


def export_sheets_file(db_url: str, path: Path) -> int:
    from api.service import export_sheets

    fmt = path.suffix.lower().lstrip(".").replace("yml", "yaml")
    if fmt not in ("csv", "json", "yaml"):
        raise ValueError(f"{path}: unknown format {fmt!r} (use .csv, .json or .yaml)")
    with session_for(db_url) as session:
        data = export_sheets(session, fmt=fmt)
    path.write_bytes(data)
    from analyzer.sheet_io import load_sheets_bytes

    return len(load_sheets_bytes(data, fmt=fmt))


def create_token(db_url: str, *, role: str, name: str, expires_in: str | None = None,
                 expires: str | None = None,
                 sensor: str | None = None) -> str:
    """A new token (printed once by the CLI); the expiry is `--expires-in 90d` or `--expires YYYY-MM-DD`."""
    from api.auth import create_token as _create, parse_expiry

    with session_for(db_url) as session:
        when = parse_expiry(expires_in=expires_in, expires=expires)
        return _create(session, role=role, name=name, expires=when, sensor=sensor, actor="cli")


def list_tokens(db_url: str) -> list[dict[str, Any]]:
    """Every token without its hash: id, name, role, sensor, created, expires, last_used, revoked."""
    from api.auth import list_tokens as _list

    with session_for(db_url) as session:
        return [row.model_dump(exclude={"hash"}) for row in _list(session)]


def revoke_token(db_url: str, id_or_name: str) -> dict[str, Any]:
    """Revoke one token (by id, or by name when one active token has it); its web sessions end too."""
    from api.auth import find_token, revoke_token as _revoke

    with session_for(db_url) as session:
        row = find_token(session, id_or_name)
        _revoke(session, token_id=int(row.id or 0), actor="cli")
        return {"id": row.id, "name": row.name, "role": row.role}


def save_baseline(db_url: str, path: Path) -> int:
    """Known devices (from the inventory) and every conversation pair stored, as the baseline."""
    from analyzer.baseline import baseline_from_report, pair, save_baseline as _save
    from api.store import iter_observations

    with session_for(db_url) as session:
        from api.store import stored_report

        baseline = baseline_from_report(stored_report(session))
        for conv in iter_observations(session, kinds=["conversation"]):
            baseline.conversations.add(pair(conv.client_ip, conv.server_ip))  # type: ignore[attr-defined]
    _save(baseline, path)
    return len(baseline.devices) + len(baseline.conversations)


def report_json(report: Report) -> dict[str, Any]:
    return json.loads(report.model_dump_json(by_alias=True))
