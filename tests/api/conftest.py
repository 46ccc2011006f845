"""API test fixtures: the app on a fresh SQLite file and on the real PostgreSQL (unique schema per session).

PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/test (env MEDTAP_TEST_PG overrides).
Unreachable PostgreSQL skips those tests, except in CI (env CI set) where it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from tests import needs

PG_URL = os.environ.get("MEDTAP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url() -> Iterator[str]:
    import psycopg

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(plain, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        needs.missing("PostgreSQL on 127.0.0.1:5432", str(exc).splitlines()[0])
    schema = "medtap_t_" + uuid.uuid4().hex[:12]
    conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


# Migrating a new database costs about 0.4 s (SQLite) to 1 s (PostgreSQL), and several hundred tests
# each want one: each worker migrates once, then every test gets a copy (SQLite) or the same schema
# emptied back to its migrated rows (PostgreSQL).  Tests of the migrations themselves use
# `fresh_db_url`, a database with no table at all.


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from store.db import upgrade

    path = tmp_path_factory.mktemp("template") / "medtap.db"
    upgrade(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:  # one self-contained file: no WAL beside it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


def _sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "medtap.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class _MigratedSchema:
    """A PostgreSQL schema migrated once; `reset()` empties it back to the rows the migrations wrote.

    Emptied with DELETE, children first, and its sequences restarted: what TRUNCATE ... RESTART IDENTITY
    does, in a fifth of the time on the few rows a test writes (TRUNCATE makes new files for every table).
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import MetaData, create_engine, text

        from store.db import upgrade

        upgrade(url)
        self.url = url
        self.engine = create_engine(url, poolclass=NullPool)
        with self.engine.connect() as conn:
            self.tables = [row[0] for row in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"))]
            self.seed = {t: [dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{t}"'))]
                         for t in self.tables}
            self.sequences = [row[0] for row in conn.execute(text(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema()"))]
        self.meta = MetaData()  # reflected once: the schema does not change between tests
        self.meta.reflect(self.engine, only=self.tables)
        self.children_first = [t.name for t in reversed(self.meta.sorted_tables)]
        assert sorted(self.children_first) == sorted(self.tables)

    def reset(self) -> str:
        from sqlalchemy import insert, text

        with self.engine.begin() as conn:
            for table in self.children_first:
                conn.execute(text(f'DELETE FROM "{table}"'))
            for sequence in self.sequences:
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
            for table, rows in self.seed.items():
                if rows:
                    conn.execute(insert(self.meta.tables[table]), rows)
        return self.url


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[_MigratedSchema]:
    for url in _pg_schema_url():
        schema = _MigratedSchema(url)
        yield schema
        schema.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite (a file in tmp_path) or the real PostgreSQL."""
    if request.param == "sqlite":
        return _sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path)
    schema: _MigratedSchema = request.getfixturevalue("_pg_migrated")
    return schema.reset()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no table at all (for tests of the migrations)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'medtap.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database in tmp_path."""
    return _sqlite_copy(_sqlite_template, tmp_path)


class Api:
    """A TestClient plus one token per role and a session factory on the app's engine."""

    def __init__(self, client: TestClient) -> None:
        from api.auth import ROLES, create_token

        self.client = client
        self.app = client.app
        with self.session() as session:
            self.tokens = {role: create_token(session, role=role, name=f"test-{role}") for role in ROLES}

    def session(self) -> Session:
        return Session(self.app.state.engine)  # type: ignore[attr-defined]

    def h(self, role: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def get(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.get(url, headers=self.h(role, **kw.pop("headers", {})), **kw)

    def post(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.post(url, headers=self.h(role, **kw.pop("headers", {})), **kw)

    def put(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.put(url, headers=self.h(role, **kw.pop("headers", {})), **kw)

    def patch(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.patch(url, headers=self.h(role, **kw.pop("headers", {})), **kw)

    def delete(self, url: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.delete(url, headers=self.h(role, **kw.pop("headers", {})), **kw)


def make_api(db_url: str, **settings: Any) -> Iterator[Api]:
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=db_url, **settings), web=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client)


# These fixtures' tests seed a hand-built inventory (devices and findings with no facts behind them):
# the central's background analysis would rebuild it from the (empty) facts store at its first
# change, at a moment that depends on the load.  Tests of that analysis use make_api themselves.
@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    yield from make_api(db_url, auto_analyze=False)


@pytest.fixture
def api_sqlite(sqlite_url: str) -> Iterator[Api]:
    yield from make_api(sqlite_url, auto_analyze=False)
