"""The device page's interventions: list with verdict, the form (role, CSRF, errors next to their field),
the audit row, and both languages."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.ui_seed import CT, Seeded, build_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(seeded: Seeded, role: str) -> TestClient:
    client = TestClient(seeded.app)
    nonce = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"token": seeded.tokens[role], "csrf_token": nonce}, follow_redirects=False)
    assert resp.status_code == 303
    return client


def _post(client: TestClient, **form: str) -> object:
    page = client.get(f"/devices/{CT}")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    return client.post(f"/devices/{CT}/interventions", data={"csrf_token": token, **form}, follow_redirects=False)


def test_biomedical_records_an_intervention_from_the_device_page(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "ui.db")
    client = _client(seeded, "biomedical")
    assert 'id="intervention-form"' in client.get(f"/devices/{CT}").text
    resp = _post(client, kind="update", at="2026-03-02T14:30", by="Supplier tech", note="software 2.1")
    assert resp.status_code == 303, resp.text  # type: ignore[attr-defined]
    page = client.get(resp.headers["location"]).text  # type: ignore[attr-defined]
    table = page[page.index('id="interventions-table"'):]
    assert "Supplier tech" in table and "software 2.1" in table and "verdict-pending" in table
    assert "Intervention recorded" in page
    audit = _client(seeded, "admin").get("/audit").text
    assert "intervention" in audit and "Supplier tech" in audit


def test_refused_form_shows_errors_next_to_fields_and_records_nothing(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "ui.db")
    client = _client(seeded, "biomedical")
    resp = _post(client, kind="reboot", at="yesterday", by=" ")
    assert resp.status_code == 422  # type: ignore[attr-defined]
    text = resp.text  # type: ignore[attr-defined]
    for field in ("kind", "at", "by"):
        assert f'id="e-i-{field}"' in text, field
    assert "verdict-" not in text


def test_viewer_sees_the_list_but_not_the_form_and_cannot_post(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "ui.db")
    viewer = _client(seeded, "viewer")
    page = viewer.get(f"/devices/{CT}").text
    assert 'id="interventions-table"' in page and 'id="intervention-form"' not in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    resp = viewer.post(f"/devices/{CT}/interventions", data={"csrf_token": token, "kind": "update",
                                                              "at": "2026-03-02T14:30", "by": "x"})
    assert resp.status_code == 403


def test_post_without_csrf_is_refused(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "ui.db")
    client = _client(seeded, "biomedical")
    resp = client.post(f"/devices/{CT}/interventions", data={"kind": "update", "at": "2026-03-02T14:30", "by": "x"})
    assert resp.status_code == 403
    assert "verdict-pending" not in client.get(f"/devices/{CT}").text


def test_french_labels(tmp_path: Path) -> None:
    seeded = build_app(tmp_path / "ui.db")
    client = _client(seeded, "biomedical")
    client.get("/lang/fr")
    page = client.get(f"/devices/{CT}").text
    assert "Interventions et leur vérification" in page and "Changement d&#39;interface" in page
