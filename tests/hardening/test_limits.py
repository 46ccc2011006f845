"""Limits on what the API and the UI accept (issue 18): deep JSON, huge CSV cells, too many rows, big bodies.

Each hostile input gets a 4xx (413 when the body is too large, 422 otherwise) whose message gives the reason;
never a 500 nor a traceback.  Through the real app (TestClient).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from analyzer.sheet_io import MAX_CELL_CHARS, MAX_NESTING, MAX_ROWS
from api.auth import create_token
from api.main import MAX_JSON_DEPTH
from api.web.ui_sheets import MAX_IMPORT_BYTES

API = "/api/v1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADER = "Identifiant;Nom du logiciel;Version\n"


class World:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token
        self.h = {"Authorization": f"Bearer {token}"}

    def ui(self) -> tuple[TestClient, str]:
        c = TestClient(self.client.app, raise_server_exceptions=False)
        nonce = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        assert c.post("/login", data={"token": self.token, "csrf_token": nonce}, follow_redirects=False).status_code == 303
        return c, CSRF.search(c.get("/sheets").text).group(1)  # type: ignore[union-attr]

    def import_(self, name: str, data: bytes) -> tuple[int, str]:
        resp = self.client.post(f"{API}/sheets/import", files={"file": (name, data)}, headers=self.h)
        assert resp.headers["content-type"].startswith("application/json")
        return resp.status_code, resp.json()["detail"]


def make_world(tmp_path: Path, **settings: int) -> Iterator[World]:
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'm.db'}", secret_key="l" * 32, **settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        with Session(app.state.engine) as session:
            yield World(client, create_token(session, role="admin", name="root"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def test_deep_json_bodies_are_422_with_the_reason(world: World) -> None:
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        nested = "[" * depth + "]" * depth
        for method, url in (("POST", f"{API}/sheets"), ("PUT", f"{API}/sheets/SH-1"), ("PATCH", f"{API}/findings/x")):
            resp = world.client.request(method, url, content=nested, headers={**world.h, "content-type": "application/json"})
            assert resp.status_code == 422, (url, depth, resp.status_code)
            assert resp.json() == {"detail": f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "field": "body"}
    fine = world.client.post(f"{API}/sheets", json={"id": "SH-1", "software_name": "x", "servers": [{"name": "[[[[" * 40}]},
                             headers=world.h)
    assert fine.status_code == 201, fine.text  # brackets inside strings are text, not nesting


def test_sheet_files_nested_too_deep_are_422(world: World) -> None:
    status, detail = world.import_("s.json", ("[" * 100_000 + "]" * 100_000).encode())
    assert status == 422 and f"JSON nested deeper than {MAX_NESTING} levels" in detail
    status, detail = world.import_("s.yaml", ("a: " + "[" * 5_000 + "]" * 5_000).encode())
    assert status == 422 and "nested deeper than" in detail


def test_a_10_mb_csv_cell_is_422_with_line_and_reason(world: World) -> None:
    status, detail = world.import_("s.csv", (HEADER + "SH-1;ok;1\nSH-2;" + "A" * 10_000_000 + ";2\n").encode())
    assert status == 422 and f"line 3: file: a cell is larger than {MAX_CELL_CHARS} characters" in detail
    status, detail = world.import_("s.csv", (HEADER + "SH-1;" + "B" * (MAX_CELL_CHARS + 1) + ";1\n").encode())
    assert status == 422
    assert f"line 2: software_name: cell of {MAX_CELL_CHARS + 1} characters (at most {MAX_CELL_CHARS})" in detail


def test_too_many_rows_are_422(world: World) -> None:
    rows = "".join(f"SH-{n};app;1\n" for n in range(MAX_ROWS + 1))
    status, detail = world.import_("s.csv", (HEADER + rows).encode())
    assert status == 422 and f"more than {MAX_ROWS} rows" in detail
    sheets = ",".join(f'{{"id": "SH-{n}", "software_name": "a"}}' for n in range(MAX_ROWS + 1))
    status, detail = world.import_("s.json", f"[{sheets}]".encode())
    assert status == 422 and f"more than {MAX_ROWS} sheets" in detail


def test_ui_import_limits(world: World) -> None:
    c, csrf = world.ui()
    big_cell = (HEADER + "SH-2;" + "A" * 4_000_000 + ";2\n").encode()
    resp = c.post("/sheets/import", data={"csrf_token": csrf}, files={"file": ("s.csv", big_cell, "text/csv")})
    assert resp.status_code == 422 and f"a cell is larger than {MAX_CELL_CHARS} characters" in resp.text
    huge_cell = (HEADER + "SH-2;" + "A" * 10_000_000 + ";2\n").encode()  # above the UI's file size limit
    resp = c.post("/sheets/import", data={"csrf_token": csrf}, files={"file": ("s.csv", huge_cell, "text/csv")})
    assert resp.status_code == 413 and f"larger than {MAX_IMPORT_BYTES // 2**20} MB" in html.unescape(resp.text)
    deep = ("[" * 50_000 + "]" * 50_000).encode()
    resp = c.post("/sheets/import", data={"csrf_token": csrf}, files={"file": ("s.json", deep, "application/json")})
    assert resp.status_code == 422 and f"nested deeper than {MAX_NESTING} levels" in resp.text


def test_ui_bodies_above_the_limit_are_413(tmp_path: Path) -> None:
    for world in make_world(tmp_path, max_body_bytes=64 * 1024):
        c, csrf = world.ui()
        resp = c.post("/sheets/import", data={"csrf_token": csrf}, files={"file": ("s.csv", b"x" * 100_000, "text/csv")})
        assert resp.status_code == 413 and resp.json() == {"detail": "body larger than 65536 bytes", "field": "body"}
