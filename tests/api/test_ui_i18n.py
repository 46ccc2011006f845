"""French and English everywhere (issue 19 items 6, 7): plural forms, dates and numbers in the reader's locale and
time zone (Babel), audit actions and fields, device roles, form errors; the readable, filterable audit log,
MAC search without separators and summarised import errors."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.web.data import summarise_errors
from api.web.i18n import Translator, plural_form
from tests.api.test_ui_pages import csrf_of, login
from tests.api.ui_seed import CT, FINDINGS, T0, Seeded, build_app


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return build_app(tmp_path / "i18n.db")


@pytest.fixture
def admin(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["admin"])
        yield client


def test_plural_forms_follow_cldr() -> None:
    t = Translator.load()
    assert plural_form("fr", 0) == "one" and plural_form("fr", 1) == "one" and plural_form("fr", 2) == "other"
    assert plural_form("en", 0) == "other" and plural_form("en", 1) == "one"
    assert t.gettext("fr", "sheets.imported", n=1) == "1 fiche importée."
    assert t.gettext("fr", "sheets.imported", n=2) == "2 fiches importées."
    assert t.gettext("en", "sheets.imported", n=1) == "1 sheet imported."
    assert t.gettext("en", "findings.bulk_changed", n=3, status="x") == "Status of 3 findings changed to: x."


def test_dates_in_the_reader_locale_and_time_zone(admin: TestClient) -> None:
    fid = FINDINGS[0].id  # last seen T0 + 3000 = 2025-12-29 10:10 UTC
    paris = admin.get(f"/findings/{fid}", cookies={"medtap_lang": "fr", "medtap_tz": "Europe%2FParis"}).text
    assert "29/12/2025 11:10" in paris  # French format, Paris time (UTC+1 in winter)
    tokyo = admin.get(f"/findings/{fid}", cookies={"medtap_lang": "en", "medtap_tz": "Asia/Tokyo"}).text
    assert "29/12/2025, 19:10" in tokyo
    bogus = admin.get(f"/findings/{fid}", cookies={"medtap_lang": "en", "medtap_tz": "Mars/Olympus"}).text
    assert "29/12/2025, 11:10" in bogus  # unknown zone: the settings' default (Europe/Paris)
    assert 'datetime="2025-12-29T10:10:00Z"' in paris  # machine-readable time stays UTC ISO 8601
    assert T0 + 3000 == FINDINGS[0].last_seen


def test_audit_log_is_readable_translated_and_filtered(admin: TestClient) -> None:
    token = csrf_of(admin, "/findings")
    admin.post(f"/findings/{FINDINGS[1].id}/status", data={"csrf_token": token, "status": "acknowledged"})
    page = admin.get("/audit", cookies={"medtap_lang": "fr"}).text
    assert "revue" in page and "statut" in page and "st-acknowledged" in page and "création" in page
    # a created sheet reads as its fields, not as raw JSON
    assert '{"' not in page and "Nom du logiciel" in page
    reviews = admin.get("/audit", params={"action": "review"}).text
    assert set(re.findall(r'<tr data-action="([^"]+)"', reviews)) == {"review"}
    sheets = admin.get("/audit", params={"entity": "sheet", "q": "sh-ct"}).text
    assert "SH-CT" in sheets and FINDINGS[1].id not in sheets
    assert "(1)" in admin.get("/audit", params={"who": "admin-user (admin)"}).text


def test_roles_and_form_errors_in_french(admin: TestClient) -> None:
    fr = {"medtap_lang": "fr"}
    assert "modalité d&#39;imagerie" in admin.get(f"/devices/{CT}", cookies=fr).text
    assert "moniteur patient" in admin.get("/devices", cookies=fr).text
    token = csrf_of(admin, "/sheets/new")
    resp = admin.post("/sheets/new", cookies=fr, data={"csrf_token": token, "id": "SH-X", "software_name": "x",
                                                        "vlan": "5000"})
    assert resp.status_code == 422 and "inférieur ou égal à 4094" in resp.text


def test_inventory_finds_a_mac_typed_any_way(admin: TestClient) -> None:
    for typed in ("001b00000001", "00-1B-00-00-00-01", "001b.0000.0001"):
        page = admin.get("/devices", params={"q": typed}).text
        assert f"<code>{CT}</code>" in page and "CT-SCAN-01" in page, typed
        assert "PC-ACCUEIL" not in page


def test_import_errors_are_summarised_in_the_reader_language() -> None:
    from analyzer.sheet_io import SheetError

    errors = [SheetError.of(n, "vlan", "ge", ge=1) for n in range(2, 402)]
    errors.append(SheetError.of(500, "ip", "bad_ip", value="'x'"))
    errors.append(SheetError.of(501, "file", "too_many_rows", max=10))
    t = Translator.load()
    lines = summarise_errors(errors, t.for_lang("en"))
    assert len(lines) == 3
    assert lines[0].startswith("VLAN: should be greater than or equal to 1 — 400 rows (lines 2, 3, 4")
    assert lines[1] == "line 500: IP address: not an IPv4 or IPv6 address: 'x'"
    assert lines[2] == "line 501: file: more than 10 rows"
    fr = summarise_errors(errors, t.for_lang("fr"))
    assert fr[0].startswith("VLAN : doit être supérieur ou égal à 1 — 400 lignes (lignes 2, 3, 4")
    assert fr[1] == "ligne 500 : Adresse IP : adresse IPv4 ou IPv6 invalide : 'x'"
    assert fr[2] == "ligne 501 : fichier : plus de 10 lignes"


def test_sheet_import_in_french_says_why_and_how_many(admin: TestClient) -> None:
    fr = {"medtap_lang": "fr"}
    csv = (b"Identifiant;Nom du logiciel;VLAN;Adresse IP;Type de connexion\n"
           b"SH-I1;App 1;110;;\nSH-I2;App 2;;;\nSH-I3;App 3;;;\nSH-I4;App 4;5000;;\n")
    token = csrf_of(admin, "/sheets")
    page = admin.post("/sheets/import", cookies=fr, data={"csrf_token": token, "partial": "1"},
                      files={"file": ("s.csv", csv, "text/csv")}).text
    assert "3 fiches importées, 1 refusée." in page
    assert "ligne 5 : VLAN : doit être inférieur ou égal à 4094" in page
    refused = b"Nom du logiciel;Adresse IP;Type de connexion\nA;999.1.1.1;\nB;;satellite\n"
    page = html.unescape(admin.post("/sheets/import", cookies=fr, data={"csrf_token": token},
                                    files={"file": ("r.csv", refused, "text/csv")}).text)
    assert "0 fiche importée, 2 refusées. Le fichier a été refusé ; rien n'a été importé." in page
    assert "adresse IPv4 ou IPv6 invalide : '999.1.1.1'" in page and "valeur inconnue 'satellite'" in page
    for english in ("not an IPv4", "unknown value", "line ", "expected one of", "refused"):
        assert english not in page, english
    page = admin.post("/sheets/import", cookies={"medtap_lang": "en"}, data={"csrf_token": token},
                      files={"file": ("r.csv", refused, "text/csv")}).text
    assert "0 sheets imported, 2 refused." in page and "line 2: IP address: not an IPv4" in page


def test_inventory_columns_are_chosen_and_remembered(admin: TestClient) -> None:
    def heads(html: str) -> list[str]:
        table = html[html.index('id="devices-table"'):html.index("</thead>")]
        return re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', table)

    default = heads(admin.get("/devices").text)
    assert default == ["MAC", "IP", "VLAN", "Vendor", "Name", "Role", "Zone", "OS", "Sheet"]
    picked = admin.get("/devices", params=[("cols_set", "1"), ("cols", "hostname"), ("cols", "switch_port")])
    assert heads(picked.text) == ["MAC", "Name", "Switch port"]
    assert "medtap_cols=" in picked.headers["set-cookie"]
    assert heads(admin.get("/devices").text) == ["MAC", "Name", "Switch port"]  # remembered
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", admin.get("/devices").text, re.S)
    assert row is not None and row.group(1).count("<td") == 3
