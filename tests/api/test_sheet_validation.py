"""Addresses and VLANs in identification sheets (issue 18): one validation in the model, refused the same way
by the API (422 field + reason), a CSV import (line, field, reason) and the UI form (error next to the field)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from analyzer.sheet_io import load_sheets
from api.auth import create_token
from tests.conftest import REPO

API = "/api/v1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BAD = [("ip", "999.1.1.1", "not an IPv4 or IPv6 address"), ("ip", "not-an-ip", "not an IPv4 or IPv6 address"),
       ("mac", "00:11:22:33:44", "not a MAC address"), ("mac", "zz:11:22:33:44:55", "not a MAC address"),
       ("vlan", "0", "greater than or equal to 1"), ("vlan", "4095", "less than or equal to 4094")]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'm.db'}", secret_key="v" * 32))
    with TestClient(app, raise_server_exceptions=False) as c:
        with Session(app.state.engine) as session:
            yield c, create_token(session, role="biomedical", name="bio")


@pytest.mark.parametrize(("field", "value", "reason"), BAD)
def test_api_refuses_with_field_and_reason(client: tuple[TestClient, str], field: str, value: str, reason: str) -> None:
    c, token = client
    body = {"id": "SH-BAD", "software_name": "x", field: int(value) if field == "vlan" else value}
    resp = c.post(f"{API}/sheets", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field and reason in resp.json()["detail"]


def test_api_normalises_mac_and_ip(client: tuple[TestClient, str]) -> None:
    c, token = client
    body = {"id": "SH-OK", "software_name": "x", "mac": "00-0E-8C-AB-CD-EF", "ip": "fd00:0::5", "vlan": 4094}
    sheet = c.post(f"{API}/sheets", json=body, headers={"Authorization": f"Bearer {token}"}).json()["sheet"]
    assert (sheet["mac"], sheet["ip"], sheet["vlan"]) == ("00:0e:8c:ab:cd:ef", "fd00::5", 4094)


def test_csv_import_names_line_field_and_reason(client: tuple[TestClient, str]) -> None:
    c, token = client
    rows = "".join(f"SH-{n};app;{v if f == 'ip' else ''};{v if f == 'mac' else ''};{v if f == 'vlan' else ''}\n"
                   for n, (f, v, _) in enumerate(BAD))
    data = ("Identifiant;Nom du logiciel;Adresse IP;Adresse MAC;VLAN\n" + rows).encode()
    resp = c.post(f"{API}/sheets/import", files={"file": ("s.csv", data, "text/csv")}, data={"partial": "true"},
                  headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json()["imported"] == 0
    errors = resp.json()["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(n + 2, f) for n, (f, _, _) in enumerate(BAD)]
    for error, (_, _, reason) in zip(errors, BAD, strict=True):
        assert reason in error["reason"] and not error["reason"].startswith("Value error"), error
    assert "999.1.1.1" in errors[0]["reason"]


def test_ui_form_shows_the_reason_next_to_the_field(client: tuple[TestClient, str]) -> None:
    c, token = client
    nonce = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
    assert c.post("/login", data={"token": token, "csrf_token": nonce}, follow_redirects=False).status_code == 303
    csrf = CSRF.search(c.get("/sheets/new").text).group(1)  # type: ignore[union-attr]
    for field, value, reason in BAD:
        resp = c.post("/sheets/new", data={"csrf_token": csrf, "id": "SH-UI", "software_name": "x", field: value})
        assert resp.status_code == 422, (field, value)
        found = re.search(rf'id="e-{field}">([^<]+)<', resp.text)
        assert found is not None, (field, value)
        if field != "ip":  # the form words the IP error in the page language
            assert reason in html.unescape(found.group(1)), found.group(1)


def test_demo_sheets_still_load() -> None:
    for name in ("sheets.csv", "sheets.yaml"):
        sheets = load_sheets(REPO / "pcaps" / "demo" / name)
        assert sheets and all(s.mac is None or re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", s.mac) for s in sheets)
