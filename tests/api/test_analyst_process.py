"""The central analyzes in a process of its own (store.analyst), and batches take their turns in order.

- the analysis runs in a child process, not in the server's threads; killed, it is started again and
  the next batch still shows (its digest rebuilt from the store);
- batches are stored one at a time in arrival order, and an analysis waiting for its turn goes first
  (store.autoanalyze: no batch, and no analysis, waits behind twenty others picked at random).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from store.autoanalyze import AutoAnalyzer
from store.db import make_engine
from tests.api.conftest import make_api
from tests.api.test_central_live import V1, _demo_batch, _devices, _within


def test_the_analysis_runs_in_a_child_process_and_survives_its_death(sqlite_url: str) -> None:
    for api in make_api(sqlite_url, analyze_interval=0.2):
        post = {"sensor": "test-sensor", "schema_version": 1}
        assert api.post(f"{V1}/ingest", "sensor", json={**post, "seq": 1,
                                                         "observations": _demo_batch()}).status_code == 201
        _within(10, lambda: _devices(api))  # noqa: B023 - called within this iteration
        analyzer = api.app.state.analyzer  # type: ignore[attr-defined]
        child = analyzer.analyst._process
        assert child is not None and child.is_alive() and child.pid != os.getpid()
        assert analyzer.rebuilds == 1

        os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        before = len(_devices(api))
        assert api.post(f"{V1}/ingest", "sensor", json={**post, "seq": 2,
                                                         "observations": _demo_batch("demo-clinical.pcap")}
                        ).status_code == 201
        _within(10, lambda: len(_devices(api)) > before)  # noqa: B023 - idem
        again = analyzer.analyst._process
        assert again is not None and again.is_alive() and again.pid != child.pid
        assert analyzer.rebuilds == 2  # the new process read the stored facts once, then follows the batches


def test_batches_take_turns_in_arrival_order_and_a_waiting_analysis_goes_first(tmp_path: Path) -> None:
    analyzer = AutoAnalyzer(make_engine(f"sqlite:///{tmp_path / 'turns.db'}"))  # not started: turns only
    order: list[str] = []
    release = threading.Event()

    def batch(name: str) -> None:
        with analyzer.storing():
            order.append(name)
            if name == "first":
                release.wait(10)

    def analysis() -> None:
        with analyzer.between_batches():
            order.append("analysis")

    first = threading.Thread(target=batch, args=("first",))
    first.start()
    _wait_until(lambda: order == ["first"])
    threads = []
    for i in range(5):  # they queue while the first batch holds its turn, in this order
        threads.append(threading.Thread(target=batch, args=(f"b{i}",)))
        threads[-1].start()
        _wait_until(lambda: len(analyzer._waiting) == i + 1)  # noqa: B023 - called within this iteration
    threads.append(threading.Thread(target=analysis))
    threads[-1].start()
    _wait_until(lambda: len(analyzer._waiting) == 6)
    release.set()
    for t in [first, *threads]:
        t.join(10)
    assert order == ["first", "analysis", "b0", "b1", "b2", "b3", "b4"]
    assert not analyzer._busy and not analyzer._waiting


def _wait_until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.005)
