"""Web UI pages through httpx (TestClient): sign-in, cookies, CSRF, roles, forms, escaping, languages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.api.ui_seed import CT, FINDINGS, Seeded, build_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return build_app(tmp_path / "ui.db")


def login(client: TestClient, token: str, next_: str = "/") -> None:
    page = client.get("/login")
    resp = client.post("/login", data={"token": token, "csrf_token": CSRF.search(page.text).group(1), "next": next_},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text


@pytest.fixture
def admin(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["admin"])
        yield client


@pytest.fixture
def viewer(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["viewer"])
        yield client


def csrf_of(client: TestClient, path: str) -> str:
    return CSRF.search(client.get(path).text).group(1)


def test_pages_need_a_session(seeded: Seeded) -> None:
    client = TestClient(seeded.app)
    for path in ("/", "/findings", "/devices", "/sheets", "/map", "/audit", f"/findings/{FINDINGS[0].id}"):
        resp = client.get(path, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next="), path
    assert client.post("/findings/x/status", data={"status": "open"}, follow_redirects=False).status_code == 303


def test_sign_in_sets_a_hardened_cookie_and_refuses_bad_tokens(seeded: Seeded) -> None:
    client = TestClient(seeded.app)
    page = client.get("/login")
    nonce = CSRF.search(page.text).group(1)
    bad = client.post("/login", data={"token": "mt_wrong", "csrf_token": nonce}, follow_redirects=False)
    assert bad.status_code == 401 and 'id="token-error"' in bad.text
    sensor = client.post("/login", data={"token": seeded.tokens["sensor"], "csrf_token": nonce}, follow_redirects=False)
    assert sensor.status_code == 401  # machine tokens do not open the UI
    forged = TestClient(seeded.app).post("/login", data={"token": seeded.tokens["admin"], "csrf_token": "x"},
                                         follow_redirects=False)
    assert forged.status_code == 403 and "medtap_session" not in forged.headers.get("set-cookie", "")
    ok = client.post("/login", data={"token": seeded.tokens["admin"], "csrf_token": nonce, "next": "/findings"},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/findings"
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("medtap_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert seeded.tokens["admin"] not in cookie
    secure = TestClient(seeded.app, base_url="https://testserver")
    nonce = CSRF.search(secure.get("/login").text).group(1)
    resp = secure.post("/login", data={"token": seeded.tokens["admin"], "csrf_token": nonce}, follow_redirects=False)
    assert "Secure" in next(c for c in resp.headers.get_list("set-cookie") if c.startswith("medtap_session="))


def test_next_is_never_an_open_redirect(seeded: Seeded) -> None:
    client = TestClient(seeded.app)
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        resp = client.get("/lang/fr", params={"next": target}, follow_redirects=False)
        assert resp.headers["location"] == "/", target


def test_language_from_accept_language_then_the_switch(seeded: Seeded) -> None:
    client = TestClient(seeded.app)
    fr = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in fr.text and "Jeton d&#39;accès" in fr.text
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "de, en;q=0.5"}).text
    client.get("/lang/en", follow_redirects=False)
    en = client.get("/login", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in en.text and "Access token" in en.text


def test_every_page_renders_for_an_editor(admin: TestClient) -> None:
    for path, marker in (("/", 'id="coverage"'), ("/findings", 'id="findings-table"'), ("/devices", 'id="devices-table"'),
                         ("/sheets", 'id="sheets-table"'), ("/map/svg", 'id="netmap"'), ("/audit", 'id="audit-table"'),
                         (f"/findings/{FINDINGS[0].id}", 'id="accept-form"'), (f"/devices/{CT}", 'id="compare-table"'),
                         ("/sheets/new", 'id="save-sheet"'), ("/sheets/SH-CT/edit", 'id="save-sheet"')):
        resp = admin.get(path)
        assert resp.status_code == 200 and marker in resp.text, path
        assert 'class="skip-link" id="skip-link" href="#main"' in resp.text
        assert resp.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert admin.get("/findings/MT-none").status_code == 404
    assert admin.get("/devices/zz").status_code == 404


def test_dashboard_counts(admin: TestClient) -> None:
    text = admin.get("/").text
    assert re.search(r'id="coverage">33&nbsp;%', text)  # 1 of the 3 medical devices has a sheet
    assert "sensor-a" in text and "12345" in text


def test_dashboard_frames_are_the_latest_analysis_not_a_sum_of_runs(seeded: Seeded, admin: TestClient) -> None:
    """Each analysis covers every stored observation: a re-analysis must not count the same frames again."""
    from analyzer.models import Stats
    from store import records as store

    with Session(seeded.app.state.engine) as session:
        run = store.start_run(session, sources=["demo.pcap", "more.pcap"], sensor="sensor-a")
        store.finish_run(session, run, Stats(packets=20000, first_ts=1_000.0, last_ts=2_000_000_000.0))
        session.commit()
    text = admin.get("/").text
    assert "<dd>20000</dd>" in text and "32345" not in text and "<dd>12345</dd>" not in text


def test_findings_filter_and_sort(admin: TestClient) -> None:
    medium = admin.get("/findings", params={"severity": "medium"}).text
    rules = re.findall(r'<tr data-rule="([^"]+)"', medium)
    assert sorted(rules) == ["cross-zone-flow", "undeclared-device"]
    by_rule = re.findall(r'<tr data-rule="([^"]+)"', admin.get("/findings", params={"sort": "rule"}).text)
    assert by_rule == sorted(by_rule) and len(by_rule) == len(FINDINGS)
    desc = re.findall(r'<tr data-rule="([^"]+)"', admin.get("/findings", params={"sort": "rule", "desc": "1"}).text)
    assert desc == sorted(by_rule, reverse=True)
    assert 'aria-sort="descending"' in admin.get("/findings", params={"sort": "rule", "desc": "1"}).text
    assert re.findall(r'<tr data-rule', admin.get("/findings", params={"severity": "bogus"}).text)  # ignored, not a 500


def test_accept_risk_needs_justification_and_expiry_then_is_audited(admin: TestClient) -> None:
    fid = FINDINGS[0].id
    token = csrf_of(admin, f"/findings/{fid}")
    refused = admin.post(f"/findings/{fid}/status", data={"csrf_token": token, "status": "risk-accepted", "justification": ""})
    assert refused.status_code == 422
    assert 'id="err-justification"' in refused.text and 'id="err-expires"' in refused.text
    assert 'aria-describedby="err-justification"' in refused.text
    past = admin.post(f"/findings/{fid}/status",
                      data={"csrf_token": token, "status": "risk-accepted", "justification": "isolated", "expires": "2001-01-01"})
    assert past.status_code == 422 and 'id="err-expires"' in past.text and 'id="err-justification"' not in past.text
    too_far = admin.post(f"/findings/{fid}/status", data={"csrf_token": token, "status": "risk-accepted",
                                                          "justification": "Vendor VPN only", "expires": "2099-12-31"})
    assert too_far.status_code == 422 and 'id="err-expires"' in too_far.text and "365" in too_far.text
    until = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    ok = admin.post(f"/findings/{fid}/status", follow_redirects=False,
                    data={"csrf_token": token, "status": "risk-accepted", "justification": "Vendor VPN only", "expires": until})
    assert ok.status_code == 303
    page = admin.get(f"/findings/{fid}").text
    assert "st-risk-accepted" in page and "Vendor VPN only" in page
    audit = admin.get("/audit").text
    assert fid in audit and "risk-accepted" in audit and "admin-user" in audit


def test_csrf_is_checked_on_every_post(admin: TestClient, seeded: Seeded) -> None:
    fid = FINDINGS[1].id
    for data in ({"status": "resolved"}, {"status": "resolved", "csrf_token": "forged"}):
        resp = admin.post(f"/findings/{fid}/status", data=data)
        assert resp.status_code == 403
    assert "st-open" in admin.get(f"/findings/{fid}").text
    assert admin.post("/sheets/SH-LAB/delete", data={"csrf_token": "nope"}).status_code == 403
    assert admin.post("/logout", data={}).status_code == 403
    assert admin.get("/sheets/SH-LAB/edit").status_code == 200


def test_viewers_see_but_cannot_change(viewer: TestClient) -> None:
    page = viewer.get(f"/findings/{FINDINGS[1].id}").text
    assert 'id="status-forms"' not in page and "status-form" not in page
    sheets = viewer.get("/sheets").text
    assert 'id="new-sheet"' not in sheets and "/delete" not in sheets and 'action="/sheets/import"' not in sheets
    token = CSRF.search(viewer.get("/").text).group(1)  # the sign-out form carries it
    assert viewer.post(f"/findings/{FINDINGS[1].id}/status", data={"csrf_token": token, "status": "resolved"}).status_code == 403
    assert viewer.post("/sheets/SH-LAB/delete", data={"csrf_token": token}).status_code == 403
    assert viewer.post("/sheets/new", data={"csrf_token": token, "id": "X", "software_name": "x"}).status_code == 403
    assert "st-open" in viewer.get(f"/findings/{FINDINGS[1].id}").text
    assert viewer.get("/sheets/SH-LAB/edit").status_code == 200


def test_sheet_fields_are_escaped(admin: TestClient) -> None:
    evil = "<script>alert(1)</script>"
    token = csrf_of(admin, "/sheets/new")
    resp = admin.post("/sheets/new", follow_redirects=False,
                      data={"csrf_token": token, "id": "SH-XSS", "software_name": evil, "supplier": '"><img src=x onerror=alert(1)>'})
    assert resp.status_code == 303
    for path in ("/sheets", "/sheets/SH-XSS/edit", "/audit"):
        text = admin.get(path).text
        assert evil not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


def test_sheet_validation_errors_sit_next_to_the_field(admin: TestClient) -> None:
    token = csrf_of(admin, "/sheets/new")
    resp = admin.post("/sheets/new", data={"csrf_token": token, "id": "SH-BAD", "software_name": "", "mac": "zz:zz", "vlan": "9999",
                                           "ip": "10.10.300.1"})
    assert resp.status_code == 422
    for name in ("software_name", "mac", "vlan", "ip"):
        assert f'id="e-{name}"' in resp.text and f'aria-describedby="e-{name}"' in resp.text, name
    assert 'value="zz:zz"' in resp.text  # what was typed is kept
    dup = admin.post("/sheets/new", data={"csrf_token": token, "id": "SH-CT", "software_name": "dup"})
    assert dup.status_code == 409 and 'id="e-id"' in dup.text


def test_stale_sheet_edit_shows_the_conflict(admin: TestClient) -> None:
    page = admin.get("/sheets/SH-LAB/edit").text
    token, version = CSRF.search(page).group(1), re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"csrf_token": token, "software_name": "Lab analyser", "supplier": "Roche", "vlan": "130", "version": version}
    first = admin.post("/sheets/SH-LAB/edit", data={**form, "ip": "10.10.130.52"}, follow_redirects=False)
    assert first.status_code == 303
    stale = admin.post("/sheets/SH-LAB/edit", data={**form, "ip": "10.10.130.99"})
    assert stale.status_code == 409 and 'id="conflict"' in stale.text
    assert 'value="10.10.130.52"' in stale.text  # the form now shows the current version
    audit = admin.get("/audit").text
    assert "10.10.130.52" in audit and "10.10.130.99" not in audit


def test_import_and_export_csv(admin: TestClient) -> None:
    exported = admin.get("/sheets/export.csv")
    assert exported.status_code == 200 and "SH-CT" in exported.text
    assert exported.headers["content-disposition"].endswith('.csv"')
    token = csrf_of(admin, "/sheets")
    asked = admin.post("/sheets/SH-LAB/delete", data={"csrf_token": token})
    assert asked.status_code == 200 and 'id="confirm-delete"' in asked.text  # asks first, deletes nothing
    assert "SH-LAB" in admin.get("/sheets").text
    admin.post("/sheets/SH-LAB/delete", data={"csrf_token": token, "confirm": "1"})
    assert "SH-LAB" not in admin.get("/sheets").text
    ok = admin.post("/sheets/import", data={"csrf_token": token}, files={"file": ("sheets.csv", exported.content, "text/csv")},
                    follow_redirects=False)
    assert ok.status_code == 303
    assert "SH-LAB" in admin.get("/sheets").text
    bad = exported.text.replace(";130;", ";99999;", 1)  # an impossible VLAN: the row is refused, so is the file
    refused = admin.post("/sheets/import", data={"csrf_token": token}, files={"file": ("s.csv", bad.encode(), "text/csv")})
    assert refused.status_code == 422 and 'id="import-errors"' in refused.text
    empty = admin.post("/sheets/import", data={"csrf_token": token})
    assert empty.status_code == 422


def test_device_page_highlights_differences(admin: TestClient) -> None:
    page = admin.get(f"/devices/{CT}").text
    rows = re.findall(r'<tr( class="differs")?>\s*<th scope="row">([^<]+)', page)
    flagged = {label.strip() for differs, label in rows if differs}
    assert flagged == {"VLAN", "Remote maintenance"}  # declared VLAN 120 vs 110; remote 'none' vs RDP seen


def test_map_has_red_edges_to_findings_and_links_to_devices(admin: TestClient) -> None:
    page = admin.get("/map/svg").text
    bad = set(re.findall(r'<a class="edge-link" href="/findings/([^"]+)"', page))
    assert bad == {"MT-dminternet01", "MT-crosszone001"}
    assert f'href="/devices/{CT.replace(":", "%3A")}"' in page


def test_revoking_the_token_ends_the_web_session(seeded: Seeded, admin: TestClient) -> None:
    from api.auth import hash_token
    from store.models import TokenRow

    with Session(seeded.app.state.engine) as session:
        row = session.exec(select(TokenRow).where(TokenRow.hash == hash_token(seeded.tokens["admin"]))).one()
        row.revoked = True
        session.add(row)
        session.commit()
    assert admin.get("/findings", follow_redirects=False).status_code == 303


def test_sign_out(admin: TestClient) -> None:
    token = csrf_of(admin, "/")
    resp = admin.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303 and 'medtap_session=""' in resp.headers["set-cookie"]
    assert admin.get("/", follow_redirects=False).status_code == 303


def test_progress_json(admin: TestClient) -> None:
    data = admin.get("/progress.json").json()
    assert data["running"] is False and data["packets"] == 12345


def test_a_running_capture_shows_its_progress(seeded: Seeded, admin: TestClient) -> None:
    from store.records import start_run

    with Session(seeded.app.state.engine) as session:
        start_run(session, sources=["live:eth1"], sensor="sensor-a")
    data = admin.get("/progress.json").json()
    assert data["running"] is True and data["packets"] == 0 and data["text"]
    assert re.search(r'<section class="progress card" id="progress"[^>]*aria-live="polite">', admin.get("/").text)  # not hidden


@pytest.mark.parametrize("query", ["offset=-5", "offset=abc", "offset=99999999999999", "sort=__class__", "severity=%3Cx%3E",
                                   "desc=yes&sort=last_seen", "q=%27%22%3C"])
def test_odd_query_strings_give_a_page_not_an_error(admin: TestClient, query: str) -> None:
    for path in ("/findings", "/devices", "/audit", "/sheets"):
        resp = admin.get(f"{path}?{query}")
        assert resp.status_code == 200, (path, query)
        assert "<x>" not in resp.text and "'\"<" not in resp.text
