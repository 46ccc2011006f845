"""The central's analyst: a background thread of `medtap serve` that analyzes whenever the store changed.

Sensors' batches (POST /ingest), sheet edits and imports bump the store generation
(store.facts); this thread wakes every `interval` seconds, or at once when kicked by a
sheet change, and re-analyzes when the generation moved past the last analysis or when the
site policy file changed on disk.  So a central shows the devices and findings of an ingested
batch within seconds with no manual step, and a saved sheet or policy is re-matched at once.
The facts are kept in memory (analyzer.digest) by the analysis process (store.analyst), which runs
the analyses on a core of its own: each ingested batch is sent to it once stored, so an analysis
costs the evaluation of the inventory and the rules, not a re-read of the store; the digest is
rebuilt from the stored facts only when another process wrote (a replay into the central's
database), the policy changed or the process had to be restarted.  Analyses write only what
changed.  Reopened findings are sent to the notifier.

Ingest and analysis do not wait for each other's work: batches are stored one at a time (`storing`,
so they reach the digest in the order the store numbered them) and queued; the queue is sent by the
ingest thread when no analysis is running, or by the next analysis.  An analysis takes its turn
between two batches (`between_batches`, ahead of the sensors waiting) only to read the store's
counters and send the queue (and, when the digest is not current, to have every fact read again,
so that digest and counters agree), then runs while the sensors go on storing: under load a batch
waits for one batch, never for an analysis, and an analysis for one batch, never for twenty.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.analyst import AnalystProcess
from store.freshness import AnalysisGate

log = logging.getLogger("medtap.analyzer")


class AnalysisError(RuntimeError):
    """An analysis failed in the analysis process (its message and traceback, as text)."""


class AutoAnalyzer:
    """Analyze the store in the background when it changed; `kick()` asks for a look now."""

    def __init__(self, engine: Engine, *, site_file: Path | None = None, rules_dir: Path | None = None,
                 notify: Any = None, interval: float = 1.0) -> None:
        self.engine = engine
        self.site_file = site_file
        self.rules_dir = rules_dir
        self.notify = notify
        self.interval = interval
        self.analyses = 0
        self.last_error: str | None = None
        self.last_duration: float | None = None
        self._site: Any = None
        self._site_mtime: float | None = None
        self.lock = threading.Lock()
        """Held while batches are sent to the analysis process and while it analyzes."""
        self._queued: deque[Any] = deque()
        """Stored batches (store.facts.StoreResult) not folded yet, in the order they were stored."""
        self._turns = threading.Lock()
        self._busy = False
        """A batch is being stored, or the analysis has its turn."""
        self._waiting: deque[threading.Event] = deque()
        """Who waits for a turn, in order (the analysis in front): the turn is handed to the first."""
        self.analyst = AnalystProcess(engine, rules_dir)
        """The process that holds the facts in memory (analyzer.digest), folded batch by batch as they are
        ingested, and analyzes: an analysis costs what the inventory and findings cost to evaluate, not a
        re-read of every fact, and runs beside the server, not in its threads (store.analyst)."""
        self._chain: int | None = None
        """The facts generation the analysis process's digest is at once it has read what was sent
        (None: it has none, the next analysis builds it from the store)."""
        self._site_analyzed: Any = None
        self.rebuilds = 0
        self.gate = AnalysisGate()
        """Counts the new facts folded in: a batch of facts the store already held waits for the refresh
        period (store.freshness), so a busy central analyzes for what is new, not for every batch."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medtap-analyzer", daemon=True)

    def start(self) -> None:
        """Start the thread (again after a stop: an app's lifespan may run more than once)."""
        if self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="medtap-analyzer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self.lock:
            self.analyst.close()
            self._chain = None

    def kick(self) -> None:
        """Look now (a sheet was saved): the next analysis does not wait for the interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.analyze_if_changed()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the thread must survive a bad policy or a lost database
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("background analysis failed")

    def _policy(self, session: Session) -> Any:
        """The site policy: the settings' file, saved into the store when it changed on disk (which bumps
        the generation, so the analysis re-matches); without a file, the one the store holds."""
        from store.facts import save_policy, stored_policy

        if self.site_file is None:
            return stored_policy(session)
        mtime = Path(self.site_file).stat().st_mtime
        if mtime != self._site_mtime:
            from analyzer.site import load_site

            self._site, self._site_mtime = load_site(self.site_file), mtime
            save_policy(session, self._site, source=str(self.site_file), actor="serve")
        return self._site

    @contextmanager
    def storing(self) -> Iterator[None]:
        """A batch's turn to be stored (`queue` its result in it): one at a time, in arrival order."""
        self._take_turn(first=False)
        try:
            yield
        finally:
            self._end_turn()

    @contextmanager
    def between_batches(self) -> Iterator[None]:
        """The analysis' turn, ahead of the batches waiting: no batch is being stored, so the store's
        counters match the queued batches."""
        self._take_turn(first=True)
        try:
            yield
        finally:
            self._end_turn()

    def _take_turn(self, *, first: bool) -> None:
        with self._turns:
            if not self._busy:
                self._busy = True
                return
            handed = threading.Event()
            if first:
                self._waiting.appendleft(handed)
            else:
                self._waiting.append(handed)
        handed.wait()  # the turn is ours when the one before hands it over (FIFO: no batch waits for ever)

    def _end_turn(self) -> None:
        with self._turns:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._busy = False

    def queue(self, result: Any) -> None:
        """Queue a stored batch for the digest; call inside `storing` (the queue keeps the store's order)."""
        self._queued.append(result)

    def fold_queued(self, *, wait: bool = True) -> None:
        """Send the queued batches to the digest; with `wait=False`, only if no analysis is running."""
        if not self.lock.acquire(blocking=wait):
            return  # the running analysis sends them when it is done
        try:
            self._fold_queue()
        finally:
            self.lock.release()

    def _fold_queue(self) -> None:
        while self._queued:
            self.fold(self._queued.popleft())

    def fold(self, result: Any) -> None:
        """Send one stored batch (store.facts.StoreResult) to the analysis process; call under `lock`.

        A batch that is not the next one the digest expects (another process wrote meanwhile) is not
        sent: the next analysis reads the facts again."""
        self.gate.stored(result)
        if self._chain is None or not result.stored:
            return
        if self._chain == result.previous_facts_generation and self.analyst.fold(
                result.previous_facts_generation, result.facts_generation, result.records_stored):
            self._chain = result.facts_generation
        else:
            self._chain = None

    def analyze_if_changed(self) -> bool:
        """One look: analyze if the store or the policy changed since the last analysis; True if it did."""
        from store.facts import analysis_status, facts_generation, generation
        from store.service import same_policy

        with Session(self.engine) as session:
            site = self._policy(session)
            status = analysis_status(session)
            if status["generation"] == status["analyzed_generation"]:
                return False
            started = time.perf_counter()
            # the lock held from the counters to the end of the analysis: no batch reaches the digest
            # in between (it would be ahead of the counters read, and the child would read every fact again)
            with self.lock:
                with self.between_batches():
                    self._fold_queue()
                    gen, facts = generation(session), facts_generation(session)
                    stale = self._chain != facts or not same_policy(self._site_analyzed, site)
                    if self.gate.due(gen, facts, time.monotonic(), other_writer=stale) is None:
                        return False
                    if stale:  # read every fact while no batch is written: the digest is then at `facts`
                        built = self.analyst.rebuild()
                        self.rebuilds += built.rebuilt
                        if built.error is not None:
                            self._chain = None
                            raise AnalysisError(built.error)
                        self._chain = built.digest_generation
                # sensors go on storing while the child analyzes; their batches wait in the queue meanwhile
                done = self.analyst.analyze(gen, facts)
                self._chain = done.digest_generation
                self._site_analyzed = site if done.error is None else None
            for event in done.reopened:
                if self.notify is not None:
                    self.notify(event)
            if done.error is not None:
                raise AnalysisError(done.error)
            self.gate.analyzed(gen, facts, time.monotonic())
            self.last_duration = time.perf_counter() - started
            self.analyses += 1
        return True
