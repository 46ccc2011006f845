"""Hostile requests against the API and the UI: injection, traversal, huge/nested/invalid bodies, CSV
formula injection (OWASP "CSV Injection"), stored XSS, CSRF.  Each test asserts the refusal, not just "no crash".
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth import ROLES, create_token
from tests.api.factories import sheet as make_sheet

API = "/api/v1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LIMIT = 64 * 1024
XSS = '<script>alert("mt-xss")</script><img src=x onerror=alert(1)>'


class World:
    def __init__(self, client: TestClient, tokens: dict[str, str], tmp: Path) -> None:
        self.client, self.tokens, self.tmp = client, tokens, tmp

    def h(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def sheet_json(self, sheet_id: str, **kw: Any) -> dict[str, Any]:
        return json.loads(make_sheet(sheet_id, **kw).model_dump_json())

    def ui(self, role: str = "admin") -> TestClient:
        c = TestClient(self.client.app, raise_server_exceptions=False)
        nonce = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        assert c.post("/login", data={"token": self.tokens[role], "csrf_token": nonce},
                      follow_redirects=False).status_code == 303
        return c


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'm.db'}", secret_key="s" * 32, max_body_bytes=LIMIT))
    with TestClient(app, raise_server_exceptions=False) as client:
        with Session(app.state.engine) as session:
            tokens = {role: create_token(session, role=role, name=f"t-{role}") for role in ROLES}
        yield World(client, tokens, tmp_path)


def _is_json_error(resp: Any) -> bool:
    return resp.headers.get("content-type", "").startswith("application/json") and bool(resp.json().get("detail"))


SQLISH = ["' OR '1'='1", "1; DROP TABLE sheetrow;--", '" OR 1=1 --', "zz' UNION SELECT hash,role,name FROM tokenrow --",
          "\\'; SELECT pg_sleep(5);--", "*"]


def test_sql_looking_filter_values_are_plain_strings(world: World) -> None:
    c = world.client
    assert c.post(f"{API}/sheets", json=world.sheet_json("SH-0001"), headers=world.h()).status_code == 201
    for value in SQLISH:
        for url, params in ((f"{API}/sheets", {"q": value}), (f"{API}/devices", {"q": value, "zone": value, "role": value}),
                            (f"{API}/findings", {"rule": value, "zone": value})):
            resp = c.get(url, params=params, headers=world.h())
            assert resp.status_code == 200, (url, value, resp.status_code, resp.text[:200])
            body = resp.json()
            # a wildcard/tautology must not turn into "match everything": the one sheet does not contain these strings
            assert body["total"] == 0, (url, value, body["total"])
        for url in (f"{API}/sheets/{value}", f"{API}/devices/{value}", f"{API}/findings/{value}"):
            resp = c.get(url.replace("%", "%25").replace("?", "%3F").replace("#", "%23"), headers=world.h())
            assert resp.status_code in (404, 422), (url, resp.status_code)
    # the tables are all still there and the token table did not leak
    listed = c.get(f"{API}/sheets", headers=world.h()).json()
    assert listed["total"] == 1 and "hash" not in json.dumps(listed)


def test_like_wildcards_in_filters_are_literal(world: World) -> None:
    c = world.client
    assert c.post(f"{API}/sheets", json=world.sheet_json("SH-0001"), headers=world.h()).status_code == 201
    for value in ("%", "_", "S_-0001"):
        assert c.get(f"{API}/sheets", params={"q": value}, headers=world.h()).json()["total"] == 0, value


def test_path_traversal_in_import_and_export_names(world: World) -> None:
    c = world.client
    body = json.dumps([world.sheet_json("SH-0002")]).encode()
    for name in ("../../../../tmp/mt-evil.json", "..\\..\\mt-evil.json", "/etc/passwd.json", "x/../../mt-evil.json"):
        resp = c.post(f"{API}/sheets/import", files={"file": (name, body, "application/json")}, headers=world.h())
        assert resp.status_code in (200, 422), (name, resp.status_code)
    assert not Path("/tmp/mt-evil.json").exists() and not (world.tmp.parent / "mt-evil.json").exists()
    for fmt in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "csv/../../x"):
        resp = c.get(f"{API}/sheets/export", params={"format": fmt}, headers=world.h())
        assert resp.status_code == 422 and _is_json_error(resp), fmt
    ui = world.ui()
    for path in ("/sheets/export.%2e%2e%2fpasswd", "/sheets/export.json%2f..%2f..%2fetc%2fpasswd", "/static/../api/auth.py",
                 "/static/%2e%2e/%2e%2e/auth.py", "/static/..%2f..%2fsettings.py"):
        resp = ui.get(path, follow_redirects=False)
        assert resp.status_code in (400, 404), (path, resp.status_code)
        assert "PERMISSIONS" not in resp.text and "root:" not in resp.text


def test_oversized_bodies_get_413_json(world: World) -> None:
    c = world.client
    big = {"sheet": {"id": "SH-0003", "software_name": "x" * (LIMIT + 10)}, "version": 1}
    resp = c.put(f"{API}/sheets/SH-0003", json=big, headers=world.h())
    assert resp.status_code == 413 and _is_json_error(resp)
    resp = c.post(f"{API}/sheets/import", files={"file": ("a.csv", b"a" * (LIMIT * 2), "text/csv")}, headers=world.h())
    assert resp.status_code == 413 and _is_json_error(resp)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer must be bounded too
        for _ in range(4):
            yield b"[" + b"0," * (LIMIT // 4) + b"0]"

    resp = c.post(f"{API}/ingest", content=chunks(), headers={**world.h("sensor"), "content-type": "application/json"})
    assert resp.status_code == 413 and _is_json_error(resp)


def test_deeply_nested_json_is_a_4xx(world: World) -> None:
    c = world.client
    for depth in (1_000, 10_000, 30_000):
        nested = "[" * depth + "]" * depth
        for method, url, role in (("POST", f"{API}/sheets", "admin"), ("POST", f"{API}/ingest", "sensor"),
                                  ("PATCH", f"{API}/findings/MT-000000000000", "admin")):
            resp = c.request(method, url, content=nested, headers={**world.h(role), "content-type": "application/json"})
            assert 400 <= resp.status_code < 500, (url, depth, resp.status_code)
        obj = '{"a":' * depth + "1" + "}" * depth
        resp = c.post(f"{API}/sheets", content=obj, headers={**world.h(), "content-type": "application/json"})
        assert 400 <= resp.status_code < 500, (depth, resp.status_code)


def test_invalid_utf8_bodies_and_uploads_are_4xx_with_a_message(world: World) -> None:
    c = world.client
    bad = b'{"id": "SH-0004", "software_name": "\xff\xfe\xc3\x28"}'
    resp = c.post(f"{API}/sheets", content=bad, headers={**world.h(), "content-type": "application/json"})
    assert 400 <= resp.status_code < 500 and _is_json_error(resp), resp.status_code
    resp = c.post(f"{API}/sheets/import", files={"file": ("s.json", b"[\xff\xfe]", "application/json")}, headers=world.h())
    assert resp.status_code == 422 and _is_json_error(resp), resp.status_code
    # CSV/YAML that is not UTF-8 is read as Windows-1252 on purpose (French spreadsheet exports): faithfully
    cp = "id;software_name;supplier\nSH-0005;Échographe;Société Générale d'Imagerie\n".encode("cp1252")
    resp = c.post(f"{API}/sheets/import", files={"file": ("s.csv", cp, "text/csv")}, headers=world.h())
    assert resp.status_code == 200, resp.text
    got = c.get(f"{API}/sheets/SH-0005", headers=world.h()).json()
    assert "Échographe" in json.dumps(got, ensure_ascii=False)
    ui = world.ui()
    nonce = CSRF.search(ui.get("/sheets").text).group(1)  # type: ignore[union-attr]
    resp = ui.post("/sheets/import", data={"csrf_token": nonce},
                   files={"file": ("s.csv", b"\xff\xfe\x81\x8d garbage\n\xc3\x28", "text/csv")},
                   follow_redirects=False)
    assert resp.status_code == 422 and 'class="' in resp.text, resp.status_code
    assert c.get(f"{API}/sheets", headers=world.h()).json()["total"] == 1


def test_csv_undecodable_in_utf8_and_cp1252_is_refused(world: World) -> None:
    data = b"id;software_name\nSH-0008;bad\x81\x8d\x90name\n"
    resp = world.client.post(f"{API}/sheets/import", files={"file": ("s.csv", data, "text/csv")}, headers=world.h())
    assert resp.status_code == 422 and _is_json_error(resp)


def test_csv_formula_injection_is_neutralised(world: World) -> None:
    c = world.client
    payloads = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)"]
    for i, value in enumerate(payloads):
        fields = {"software_name": value, "supplier": value, "workstation": value}
        resp = c.post(f"{API}/sheets", json=world.sheet_json(f"SH-01{i}", **fields), headers=world.h())
        assert resp.status_code == 201, resp.text
    for source, text in (("api", c.get(f"{API}/sheets/export", params={"format": "csv"}, headers=world.h()).text),
                         ("ui", world.ui().get("/sheets/export.csv").text)):
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=";"))
        cells = [cell for row in rows[1:] for cell in row]
        assert len(rows) == 1 + len(payloads), source
        for value in payloads:
            assert value not in cells, f"{source}: raw formula cell {value!r} in the CSV export"
            assert "'" + value in cells, f"{source}: {value!r} not neutralised with a leading quote"
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "@")], source


def test_xss_in_sheet_fields_is_escaped_in_the_ui(world: World) -> None:
    c = world.client
    fields = {"software_name": XSS, "supplier": XSS, "workstation": XSS}
    assert c.post(f"{API}/sheets", json=world.sheet_json("SH-0200", **fields), headers=world.h()).status_code == 201
    ui = world.ui()
    pages = ["/sheets", "/sheets/SH-0200/edit", "/sheets?q=" + XSS, "/devices?q=" + XSS, "/findings?rule=" + XSS,
             "/audit", "/login?next=" + XSS]
    for path in pages:
        resp = ui.get(path)
        assert resp.status_code < 500, path
        assert "<script>alert" not in resp.text and "onerror=alert" not in resp.text.replace("onerror=alert(1)&gt;", ""), path
        assert "<img src=x" not in resp.text, path
    assert "&lt;script&gt;" in ui.get("/sheets").text
    assert "script-src 'self'" in ui.get("/sheets").headers["content-security-policy"]


def test_ui_posts_without_or_with_a_wrong_csrf_token_are_refused(world: World) -> None:
    c = world.client
    assert c.post(f"{API}/sheets", json=world.sheet_json("SH-0300"), headers=world.h()).status_code == 201
    ui = world.ui()
    good = CSRF.search(ui.get("/sheets").text).group(1)  # type: ignore[union-attr]
    other = world.ui()
    foreign = CSRF.search(other.get("/sheets").text).group(1)  # type: ignore[union-attr]
    assert foreign != good
    posts = [("/sheets/SH-0300/delete", {}), ("/sheets/new", {"id": "SH-0301", "software_name": "x"}),
             ("/findings/MT-000000000000/status", {"status": "acknowledged"}), ("/logout", {})]
    for path, form in posts:
        for label, token in (("missing", None), ("wrong", "x" * 43), ("other session", foreign), ("empty", "")):
            data = dict(form)
            if token is not None:
                data["csrf_token"] = token
            resp = ui.post(path, data=data, follow_redirects=False)
            assert resp.status_code == 403, (path, label, resp.status_code)
    # nothing happened: the sheet still exists, SH-0301 was not created, the session is still valid
    assert c.get(f"{API}/sheets/SH-0300", headers=world.h()).status_code == 200
    assert c.get(f"{API}/sheets/SH-0301", headers=world.h()).status_code == 404
    assert ui.get("/sheets", follow_redirects=False).status_code == 200
    # the right token works (the test can fail the other way)
    assert ui.post("/sheets/SH-0300/delete", data={"csrf_token": good, "confirm": "1"},
                   follow_redirects=False).status_code == 303
    assert c.get(f"{API}/sheets/SH-0300", headers=world.h()).status_code == 404
