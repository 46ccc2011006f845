"""When a running capture or a central analyzes again: when something new was stored, not after every batch.

A sensor on a quiet network stores, every flush period, facts it already had: the same hosts, the same
conversations, with bigger counters and a later last-seen time (store.facts).  Re-evaluating the
inventory and every rule for that costs in proportion to the inventory, for findings that cannot
change but for their last-seen time.  So an analysis is due when
- a batch brought a fact the store did not hold (a new device, a new peer, a new name...): at once,
  so what is new shows within one flush period (a capture) or one look (a central);
- something that is not a fact changed: a sheet, the site policy (the store generation moved by
  more than the facts counter);
- the refresh period passed since the last analysis (`MEDTAP_REFRESH_SECONDS`, 60 by default):
  then counters, last-seen times, silence windows and "no longer observed" closings catch up.
So in a steady state the analysis cost follows what is new on the network, not the batches stored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from store.envsetting import number_setting

REFRESH_ENV = "MEDTAP_REFRESH_SECONDS"
REFRESH_DEFAULT = 60.0


def refresh_seconds() -> float:
    """Seconds after which an analysis runs even if nothing new was stored (MEDTAP_REFRESH_SECONDS)."""
    return number_setting(REFRESH_ENV, REFRESH_DEFAULT, unit="seconds")


@dataclass
class AnalysisGate:
    """Counts what was stored since the last analysis and says whether the next one is due (module docstring).

    `stored` may be called from ingest threads while an analysis runs: an analysis consumes only the new
    facts counted when it was found due, so a fact stored meanwhile triggers the next one.
    """

    refresh: float = field(default_factory=refresh_seconds)
    new_facts: int = 0
    analyses: int = 0
    skipped: int = 0
    _generation: int | None = None
    _facts: int = 0
    _at: float = 0.0
    _taken: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stored(self, result: Any) -> None:
        """Count one written batch (store.facts.StoreResult)."""
        if result.stored and result.new_facts:
            with self._lock:
                self.new_facts += result.new_facts

    def due(self, generation: int, facts: int, now: float, *, other_writer: bool = False) -> str | None:
        """Why an analysis is due now (None: it is not; counted as skipped).

        `generation` and `facts` are the store's counters (store.facts), `now` the clock the refresh
        period is counted in (packet time for a capture, wall time for a central); `other_writer`: facts
        were stored that this gate did not count (another process wrote), so what they hold is unknown.
        """
        with self._lock:
            reason = "another writer stored facts" if other_writer else self._reason(generation, facts, now)
            if reason is None:
                self.skipped += 1
            else:
                self._taken = self.new_facts
            return reason

    def _reason(self, generation: int, facts: int, now: float) -> str | None:
        if self._generation is None:
            return "first analysis"
        if generation == self._generation:
            return None  # nothing written at all
        if self.new_facts:
            return "new facts"
        if generation - self._generation != facts - self._facts:
            return "sheets or policy changed"
        if now - self._at >= self.refresh:
            return "refresh period"
        return None

    def analyzed(self, generation: int, facts: int, now: float) -> None:
        """An analysis that reflects the store at these counters (read before it began) has ended."""
        with self._lock:
            self._generation, self._facts, self._at = generation, facts, now
            self.new_facts -= self._taken
            self._taken = 0
            self.analyses += 1
