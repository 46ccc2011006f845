"""Web UI permissions and sessions (issue 18), through the real app (TestClient on a seeded SQLite file).

The UI must refuse exactly what the API refuses (api.auth.PERMISSIONS), and a
session must end for real: sign-out, idle timeout, absolute lifetime, and
revocation or expiry of the API token used to sign in.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.auth import PERMISSIONS, revoke_token
from store.models import AuditRow, TokenRow
from tests.api.ui_seed import Seeded, build_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# A UI page for each permission a person's role may have (GET), so the matrix is walked for real.
PAGES = {"read": "/findings", "export": "/sheets/export.csv", "audit.read": "/audit", "token.manage": "/tokens"}


def signed_in(seeded: Seeded, role: str) -> TestClient:
    client = TestClient(seeded.app, raise_server_exceptions=False)
    nonce = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"token": seeded.tokens[role], "csrf_token": nonce}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return client


def is_login_redirect(resp: object) -> bool:
    return resp.status_code == 303 and resp.headers["location"].startswith("/login")  # type: ignore[attr-defined]


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return build_app(tmp_path / "ui.db")


def test_ui_pages_follow_the_api_permission_table(seeded: Seeded) -> None:
    for role in ("viewer", "biomedical", "admin"):
        client = signed_in(seeded, role)
        home = client.get("/").text
        for permission, path in PAGES.items():
            status = client.get(path, follow_redirects=False).status_code
            expected = 200 if role in PERMISSIONS[permission] else 403
            assert status == expected, (role, path, status)
        assert ('href="/audit"' in home) == (role in PERMISSIONS["audit.read"]), role
        assert ('href="/tokens"' in home) == (role in PERMISSIONS["token.manage"]), role


def test_viewer_cannot_open_the_audit_log(seeded: Seeded) -> None:
    viewer = signed_in(seeded, "viewer")
    resp = viewer.get("/audit")
    assert resp.status_code == 403 and 'id="audit-table"' not in resp.text
    assert 'href="/audit"' not in viewer.get("/").text


def test_sign_out_revokes_the_session_even_if_the_cookie_is_kept(seeded: Seeded) -> None:
    client = signed_in(seeded, "admin")
    cookie = client.cookies.get("medtap_session")
    assert client.get("/findings", follow_redirects=False).status_code == 200
    token = CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    replay = TestClient(seeded.app, raise_server_exceptions=False)
    replay.cookies.set("medtap_session", cookie or "")
    assert is_login_redirect(replay.get("/findings", follow_redirects=False))


def test_idle_timeout_ends_a_session_and_activity_keeps_it(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "idle.db", session_idle_timeout=2)
    busy, idle = signed_in(seeded, "viewer"), signed_in(seeded, "viewer")
    started = time.monotonic()
    while time.monotonic() - started < 2.3:  # busy asks every 0.5 s (margin for a loaded machine)
        time.sleep(0.5)
        assert busy.get("/findings", follow_redirects=False).status_code == 200
    assert is_login_redirect(idle.get("/findings", follow_redirects=False))


def test_absolute_lifetime_ends_a_busy_session(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "abs.db", session_max_age=1)
    client = signed_in(seeded, "viewer")
    assert client.get("/findings", follow_redirects=False).status_code == 200
    time.sleep(1.1)
    assert is_login_redirect(client.get("/findings", follow_redirects=False))


def test_revoking_or_expiring_the_token_ends_its_sessions(seeded: Seeded) -> None:
    admin, viewer = signed_in(seeded, "admin"), signed_in(seeded, "viewer")
    with Session(seeded.app.state.engine) as session:  # type: ignore[attr-defined]
        ids = {r.role: int(r.id or 0) for r in session.exec(select(TokenRow)).all()}
        revoke_token(session, token_id=ids["viewer"], actor="test")
    assert is_login_redirect(viewer.get("/findings", follow_redirects=False))
    assert admin.get("/findings", follow_redirects=False).status_code == 200
    with Session(seeded.app.state.engine) as session:  # type: ignore[attr-defined]
        row = session.get(TokenRow, ids["admin"])
        assert row is not None
        row.expires = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert is_login_redirect(admin.get("/findings", follow_redirects=False))


def test_admin_revokes_a_token_from_the_tokens_page(seeded: Seeded) -> None:
    admin, bio = signed_in(seeded, "admin"), signed_in(seeded, "biomedical")
    page = admin.get("/tokens")
    assert page.status_code == 200 and "biomedical-user" in page.text and seeded.tokens["biomedical"] not in page.text
    with Session(seeded.app.state.engine) as session:  # type: ignore[attr-defined]
        bio_id = session.exec(select(TokenRow).where(TokenRow.name == "biomedical-user")).one().id
    assert f'id="revoke-{bio_id}"' in page.text
    forged = admin.post(f"/tokens/{bio_id}/revoke", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert bio.get("/findings", follow_redirects=False).status_code == 200
    refused = bio.post(f"/tokens/{bio_id}/revoke", data={"csrf_token": CSRF.search(page.text).group(1)},  # type: ignore[union-attr]
                       follow_redirects=False)
    assert refused.status_code == 403  # only admins manage tokens
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = admin.post(f"/tokens/{bio_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and "tokens.revoked" in done.headers["location"]
    assert is_login_redirect(bio.get("/findings", follow_redirects=False))
    assert f'id="revoke-{bio_id}"' not in admin.get("/tokens").text
    resp = TestClient(seeded.app).get("/api/v1/devices", headers={"Authorization": f"Bearer {seeded.tokens['biomedical']}"})
    assert resp.status_code == 401
    with Session(seeded.app.state.engine) as session:  # type: ignore[attr-defined]
        audit = session.exec(select(AuditRow).where(AuditRow.entity == "token", AuditRow.action == "revoke")).one()
    assert audit.who == "admin-user (admin)" and audit.entity_id == str(bio_id)
