"""The central's analyst: a background thread of `medtap serve` that analyzes whenever the store changed.

Sensors' batches (POST /ingest), sheet edits and imports bump the store generation
(api.facts_store); this thread wakes every `interval` seconds, or at once when kicked by a
sheet change, and re-analyzes when the generation moved past the last analysis or when the
site policy file changed on disk.  So a central shows the devices and findings of an ingested
batch within seconds with no manual step, and a saved sheet or policy is re-matched at once.
The analysis reads the stored facts (its cost follows devices, conversations and identity
values, not the frames sensors saw) and writes only what changed.  Reopened findings are sent to
the notifier.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

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
        from api.facts_store import save_policy, stored_policy

        if self.site_file is None:
            return stored_policy(session)
        mtime = Path(self.site_file).stat().st_mtime
        if mtime != self._site_mtime:
            from analyzer.site import load_site

            self._site, self._site_mtime = load_site(self.site_file), mtime
            save_policy(session, self._site, source=str(self.site_file), actor="serve")
        return self._site

    def analyze_if_changed(self) -> bool:
        """One look: analyze if the store or the policy changed since the last analysis; True if it did."""
        from api.facts_store import analysis_status
        from api.service import reanalyze

        with Session(self.engine) as session:
            site = self._policy(session)
            status = analysis_status(session)
            if status["generation"] == status["analyzed_generation"]:
                return False
            started = time.perf_counter()
            reanalyze(session, site=site, rules_dir=self.rules_dir, record_run=False, notify=self.notify)
            self.last_duration = time.perf_counter() - started
            self.analyses += 1
        return True
