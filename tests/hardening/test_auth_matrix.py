"""Every route of the app x {no token, wrong token, each role}, expected status from api.auth.PERMISSIONS.

Routes are enumerated from `app.routes` at test time, so a route added later is
covered automatically, and a route that declares no `require(<permission>)`
dependency (and is not on the short public list below) FAILS the test: the
matrix must cover it.  UI routes (everything outside /api/v1 and /static) must
answer an unauthenticated caller with a redirect to /login or 401/403, never
200 with data and never 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.auth import PERMISSIONS, ROLES, create_token

API = "/api/v1"
# Routes that need no token, on purpose (documented in SECURITY.md).
PUBLIC_API = {("GET", f"{API}/health"), ("GET", f"{API}/openapi.json"), ("GET", f"{API}/docs"),
              ("GET", "/docs/oauth2-redirect")}
PUBLIC_UI = {("GET", "/login"), ("POST", "/login"), ("GET", "/lang/{lang}")}
PATH_VALUES = {"mac": "00:11:22:33:44:55", "sheet_id": "SH-0001", "finding_id": "MT-000000000000", "lang": "en",
               "fmt": "csv"}


def walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) for every route, through included routers (FastAPI >= 0.16x wraps them)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + getattr(route, "path", ""), route


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def permissions_of(route: APIRoute) -> set[str]:
    """The permissions a route requires, read from its `require(...)` dependencies."""
    found = set()
    for call in _calls(route.dependant):
        name = getattr(call, "__name__", "")
        if name.startswith("require_"):
            perm = next((p for p in PERMISSIONS if "require_" + p.replace(".", "_") == name), None)
            assert perm is not None, f"{route.path}: unknown permission dependency {name}"
            found.add(perm)
    return found


def endpoints(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for path, route in walk(app.routes):
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD":
                out.append((method, path, route))
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from sqlmodel import Session

    from api.main import create_app
    from api.settings import Settings

    db = tmp_path_factory.mktemp("authz") / "m.db"
    app = create_app(Settings(db_url=f"sqlite:///{db}", secret_key="k" * 32))
    with TestClient(app, raise_server_exceptions=False) as client:
        with Session(app.state.engine) as session:
            tokens = {role: create_token(session, role=role, name=f"t-{role}") for role in ROLES}
        yield client, tokens


def test_every_api_route_is_covered_by_the_matrix(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    uncovered = []
    api_routes = 0
    for method, path, route in endpoints(client.app):
        if not path.startswith(API) or (method, path) in PUBLIC_API:
            continue
        api_routes += 1
        perms = permissions_of(route) if isinstance(route, APIRoute) else set()
        if len(perms) != 1:
            uncovered.append(f"{method} {path}: permissions {sorted(perms)}")
    assert api_routes >= 15
    assert not uncovered, "routes the role matrix does not cover:\n" + "\n".join(uncovered)


def test_every_ui_route_is_known(world: tuple[TestClient, dict[str, str]]) -> None:
    """A UI route is either public on purpose or depends on the signed session (`page`)."""
    client, _ = world
    bad = []
    for method, path, route in endpoints(client.app):
        if path.startswith(API) or (method, path) in PUBLIC_API | PUBLIC_UI or not isinstance(route, APIRoute):
            continue
        names = {getattr(c, "__name__", "") for c in _calls(route.dependant)}
        if "page" not in names:
            bad.append(f"{method} {path}")
    assert not bad, "UI routes without the session dependency:\n" + "\n".join(bad)


def _call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    return client.request(method, url, headers=headers, follow_redirects=False)


def test_api_matrix(world: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = world
    failures = []
    checked = 0
    for method, path, route in endpoints(client.app):
        if not path.startswith(API) or (method, path) in PUBLIC_API or not isinstance(route, APIRoute):
            continue
        (perm,) = permissions_of(route)
        url = concrete(path)
        cases: list[tuple[str, dict[str, str], set[int] | None]] = [
            ("no token", {}, {401}),
            ("wrong token", {"Authorization": "Bearer mt_not-a-real-token"}, {401}),
            ("basic scheme", {"Authorization": "Basic " + tokens["admin"]}, {401}),
        ]
        for role in ROLES:
            allowed = role in PERMISSIONS[perm]
            cases.append((role, {"Authorization": f"Bearer {tokens[role]}"}, None if allowed else {403}))
        for label, headers, expected in cases:
            resp = _call(client, method, url, headers)
            checked += 1
            if resp.status_code >= 500:
                failures.append(f"{method} {url} [{label}]: {resp.status_code}")
            elif expected is None and resp.status_code in (401, 403):
                failures.append(f"{method} {url} [{label}] allowed by matrix but got {resp.status_code}")
            elif expected is not None and resp.status_code not in expected:
                failures.append(f"{method} {url} [{label}] expected {expected} got {resp.status_code}")
            if resp.status_code in (401, 403):
                assert resp.headers["content-type"].startswith("application/json"), (method, url)
                assert set(resp.json()) == {"detail", "field"}
    assert checked > 100
    assert not failures, "\n".join(failures)


def test_public_api_routes_answer_without_token(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    for method, path in PUBLIC_API:
        assert _call(client, method, path, {}).status_code == 200, path


def test_ui_routes_refuse_anonymous(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    anon = TestClient(client.app, raise_server_exceptions=False)
    failures = []
    checked = 0
    for method, path, route in endpoints(client.app):
        if path.startswith(API) or (method, path) in PUBLIC_API | PUBLIC_UI or not isinstance(route, APIRoute):
            continue
        url = concrete(path)
        for label, cookies in (("none", {}), ("forged", {"medtap_session": "e30.AAAA"})):
            anon.cookies.clear()
            for k, v in cookies.items():
                anon.cookies.set(k, v)
            resp = anon.request(method, url, follow_redirects=False, data={"csrf_token": "x"} if method == "POST" else None)
            checked += 1
            ok = resp.status_code in (401, 403) or (
                resp.status_code in (302, 303, 307) and resp.headers.get("location", "").startswith("/login"))
            if not ok:
                failures.append(f"{method} {url} [{label}]: {resp.status_code} {resp.headers.get('location')}")
    assert checked >= 20
    assert not failures, "\n".join(failures)


def test_ui_sensor_token_cannot_sign_in_and_viewer_cannot_edit(world: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = world
    csrf = re.compile(r'name="csrf_token" value="([^"]+)"')
    for role in ROLES:
        c = TestClient(client.app, raise_server_exceptions=False)
        nonce = csrf.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        resp = c.post("/login", data={"token": tokens[role], "csrf_token": nonce}, follow_redirects=False)
        if role == "sensor":
            assert resp.status_code != 303 or not c.cookies.get("medtap_session"), "sensor token opened a UI session"
            continue
        assert resp.status_code == 303, (role, resp.status_code)
        token = csrf.search(c.get("/").text).group(1)  # type: ignore[union-attr]  (the sign-out form carries it)
        created = c.post("/sheets/new", data={"csrf_token": token, "id": f"SH-{role[:4]}", "software_name": "x"},
                         follow_redirects=False)
        if role == "viewer":
            assert created.status_code == 403, created.status_code
        else:
            assert created.status_code not in (401, 403) and created.status_code < 500, (role, created.status_code)


def test_matrix_source_has_every_role() -> None:
    doc = Path(__file__).resolve().parents[2] / "api" / "auth.py"
    text = doc.read_text()
    for perm in PERMISSIONS:
        assert f"| {perm}" in text, f"permission {perm} missing from the documented matrix in api/auth.py"
