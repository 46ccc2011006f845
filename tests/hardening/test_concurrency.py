"""Concurrency against a real uvicorn server on 127.0.0.1, on SQLite (file, WAL) and on the real PostgreSQL.

20 clients edit the same identification sheet with optimistic concurrency (a
stale version gets 409), while 4 sensors ingest batches (each batch sent twice,
as a retry would).  Afterwards: no lost update (final version == 1 + successful
updates, and the audit log has one update entry per success), no duplicate
observation, and every response a client saw was 2xx or 409: never a 500, never
"database is locked".  PostgreSQL: a fresh database per test on 127.0.0.1:5432;
unreachable -> skip locally, FAIL in CI (env CI set).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from api.auth import create_token
from tests.api.factories import sheet as make_sheet

EDITORS = 20
ROUNDS = 6
SENSORS = 4
BATCHES = 12
PER_BATCH = 25
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'conc.db'}"


@pytest.fixture
def pg_db() -> Iterator[str]:
    import psycopg

    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"medtap_conc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    """The real app under uvicorn in a thread, on 127.0.0.1."""

    def __init__(self, db_url: str) -> None:
        import uvicorn

        from api.main import create_app
        from api.settings import Settings

        self.app = create_app(Settings(db_url=db_url, secret_key="c" * 32), web=False)
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{self.port}/api/v1"

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def token(self, role: str, sensor: str | None = None) -> str:
        with Session(self.app.state.engine) as session:
            return create_token(session, role=role, name=f"c-{role}-{uuid.uuid4().hex[:4]}", sensor=sensor)


def _observations(sensor: int, batch: int) -> list[dict[str, Any]]:
    out = []
    for i in range(PER_BATCH):
        n = (sensor * BATCHES + batch) * PER_BATCH + i
        out.append({"kind": "host", "ts": 1700000000.0 + n, "mac": f"02:00:{sensor:02x}:{batch:02x}:{i // 256:02x}:{i % 256:02x}",
                    "ip": f"10.{sensor}.{batch}.{i + 1}", "first_ts": 1700000000.0 + n, "last_ts": 1700000001.0 + n,
                    "frames": 1, "bytes": 60})
    return out


def run_storm(db_url: str) -> None:
    statuses: Counter[int] = Counter()
    bodies: list[str] = []
    lock = threading.Lock()
    successes = 0
    bases: list[int] = []  # the version each successful edit was based on: two successes on one base = a lost update
    with Server(db_url) as srv:
        editor = {"Authorization": f"Bearer {srv.token('biomedical')}"}
        sensor_tokens = [{"Authorization": f"Bearer {srv.token('sensor', f'sensor-{i}')}"} for i in range(SENSORS)]
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            created = c.post("/sheets", json=json.loads(make_sheet("SH-CONC").model_dump_json()), headers=editor)
            assert created.status_code == 201, created.text
        barrier = threading.Barrier(EDITORS + SENSORS)

        def note(resp: httpx.Response) -> None:
            with lock:
                statuses[resp.status_code] += 1
                if resp.status_code >= 500 or "locked" in resp.text.lower():
                    bodies.append(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:200]}")

        def edit(worker: int) -> None:
            nonlocal successes
            with httpx.Client(base_url=srv.base, timeout=60) as c:
                barrier.wait()
                for rnd in range(ROUNDS):
                    got = c.get("/sheets/SH-CONC", headers=editor)
                    note(got)
                    if got.status_code != 200:
                        continue
                    version = got.json()["version"]
                    body = {"sheet": json.loads(make_sheet("SH-CONC", software_version=f"w{worker}r{rnd}").model_dump_json()),
                            "version": version}
                    put = c.put("/sheets/SH-CONC", json=body, headers={**editor, "If-Match": f'"{version}"'})
                    note(put)
                    if put.status_code == 200:
                        with lock:
                            successes += 1
                            bases.append(version)
                        assert put.json()["version"] == version + 1
                    # a stale write (the version read two writes ago) must always conflict
                    if rnd == 0 and put.status_code == 200:
                        stale = c.put("/sheets/SH-CONC", json=body, headers={**editor, "If-Match": f'"{version}"'})
                        note(stale)
                        assert stale.status_code == 409, stale.text

        def ingest(sensor: int) -> None:
            with httpx.Client(base_url=srv.base, timeout=60) as c:
                barrier.wait()
                for batch in range(BATCHES):
                    payload = {"sensor": f"sensor-{sensor}", "seq": batch, "schema_version": 1,
                               "observations": _observations(sensor, batch)}
                    first = c.post("/ingest", json=payload, headers=sensor_tokens[sensor])
                    note(first)
                    retry = c.post("/ingest", json=payload, headers=sensor_tokens[sensor])
                    note(retry)
                    assert first.status_code == 201 or retry.status_code in (200, 201), (first.text, retry.text)
                    if first.status_code == 201:
                        assert retry.status_code == 200 and retry.json()["stored"] is False

        threads = [threading.Thread(target=edit, args=(w,)) for w in range(EDITORS)]
        threads += [threading.Thread(target=ingest, args=(s,)) for s in range(SENSORS)]
        errors: list[BaseException] = []

        def guard(target: Any) -> Any:
            def run(*args: Any) -> None:
                try:
                    target(*args)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
            return run

        for t in threads:
            t._target = guard(t._target)  # type: ignore[attr-defined]
            t.start()
        for t in threads:
            t.join(240)
        assert not errors, errors[:3]
        assert not bodies, "\n".join(bodies[:10])
        assert set(statuses) <= {200, 201, 409}, statuses
        assert statuses[409] >= EDITORS // 2, statuses  # the storm really raced

        with httpx.Client(base_url=srv.base, timeout=60) as c:
            final = c.get("/sheets/SH-CONC", headers=editor).json()
        assert successes > 0
        assert final["version"] == 1 + successes, (final["version"], successes)
        assert sorted(bases) == list(range(1, 1 + successes)), "two edits succeeded on the same version (lost update)"
        with srv.app.state.engine.connect() as conn:
            audited = conn.execute(text("SELECT count(*) FROM audit WHERE entity_id = 'SH-CONC' AND action = 'update'")).scalar()
            # every observation stored once: the facts stand for exactly what was sent, none twice
            obs = conn.execute(text("SELECT sum(count) FROM fact")).scalar()
            batches = conn.execute(text("SELECT count(*) FROM ingest_batch")).scalar()
            dupes = conn.execute(text("SELECT count(*) FROM (SELECT fkey FROM fact GROUP BY fkey "
                                      "HAVING count(*) > 1) d")).scalar()
        assert audited == successes
        assert batches == SENSORS * BATCHES
        assert obs == SENSORS * BATCHES * PER_BATCH
        assert dupes == 0


def test_storm_sqlite_wal(sqlite_db: str) -> None:
    run_storm(sqlite_db)
    import sqlite3

    conn = sqlite3.connect(sqlite_db.removeprefix("sqlite:///"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_storm_postgresql(pg_db: str) -> None:
    run_storm(pg_db)
