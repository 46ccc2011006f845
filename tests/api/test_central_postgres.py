"""Several sensors, one central server on the real PostgreSQL, nothing lost.

Four sensors forward 80 batches each while the central `medtap serve` process is
stopped and restarted twice; afterwards every observation is stored exactly once.
The central runs as a real uvicorn subprocess on 127.0.0.1 against a database of
its own on 127.0.0.1:5432 (created and dropped by the test).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from collector.forward import ForwardSink
from collector.schema import Weird
from tests import needs

SENSORS = 4
BATCHES = 40
PER_BATCH = 5
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_or_fail() -> None:
    import psycopg

    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        needs.missing("PostgreSQL on 127.0.0.1:5432", str(exc).splitlines()[0])


@pytest.fixture
def central_db() -> str:
    """A fresh database on the real server, dropped afterwards."""
    _pg_or_fail()
    import psycopg

    name = f"medtap_central_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _medtap(*args: str) -> str:
    """The CLI in-process (typer's runner): the central itself runs as a real process below."""
    from typer.testing import CliRunner

    from api.cli import app

    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.stdout.strip()


class _Central:
    def __init__(self, db: str, port: int, log: Path) -> None:
        self.db, self.port, self.log = db, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--db", self.db, "--port", str(self.port)],
                stdout=fh, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("central did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.mark.postgres
def test_four_sensors_through_two_outages_store_everything_once(central_db: str, tmp_path: Path) -> None:
    _medtap("db", "upgrade", "--db", central_db)
    tokens = [_medtap("token", "create", "--role", "sensor", "--name", f"sensor-{i}", "--db", central_db).splitlines()[-1]
              for i in range(SENSORS)]  # each sensor token may ingest only as its own sensor id
    port = _free_port()
    central = _Central(central_db, port, tmp_path / "central.log")
    central.start()

    progress = [0] * SENSORS
    errors: list[BaseException] = []

    def sensor(index: int) -> None:
        try:
            sink = ForwardSink(
                f"http://127.0.0.1:{port}", token=tokens[index], sensor=f"sensor-{index}",
                spool_dir=tmp_path / f"spool-{index}", timeout=2.0,
            )
            for b in range(BATCHES):
                sink.emit([Weird(ts=float(b), name="central_test", detail=f"{index}:{b}:{k}") for k in range(PER_BATCH)])
                progress[index] = b + 1
                time.sleep(0.005)
            sink.close(retries=240, delay=0.5)  # up to 2 min for the restarted central (busy machine)
            assert sink.pending_batches() == 0, sink.stats()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sensor, args=(i,)) for i in range(SENSORS)]
    for t in threads:
        t.start()
    try:
        for threshold in (8, 24):  # two outages, each while the sensors keep sending
            while min(progress) < threshold and any(t.is_alive() for t in threads):
                time.sleep(0.02)
            central.stop()
            time.sleep(0.5)
            central.start()
        for t in threads:
            t.join(timeout=240)
    finally:
        central.stop()
    assert not errors, errors
    assert all(p == BATCHES for p in progress)

    import psycopg

    plain = central_db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        batches = conn.execute("SELECT sensor, count(*), count(DISTINCT seq) FROM ingest_batch GROUP BY sensor ORDER BY sensor").fetchall()
        # every observation stored once: the facts stand for exactly what the sensors sent
        observations = conn.execute("SELECT sensor, sum(count) FROM fact GROUP BY sensor ORDER BY sensor").fetchall()
    assert batches == [(f"sensor-{i}", BATCHES, BATCHES) for i in range(SENSORS)]
    assert observations == [(f"sensor-{i}", BATCHES * PER_BATCH) for i in range(SENSORS)]
