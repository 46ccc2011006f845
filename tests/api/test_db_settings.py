"""store.db: a command's SQLite session keeps a page cache large enough for a replay's fact index; the web
server's pooled connections keep SQLite's default."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from store.db import SQLITE_CACHE_KIB, make_engine, session_for


def test_a_command_session_has_the_large_page_cache_and_the_server_engine_the_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with session_for(url, replayable=True) as session:
        assert session.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL: a replay is stored again
    with session_for(url) as session:
        assert session.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: a capture's facts are synced
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -2000  # SQLite's default, 2 MiB
    engine.dispose()
