"""The web UI in a real headless Chromium: sign in, filter, accept a risk, edit a sheet, the map, the keyboard."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest

from store.service import list_findings, list_sheets
from tests.browser.conftest import Tab

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one Chromium, one big hospital


def test_sign_in(tab: Tab) -> None:
    tab.go("/findings")
    assert "/login" in tab.page.url
    tab.page.fill("#token", "mt_not-a-token")
    tab.page.click("button[type=submit]")
    assert tab.page.locator("#token-error").is_visible()
    tab.forgive_status(401)  # the refused sign-in answers 401: Chromium logs the status, the page shows the error
    tab.page.fill("#token", tab.server.seeded.tokens["admin"])
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(re.compile(r"/findings$"))
    assert tab.page.locator("h1").inner_text().startswith("Findings")
    assert "admin-user" in tab.page.locator(".whoami").inner_text()
    cookies = {c["name"]: c for c in tab.page.context.cookies()}
    assert cookies["medtap_session"]["httpOnly"] and cookies["medtap_session"]["sameSite"] == "Strict"
    assert tab.page.evaluate("document.cookie").find("medtap_session") == -1  # invisible to scripts
    tab.finish("sign-in")


def test_filter_findings(tab: Tab) -> None:
    with tab.db() as db:
        everything = list_findings(db, limit=10_000)[0]
    severity = Counter(f.severity for f in everything).most_common(1)[0][0]
    expected = sorted(f.rule for f in everything if f.severity == severity)
    tab.sign_in(path="/findings")
    assert "findings" in tab.page.url
    tab.page.select_option("#f-severity", severity)
    tab.page.click("#apply-filters")
    tab.page.wait_for_url(re.compile(rf"severity={severity}"))
    rows = tab.page.locator("#findings-table tbody tr")
    rules = rows.evaluate_all("rows => rows.map(r => r.dataset.rule)")
    assert sorted(rules) == expected[:50]  # first page
    tab.page.click("#findings-table thead a:has-text('Rule')")  # sortable column
    tab.page.wait_for_url(re.compile(r"sort=rule"))
    rules = rows.evaluate_all("rows => rows.map(r => r.dataset.rule)")
    assert rules == sorted(rules) and len(rules) == min(len(expected), 50)
    tab.finish("findings-filtered")


def test_accept_a_risk_with_a_justification(tab: Tab) -> None:
    with tab.db() as db:
        target = next(f for f in list_findings(db, status="open", limit=10_000)[0] if f.rule == "undeclared-device")
    tab.sign_in(path=f"/findings/{target.id}")
    tab.page.click("#btn-risk-accepted")
    assert tab.page.locator("#err-justification").is_visible() and tab.page.locator("#err-expires").is_visible()
    tab.forgive_status(422)  # the refused form answers 422 (logged by Chromium as a failed resource)
    tab.page.fill("#accept-justification", "Pump fleet being replaced; isolated SSID until then")
    tab.page.fill("#accept-expires", (dt.date.today() + dt.timedelta(days=180)).isoformat())
    tab.page.click("#btn-risk-accepted")
    tab.page.wait_for_url(re.compile(r"msg=finding.status_changed"))
    assert "risk accepted" in tab.page.locator("#finding-status").inner_text()
    assert "isolated SSID" in tab.page.locator("#finding-justification").inner_text()
    assert tab.page.locator(".flash").is_visible()
    tab.finish("risk-accepted")


def test_edit_a_sheet_and_see_the_audit_entry(tab: Tab) -> None:
    with tab.db() as db:
        sheet_id = list_sheets(db, limit=1)[0][0].sheet.id
    tab.sign_in(path=f"/sheets/{sheet_id}/edit")
    tab.page.fill("#s-supplier", "Roche Diagnostics France")
    tab.page.fill("#s-it_referent", "dsi@demo-hospital.example")
    tab.page.click("#save-sheet")
    tab.page.wait_for_url(re.compile(r"/sheets\?msg=sheets.saved"))
    tab.page.click("nav >> text=Audit log")
    row = tab.page.locator("#audit-table tbody tr", has_text="Roche Diagnostics France").first
    assert sheet_id in row.inner_text() and "supplier" in row.inner_text() and "admin-user" in row.inner_text()
    tab.finish("sheet-audit")


def test_map_red_edge_leads_to_its_finding(tab: Tab) -> None:
    tab.sign_in(path="/map/svg")
    edges = tab.page.locator("#netmap a.edge-link")
    assert edges.count() >= 1
    finding_id = edges.first.get_attribute("data-finding")
    # Click the red curve itself, half-way along, where a person would (screen point from the SVG's CTM).
    x, y = tab.page.locator("#netmap a.edge-link path.edge-bad").first.evaluate(
        """e => { const p = e.getPointAtLength(e.getTotalLength() / 2), m = e.getScreenCTM();
                  const s = e.ownerSVGElement.createSVGPoint(); s.x = p.x; s.y = p.y;
                  const q = s.matrixTransform(m); return [q.x, q.y]; }""")
    tab.page.mouse.click(x, y)
    tab.page.wait_for_url(re.compile(rf"/findings/{finding_id}$"))
    assert finding_id in tab.page.locator(".crumbs").inner_text()
    tab.go("/map/svg")
    tab.page.click("[data-zoom=in]")  # zoom changes the viewBox, the map script raises nothing
    assert tab.page.locator("#netmap").get_attribute("viewBox") != "0 0 1280"
    tab.finish("map")


def _focused(tab: Tab) -> str:
    return str(tab.page.evaluate(
        "() => { const e = document.activeElement; return e.id || e.getAttribute('href') || e.className || e.tagName; }"))


def test_keyboard_reaches_the_main_controls(tab: Tab) -> None:
    tab.sign_in(path="/findings")
    tab.page.keyboard.press("Tab")
    assert _focused(tab) == "skip-link"
    outline = tab.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # visible focus
    tab.page.keyboard.press("Enter")
    reached = []
    for _ in range(40):
        tab.page.keyboard.press("Tab")
        reached.append(_focused(tab))
    for control in ("f-rule", "f-severity", "f-status", "f-zone", "f-service", "apply-filters"):
        assert control in reached, (control, reached)
    assert any(r.startswith("/findings/MT-") for r in reached)
    tab.page.focus("#f-severity")
    tab.page.keyboard.press("ArrowDown")  # a native select works from the keyboard
    tab.page.keyboard.press("Enter")
    tab.page.focus("#apply-filters")
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_url(re.compile(r"severity="))
    tab.finish("keyboard")
