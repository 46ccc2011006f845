"""API test fixtures: the app on a fresh SQLite file and on the real PostgreSQL (unique schema per session).

PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/test (env MEDTAP_TEST_PG overrides).
Unreachable PostgreSQL skips those tests, except in CI (env CI set) where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'medtap.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'medtap.db'}"


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
