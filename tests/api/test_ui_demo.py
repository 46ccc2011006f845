"""Every web UI page renders on the demo hospital (pcaps/demo replayed, analyzed with its site and sheets)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.web.mapsvg import is_policy_finding
from store.service import list_devices, list_findings, list_sheets
from tests import needs
from tests.api.test_ui_pages import login
from tests.api.ui_seed import build_app, demo_available


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Session]:
    if not demo_available():
        needs.missing("pcaps/demo or the analyzer engine", "make samples")
    seeded = build_app(Path(tmp_path_factory.mktemp("demo")) / "demo.db", demo=True)
    client = TestClient(seeded.app)
    login(client, seeded.tokens["biomedical"])
    return client, Session(seeded.app.state.engine)


def test_every_device_finding_and_sheet_page_renders(demo: tuple[TestClient, Session]) -> None:
    client, db = demo
    devices, findings, sheets = list_devices(db, limit=10_000)[0], list_findings(db, limit=10_000)[0], list_sheets(db, limit=10_000)[0]
    assert devices and findings and sheets
    paths = ["/", "/findings", "/devices", "/sheets", "/map", "/audit"]
    paths += [f"/devices/{quote(d.mac)}" for d in devices] + [f"/findings/{quote(f.id)}" for f in findings]
    paths += [f"/sheets/{quote(s.sheet.id)}/edit" for s in sheets]
    for path in paths:
        assert client.get(path).status_code == 200, path
    for fmt in ("csv", "json", "yaml"):
        assert client.get(f"/sheets/export.{fmt}").status_code == 200


def test_demo_map_red_edges_are_policy_findings(demo: tuple[TestClient, Session]) -> None:
    client, db = demo
    findings = {f.id: f for f in list_findings(db, limit=10_000)[0]}
    page = client.get("/map/svg").text
    red = set(re.findall(r'<a class="edge-link" href="/findings/([^"]+)"', page))
    assert red, "the demo hospital has flows against its policy"
    assert all(is_policy_finding(findings[fid]) for fid in red)
    devices = list_devices(db, limit=10_000)[0]
    assert all(f'href="/devices/{quote(d.mac)}"' in page for d in devices)


def test_dashboard_coverage_matches_the_inventory(demo: tuple[TestClient, Session]) -> None:
    client, db = demo
    dms = [d for d in list_devices(db, limit=10_000)[0] if d.is_dm]
    expected = round(100 * sum(1 for d in dms if d.sheet_id) / len(dms))
    assert f'id="coverage">{expected}&nbsp;%' in client.get("/").text


def test_french_pages(demo: tuple[TestClient, Session]) -> None:
    client, _ = demo
    client.get("/lang/fr")
    text = client.get("/findings").text
    assert '<html lang="fr">' in text and "Constats" in text and "Gravité" in text
    client.get("/lang/en")
