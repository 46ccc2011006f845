"""The central's analysis process: it owns the in-memory facts (analyzer.digest) and runs the analyses.

Why a process: a central answers sensors and the UI in threads that share one interpreter lock, and an
analysis at hospital scale is seconds of Python.  In a thread it took that lock from every request
(twenty sensors posting at once waited behind it, and it behind them); in its own process it runs on
another core while the server stores batches and answers reads.  The child is forked from a fork
server (multiprocessing's forkserver: a clean single-threaded process that loaded the analysis modules
once): forked from the server itself it could inherit a lock another thread held (it did: a child
stuck for ever opening its database).  It opens its own database connections and is fed in order:
the records of each stored batch (`fold`), then a request to analyze (`analyze`), answered with what
it did.  It is restarted, digest rebuilt from the store, if it died.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

PRELOAD = ["store.analyst", "store.service", "analyzer.engine", "analyzer.digest", "store.db"]
"""Modules the fork server imports once, so a new analysis process starts in milliseconds."""


@dataclass
class AnalysisDone:
    """What one analysis in the child did (sent back to the server's analyzer thread)."""

    digest_generation: int | None
    """The facts generation the child's digest is at (None: it has none)."""
    rebuilt: bool = False
    """The digest was read again from the store (another writer, a new policy, a restart)."""
    reopened: list[dict[str, Any]] = field(default_factory=list)
    """Findings that reopened, as notifications (store.service._emit's fields)."""
    error: str | None = None


class AnalystProcess:
    """Handle on the analysis child; every method is called under the owner's lock (store.autoanalyze)."""

    def __init__(self, engine: Engine, rules_dir: Path | None) -> None:
        self.engine = engine
        self.rules_dir = rules_dir
        self._conn: Connection | None = None
        self._process: Any = None

    def _alive(self) -> bool:
        return self._conn is not None and self._process is not None and self._process.is_alive()

    def _child(self) -> Connection:
        if self._conn is None or not self._alive():
            self.close()
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)  # no effect once the process's fork server runs
            ours, theirs = ctx.Pipe()
            url = self.engine.url.render_as_string(hide_password=False)
            self._process = ctx.Process(target=serve, args=(theirs, url, self.rules_dir),
                                        name="medtap-analyst", daemon=True)
            self._process.start()
            theirs.close()
            self._conn = ours
            return ours
        return self._conn

    def fold(self, previous: int, generation: int, records: Sequence[Any]) -> bool:
        """Send one stored batch's records (facts generation `previous` -> `generation`); False if the
        child is gone (the next analysis restarts it and rebuilds)."""
        if not self._alive() or self._conn is None:
            return False  # no child, or a dead one: the next analysis starts one, which reads the store
        try:
            self._conn.send(("fold", previous, generation, list(records)))
            return True
        except (OSError, EOFError):
            self.close()
            return False

    def rebuild(self) -> AnalysisDone:
        """Read every stored fact into a new digest; call while no batch is being written (the owner's
        turn), so the digest and the store's facts counter agree."""
        return self._ask(("rebuild",))

    def analyze(self, generation: int, facts: int) -> AnalysisDone:
        """Analyze the store as of `generation` with the digest at facts generation `facts`; wait for it."""
        return self._ask(("analyze", generation, facts))

    def _ask(self, message: tuple[Any, ...]) -> AnalysisDone:
        try:
            conn = self._child()
            conn.send(message)
            done: AnalysisDone = conn.recv()
            return done
        except (OSError, EOFError) as exc:
            self.close()
            return AnalysisDone(digest_generation=None,
                                error=f"analysis process lost: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = None


def serve(conn: Connection, db_url: str, rules_dir: Path | None) -> None:
    """The child's loop: fold batches into the digest, analyze on request, until told to stop or the server
    is gone (end of input)."""
    from store.db import make_engine

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us between analyses
    engine = make_engine(db_url)
    state = _State(engine, rules_dir)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "fold":
            state.fold(*message[1:])
        elif message[0] == "analyze":
            conn.send(state.analyze(*message[1:]))
        elif message[0] == "rebuild":
            conn.send(state.rebuild())
        else:
            return


class _State:
    def __init__(self, engine: Engine, rules_dir: Path | None) -> None:
        self.engine = engine
        self.rules_dir = rules_dir
        self.digest: Any = None

    def fold(self, previous: int, generation: int, records: list[Any]) -> None:
        digest = self.digest
        if digest is None:
            return
        if digest.generation == previous:
            digest.add_many(records)
            digest.generation = generation
        else:  # a batch went missing (a lost child): read the store again at the next analysis
            self.digest = None

    def _all_facts(self) -> Iterator[Any]:
        """Every stored fact, on a session of its own (the digest outlives the session that built it)."""
        from store.facts import iter_facts

        with Session(self.engine) as session:
            yield from iter_facts(session)

    def rebuild(self) -> AnalysisDone:
        from store.facts import stored_policy
        from store.service import stored_digest

        self.digest = None
        try:
            with Session(self.engine) as session:
                digest = stored_digest(session, site=stored_policy(session))
        except Exception as exc:  # noqa: BLE001 - reported to the server's thread, which logs and goes on
            return AnalysisDone(digest_generation=None, error=f"{type(exc).__name__}: {exc}\n"
                                                            f"{traceback.format_exc(limit=8)}")
        digest.raw = self._all_facts
        self.digest = digest
        return AnalysisDone(digest_generation=digest.generation, rebuilt=True)

    def analyze(self, generation: int, facts: int) -> AnalysisDone:
        from store.service import reanalyze

        reopened: list[dict[str, Any]] = []
        digest = self.digest
        try:
            with Session(self.engine) as session:
                if digest is None or digest.generation != facts:
                    # the owner rebuilds in its turn, policy changes included, before it asks
                    # (AutoAnalyzer.analyze_if_changed): this is a guard, not a path
                    self.digest = None
                    return AnalysisDone(digest_generation=None,
                                        error="the digest is not current: rebuilt at the next analysis")
                # the owner keeps the digest current (batches folded in order): not checked against the store
                reanalyze(session, site=digest.site, rules_dir=self.rules_dir, record_run=False,
                          notify=reopened.append, digest=digest, digest_lock=contextlib.nullcontext(),
                          generation_read=generation)
        except Exception as exc:  # noqa: BLE001 - reported to the server's thread, which logs and goes on
            self.digest = None
            return AnalysisDone(digest_generation=None,
                                error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        return AnalysisDone(digest_generation=digest.generation, reopened=reopened)
