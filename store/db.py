"""Database engines: SQLite (WAL, busy timeout) or PostgreSQL (psycopg 3), and alembic upgrades.

No engine exists at import time: `make_engine(url)` builds one when asked, so
tests and the CLI pick their own database.  `upgrade(url)` applies the alembic
revisions in store/migrations programmatically (`medtap db upgrade`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_CACHE_KIB = 32768
"""Page cache of a command's SQLite connection (SQLite's default is 2 MiB).  A replay inserts facts under a
random 64-bit key: past a few hundred thousand facts their unique index outgrows 2 MiB and each insert
reads pages back from the OS.  With 32 MiB, inserting 400,000 facts in batches of 5,000 took 18 % less
time (9.1 -> 7.5 s, a synthetic table of the fact schema, the same machine back to back).  The cache
fills only as pages are read: a small database costs what it did.  The web server's pooled connections
keep the default (many of them, mostly reading)."""


def _pragmas(*statements: str) -> Any:
    """A "connect" listener that runs these PRAGMA statements on every new SQLite connection."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for statement in statements:
            cur.execute(statement)
        cur.close()

    return on_connect


_sqlite_pragmas = _pragmas("PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and a 5 s busy timeout, PostgreSQL pre-pings its pool."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a central serves many sensors and readers at once: more pooled connections than the default 5 + 10
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 30)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` on the database at `url`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations through an existing engine (same connection settings, same schema)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextlib.contextmanager
def session_for(db_url: str, *, replayable: bool = False) -> Iterator[Session]:
    """A session on an initialised database (tables created or migrated).

    `replayable`: what this session stores can be stored again by running the same command (a
    replay: its batches are stored once per input digest), so SQLite need not sync the disk at
    every commit (synchronous=NORMAL; WAL keeps the file consistent, a power cut can lose the
    last commits, which the next replay stores again).
    """
    engine = make_engine(db_url)
    if engine.dialect.name == "sqlite":
        command = [f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}"]
        if replayable:
            command.append("PRAGMA synchronous=NORMAL")
        event.listen(engine, "connect", _pragmas(*command))
    upgrade_engine(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()
