"""Exports from the browser session (issue 19 item 4): findings of the current filter and the inventory as CSV
(`;`, UTF-8 BOM) and XLSX (text cells, never formulas); the API's exports accept the UI session; sheets import
from XLSX; the print stylesheet."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlmodel import Session

from analyzer.sheet_io import read_sheets
from api import exports
from store.records import save_devices
from tests.api.test_ui_pages import csrf_of, login
from tests.api.ui_seed import DEVICES, FINDINGS, Seeded, build_app

EVIL = "=HYPERLINK(\"http://203.0.113.9/x\",\"clic\")"


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    app = build_app(tmp_path / "exports.db")
    with Session(app.app.state.engine) as db:  # a vendor name an attacker could put in a DHCP option
        save_devices(db, [DEVICES[0].model_copy(update={"vendor": EVIL, "hostname": "Échographe-1"}),
                          *DEVICES[1:]])
        db.commit()
    return app


@pytest.fixture
def admin(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["viewer"])  # read-only people may export too
        yield client


def _csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.split("\r\n", 1)[0].count(";") > 5  # French Excel splits on ';'
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def _xlsx(body: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value is not None)
    xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere
    return rows


def test_findings_export_follows_the_page_filter(admin: TestClient) -> None:
    page = admin.get("/findings", params={"severity": "medium"}).text
    link = re.search(r'id="export-findings-csv" href="([^"]+)"|href="([^"]+)" id="export-findings-csv"', page)
    assert link
    url = (link.group(1) or link.group(2)).replace("&amp;", "&")
    resp = admin.get(url)
    assert resp.status_code == 200 and "attachment" in resp.headers["content-disposition"]
    rows = _csv(resp.content)
    assert sorted(r["id"] for r in rows) == sorted(f.id for f in FINDINGS if f.severity == "medium")
    xlsx = admin.get("/findings/export.xlsx", params={"severity": "medium"})
    table = _xlsx(xlsx.content)
    assert table[0][:3] == ["id", "rule", "severity"] and len(table) == len(rows) + 1
    french = admin.get("/findings/export.csv", params={"q": FINDINGS[0].id}, cookies={"medtap_lang": "fr"})
    assert _csv(french.content)[0]["title"] == FINDINGS[0].title_fr


def test_inventory_exports_neutralise_formulas(admin: TestClient, seeded: Seeded) -> None:
    rows = _csv(admin.get("/devices/export.csv").content)
    ct = next(r for r in rows if r["mac"] == DEVICES[0].mac)
    assert ct["vendor"] == "'" + EVIL and ct["hostname"] == "Échographe-1"
    table = _xlsx(admin.get("/devices/export.xlsx").content)
    header = table[0]
    row = next(r for r in table if r[0] == DEVICES[0].mac)
    assert row[header.index("vendor")] == EVIL  # kept as typed, stored as text: Excel shows it, never runs it
    assert len(table) == len(DEVICES) + 1
    assert admin.get("/devices/export.pdf").status_code == 404


def test_api_exports_accept_the_ui_session(admin: TestClient, seeded: Seeded) -> None:
    for path in ("inventory.csv", "inventory.xlsx", "findings.csv", "findings.xlsx", "findings.syslog",
                 "findings.ecs.jsonl"):
        assert admin.get(f"/api/v1/exports/{path}").status_code == 200, path
        assert TestClient(seeded.app).get(f"/api/v1/exports/{path}").status_code == 401, path
    with TestClient(seeded.app) as sensor:  # a sensor token cannot sign in, nor export with its bearer
        resp = sensor.get("/api/v1/exports/inventory.csv",
                          headers={"Authorization": f"Bearer {seeded.tokens['sensor']}"})
        assert resp.status_code == 403
    # the session cookie opens the exports only, not the rest of the API
    assert admin.get("/api/v1/devices").status_code == 401
    forged = TestClient(seeded.app, cookies={"medtap_session": "x.y"})
    assert forged.get("/api/v1/exports/inventory.csv").status_code == 401


def test_sheets_import_from_xlsx(seeded: Seeded) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Identifiant", "Nom du logiciel", "Adresse MAC", "Adresse IP", "VLAN"])
    sheet.append(["SH-XL1", "Échographe", "00:1b:00:00:00:07", "10.10.110.77", 110])
    buf = io.BytesIO()
    book.save(buf)
    parsed = read_sheets(buf.getvalue(), fmt="xlsx")
    assert not parsed.errors, parsed.errors
    assert [s.id for s in parsed.sheets] == ["SH-XL1"] and parsed.sheets[0].software_name == "Échographe"
    assert parsed.sheets[0].vlan == 110 and parsed.sheets[0].mac == "00:1b:00:00:00:07"
    sheet.append(["SH-XL2", "=cmd|' /C calc'!A0", None, "10.10.110.78", 110])  # a formula is never run:
    evil = io.BytesIO()
    book.save(evil)
    refused = read_sheets(evil.getvalue(), fmt="xlsx").errors  # its (absent) cached value is read
    assert [(e.line, e.field) for e in refused] == [(3, "software_name")]
    assert read_sheets(b"PK\x03\x04not a zip", fmt="xlsx").errors
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["admin"])
        token = csrf_of(client, "/sheets")
        resp = client.post("/sheets/import", data={"csrf_token": token},
                           files={"file": ("parc.xlsx", buf.getvalue(), "application/octet-stream")},
                           follow_redirects=False)
        assert resp.status_code == 303, resp.text[-800:]
        assert "SH-XL1" in client.get("/sheets").text


def test_print_stylesheet_hides_navigation_and_forms() -> None:
    css = (Path(exports.__file__).parent / "web" / "static" / "medtap.css").read_text(encoding="utf-8")
    block = css[css.index("@media print"):]
    for selector in (".site-header", ".filters", ".no-print", ".bulk-panel", "form.status-form"):
        assert selector in block.split("display: none")[0], selector


def test_export_units() -> None:
    text = exports.to_csv(["a", "b"], [["+1", "é;x"]])
    assert text.startswith("\ufeff") and "'+1;\"é;x\"" in text


def test_xlsx_survives_control_characters() -> None:
    body = exports.to_xlsx(["hostname"], [["PUMP\x00-07\x1b"]])  # a hostile DHCP name
    assert _xlsx(body)[1] == ["PUMP\ufffd-07\ufffd"]
