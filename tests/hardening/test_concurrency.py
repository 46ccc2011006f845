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

import functools
import json
import socket
import ssl
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
from tests import needs
from tests.api.factories import sheet as make_sheet

EDITORS = 20
ROUNDS = 4  # 20 editors released by one barrier race from the first round on (at least 10 conflicts asserted)
SENSORS = 4
BATCHES = 8
PER_BATCH = 25
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


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
        needs.missing("PostgreSQL on 127.0.0.1:5432", str(exc).splitlines()[0])
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

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def client(self) -> httpx.Client:
        """A client of its own (own connections), sharing one TLS context: httpx builds one per client unless
        given one (50 ms of CPU loading the CA bundle, each), and these URLs are plain http anyway."""
        return httpx.Client(base_url=self.base, timeout=60, verify=_tls())

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
        with srv.client() as c:
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
            with srv.client() as c:
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
            with srv.client() as c:
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

        with srv.client() as c:
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


WRITERS = 6
READERS = 6
INGESTERS = 2
MIXED_SECONDS = 3.0
STATUSES = ("acknowledged", "open", "false-positive")


def _seed_findings(srv: Server, count: int) -> list[str]:
    """Findings to review, stored through the analysis storage (not the ingest path)."""
    import datetime as dt

    from analyzer.models import Finding
    from store.records import save_findings

    found = [Finding(id=f"MT-conc-{i:03d}", rule="cleartext-medical", severity="high", title="t", subject=f"s{i}",
                     service="it") for i in range(count)]
    with Session(srv.app.state.engine) as session:
        save_findings(session, found, today=dt.date(2026, 3, 2))
        session.commit()
    return [f.id for f in found]


def run_mixed(db_url: str) -> Counter[int]:
    """Writers review findings and create sheets while readers list and fetch, for MIXED_SECONDS.

    Issue 18 item 9: on SQLite a deferred transaction that read first and then wrote could get
    SQLITE_BUSY at once ("database is locked", a 500) instead of waiting its turn.
    """
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    with Server(db_url) as srv:
        ids = _seed_findings(srv, 40)
        editor = {"Authorization": f"Bearer {srv.token('biomedical')}"}
        viewer = {"Authorization": f"Bearer {srv.token('viewer')}"}
        deadline = 0.0

        def start_the_clock() -> None:  # run once, when every thread is at the barrier, before any goes on
            nonlocal deadline
            deadline = time.monotonic() + MIXED_SECONDS

        barrier = threading.Barrier(WRITERS + READERS + INGESTERS, action=start_the_clock)

        def note(resp: httpx.Response) -> None:
            with lock:
                statuses[resp.status_code] += 1
                if resp.status_code >= 500 or "locked" in resp.text.lower():
                    bad.append(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:200]}")

        def writer(worker: int) -> None:
            with srv.client() as c:
                barrier.wait()
                n = 0
                while time.monotonic() < deadline:
                    finding = ids[(worker * 7 + n) % len(ids)]
                    status = STATUSES[n % len(STATUSES)]
                    body = {"status": status, "justification": "concurrency test" if status != "open" else None}
                    note(c.patch(f"/findings/{finding}", json=body, headers=editor))
                    sheet = json.loads(make_sheet(f"SH-MIX-{worker}-{n}").model_dump_json())
                    note(c.post("/sheets", json=sheet, headers=editor))
                    n += 1

        sensors = {w: {"Authorization": f"Bearer {srv.token('sensor', f'mixed-{w}')}"} for w in range(INGESTERS)}

        def ingester(worker: int) -> None:
            with srv.client() as c:
                barrier.wait()
                batch = 0
                while time.monotonic() < deadline:
                    payload = {"sensor": f"mixed-{worker}", "seq": batch, "schema_version": 1,
                               "observations": _observations(worker, batch % 250)}
                    note(c.post("/ingest", json=payload, headers=sensors[worker]))
                    batch += 1

        def reader(worker: int) -> None:
            with srv.client() as c:
                barrier.wait()
                n = 0
                while time.monotonic() < deadline:
                    note(c.get("/findings", params={"limit": 50}, headers=viewer))
                    note(c.get(f"/findings/{ids[(worker + n) % len(ids)]}", headers=viewer))
                    note(c.get("/sheets", params={"limit": 20}, headers=viewer))
                    note(c.get("/devices", headers=viewer))
                    n += 1

        def guarded(target: Any, arg: int) -> None:
            try:
                target(arg)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=guarded, args=(writer, w)) for w in range(WRITERS)]
        threads += [threading.Thread(target=guarded, args=(reader, r)) for r in range(READERS)]
        threads += [threading.Thread(target=guarded, args=(ingester, s)) for s in range(INGESTERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        assert not bad, f"{len(bad)} server errors, first: " + "\n".join(bad[:5])
    assert set(statuses) <= {200, 201}, statuses
    assert statuses[201] >= WRITERS, statuses  # writes really happened while reading
    return statuses


def test_mixed_reviews_creates_and_reads_sqlite(sqlite_db: str) -> None:
    statuses = run_mixed(sqlite_db)
    assert statuses[200] > READERS * 4, statuses


def test_every_sqlite_connection_has_wal_and_busy_timeout(sqlite_db: str) -> None:
    """The app engine and the CLI's session_for (and so the alembic upgrade, which uses make_engine) wait 5 s."""
    from store.db import make_engine, session_for, upgrade

    upgrade(sqlite_db)
    engine = make_engine(sqlite_db)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    with session_for(sqlite_db) as session:
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
