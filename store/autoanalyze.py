"""The central's analyst: a background thread of `medtap serve` that analyzes whenever the store changed.

Sensors' batches (POST /ingest), sheet edits and imports bump the store generation
(store.facts); this thread wakes every `interval` seconds, or at once when kicked by a
sheet change, and re-analyzes when the generation moved past the last analysis or when the
site policy file changed on disk.  So a central shows the devices and findings of an ingested
batch within seconds with no manual step, and a saved sheet or policy is re-matched at once.
The facts are kept in memory (analyzer.digest): each ingested batch is folded in as it is stored
(`fold`, under `lock`), so an analysis costs the evaluation of the inventory and the rules, not a
re-read of the store; the digest is rebuilt from the stored facts only when another process wrote
(a replay into the central's database) or the policy changed.  Analyses write only what changed.
Reopened findings are sent to the notifier.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.freshness import AnalysisGate

log = logging.getLogger("medtap.analyzer")


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
        """Held while a batch is stored and folded, and while an analysis reads the digest."""
        self.digest: Any = None
        """The facts in memory (analyzer.digest), folded batch by batch as they are ingested: an analysis
        costs what the inventory and findings cost to evaluate, not a re-read of every fact."""
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

    def fold(self, result: Any) -> None:
        """Follow one stored batch (store.facts.StoreResult) in the in-memory digest; call under `lock`.

        A batch that is not the next one the digest expects (another process wrote meanwhile) drops the
        digest: the next analysis reads the facts again."""
        self.gate.stored(result)
        digest = self.digest
        if digest is None or not result.stored:
            return
        if digest.generation == result.previous_facts_generation:
            digest.add_many(result.records_stored)
            digest.generation = result.facts_generation
        else:
            self.digest = None

    def _all_facts(self) -> Any:
        """Every stored fact, on a session of its own (the digest outlives the session that built it)."""
        from store.facts import iter_facts

        with Session(self.engine) as session:
            yield from iter_facts(session)

    def analyze_if_changed(self) -> bool:
        """One look: analyze if the store or the policy changed since the last analysis; True if it did."""
        from store.facts import analysis_status, facts_generation, generation
        from store.service import reanalyze, same_policy, stored_digest

        with Session(self.engine) as session:
            site = self._policy(session)
            status = analysis_status(session)
            if status["generation"] == status["analyzed_generation"]:
                return False
            started = time.perf_counter()
            with self.lock:
                gen, facts = generation(session), facts_generation(session)
                digest = self.digest
                stale = (digest is None or digest.generation != facts or not same_policy(digest.site, site))
                if self.gate.due(gen, facts, time.monotonic(), other_writer=stale) is None:
                    return False
                if stale:
                    digest = self.digest = stored_digest(session, site=site)
                    digest.raw = self._all_facts
                    self.rebuilds += 1
            # ingest waits only while the digest is read, not while devices and findings are written
            reanalyze(session, site=digest.site, rules_dir=self.rules_dir, record_run=False,
                      notify=self.notify, digest=digest, digest_lock=self.lock)
            self.gate.analyzed(gen, facts, time.monotonic())
            self.last_duration = time.perf_counter() - started
            self.analyses += 1
        return True
