"""The reports of issue 17 on the demo hospital: supplier scorecards and the perimeter review (golden
JSON), the PDF read back by a real PDF library, the review campaign (API and UI), "if isolated" and
the rules' playbooks on findings.

The demo is replayed once into a SQLite file; tests that change it work on a copy.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.api.test_ui_pages import CSRF, login
from tests.conftest import REPO

DEMO = REPO / "pcaps" / "demo"
GOLDEN = REPO / "tests" / "golden" / "reports"
TODAY = dt.date(2026, 3, 2)  # the demo captures' day: sheets reviewed in 2025 are due or not by it
CT = "00:0e:8c:10:00:21"  # CT-SCANNER-01, sends images to the PACS
PACS = "00:14:22:50:00:20"
PRINTER = "00:1c:c4:20:00:60"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analyzer.site import load_site
    from store.loop import ReplayOptions, run_replay

    db = tmp_path_factory.mktemp("reports") / "demo.db"
    run_replay(ReplayOptions(paths=sorted(DEMO.glob("demo-*.pcap")), db_url=f"sqlite:///{db}",
                             site=load_site(DEMO / "site.yaml"), sheets=DEMO / "sheets.csv"))
    return db


@pytest.fixture
def demo_copy(demo_db: Path, tmp_path: Path) -> str:
    """A copy of the demo database for a test that changes it."""
    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_db, copy)
    return f"sqlite:///{copy}"


def _session(url: str) -> Iterator[Session]:
    from store.db import session_for

    with session_for(url) as session:
        yield session


def _golden(name: str, got: Any, update: bool) -> None:
    path = GOLDEN / name
    text = json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not update:
            pytest.fail(f"{path} was missing: written, review and commit it")
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- suppliers


def test_supplier_scorecards_match_golden(demo_db: Path, update_golden: bool, tmp_path: Path) -> None:
    from api.cli import app

    out = tmp_path / "suppliers.json"
    result = CliRunner().invoke(app, ["report", "suppliers", "--format", "json", "--out", str(out),
                                      "--db", f"sqlite:///{demo_db}"])
    assert result.exit_code == 0, result.output
    got = json.loads(out.read_text(encoding="utf-8"))
    _golden("suppliers.json", got, update_golden)
    cards = {c["supplier"]: c for c in got["suppliers"]}
    # what the demo was built with: the lab analyzer (Roche, Windows 7) reaches the Internet, the
    # Siemens supplier PC is reached by TeamViewer outside the bastion and by RDP through it
    assert cards["Roche Diagnostics"]["counts"]["obsolete_os"] == 1
    assert cards["Roche Diagnostics"]["counts"]["internet"] == 1
    assert cards["Siemens Healthineers"]["remote_access"]["teamviewer"] == {"approved": 0, "direct": 1}
    assert cards["Siemens Healthineers"]["remote_access"]["rdp"] == {"approved": 1, "direct": 0}
    assert cards["Siemens Healthineers"]["source"] == "sheet" and cards["Draeger"]["source"] == "vendor"
    scores = [c["score"] for c in got["suppliers"]]
    assert scores == sorted(scores)  # worst first


def test_supplier_score_follows_its_one_formula() -> None:
    from analyzer.suppliers import FINDING_WEIGHTS, FORMULA, WEIGHTS, score

    assert score({}, {}, 3) == 100.0
    assert score({"obsolete_os": 1}, {"high": 1}, 2) == 100 - (WEIGHTS["obsolete_os"] + FINDING_WEIGHTS["high"]) / 2
    assert score(dict.fromkeys(WEIGHTS, 10), {"critical": 50}, 1) == 0.0
    for name, weight in WEIGHTS.items():
        assert f"{weight} x {name.replace('_', ' ')}" in FORMULA


def test_supplier_csv_and_html(demo_db: Path) -> None:
    from api.reports import supplier_report
    from store.reviews import supplier_data

    for session in _session(f"sqlite:///{demo_db}"):
        cards = supplier_data(session)
    rows = list(csv.DictReader(io.StringIO(supplier_report(cards, fmt="csv").decode("utf-8"))))
    assert [r["supplier"] for r in rows] == [c["supplier"] for c in cards]
    siemens = next(r for r in rows if r["supplier"] == "Siemens Healthineers")
    assert siemens["remote_access"] == "rdp:1/0 teamviewer:0/1"
    html = supplier_report(cards, fmt="html", lang="fr").decode("utf-8")
    assert "Fiches d&#39;évaluation des fournisseurs" in html and "score = max(0, 100 - points / devices)" in html


# ----------------------------------------------------------------------------- perimeter


def test_perimeter_review_matches_golden(demo_db: Path, update_golden: bool) -> None:
    from store.reviews import perimeter_data

    for session in _session(f"sqlite:///{demo_db}"):
        data = perimeter_data(session, today=TODAY)
    _golden("perimeter.json", data, update_golden)
    bio = next(s for s in data["services"] if s["service"] == "biomedical")
    apps = {a["id"]: a for a in bio["applications"]}
    assert apps["SH-0002"]["owner"] == "supplier" and apps["SH-0001"]["owner"] == "establishment"
    assert apps["SH-0001"]["due"] is False and apps["SH-0001"]["last_review"] == "2025-11-14"
    assert data["previous_review"] is None and data["changes"]["devices"]["added"] == []


def test_perimeter_pdf_opens_in_a_pdf_reader(demo_db: Path, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    from api.cli import app

    out = tmp_path / "review.pdf"
    result = CliRunner().invoke(app, ["report", "perimeter", "--format", "pdf", "--out", str(out),
                                      "--db", f"sqlite:///{demo_db}"])
    assert result.exit_code == 0, result.output
    reader = pypdf.PdfReader(str(out))
    text = " ".join((page.extract_text() or "") for page in reader.pages)
    assert len(reader.pages) >= 2
    for expected in ("Yearly perimeter review - Demo hospital", "Perimeter of the biomedical service",
                     "SH-0001", "CT-SCANNER-01", "Sign-off", "Biomedical engineering"):
        assert expected in " ".join(text.split()), expected


def test_perimeter_html_in_french(demo_db: Path, tmp_path: Path) -> None:
    from api.cli import app

    out = tmp_path / "review.html"
    result = CliRunner().invoke(app, ["report", "perimeter", "--format", "html", "--lang", "fr", "--out",
                                      str(out), "--db", f"sqlite:///{demo_db}"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Revue annuelle du périmètre" in html and "@media print" in html and "Validation" in html


def test_a_closed_review_is_the_reference_of_the_next(demo_copy: str) -> None:
    """Close a review, then move a sheet to IT and delete another: the next review says so."""
    from analyzer.sheets import Sheet
    from store import service
    from store.models import AuditRow
    from store.reviews import close_review, mark_reviewed, open_review, perimeter_data, progress

    for session in _session(demo_copy):
        open_review(session, actor="j.martin")
        mark_reviewed(session, "SH-0001", actor="j.martin", note="checked with the radiology", today=TODAY)
        state = progress(session)
        assert set(state["reviewed"]) == {"SH-0001"} and "SH-0001" not in state["left"]
        assert service.get_sheet(session, "SH-0001").sheet.last_review == TODAY  # type: ignore[union-attr]
        audit = session.exec(select(AuditRow).where(AuditRow.entity_id == "SH-0001")).all()
        assert {(a.who, a.action, a.field) for a in audit} >= {("j.martin", "review", "reviewed"),
                                                               ("j.martin", "update", "last_review")}
        close_review(session, actor="j.martin")
        sheet = service.get_sheet(session, "SH-0004")
        assert sheet is not None
        moved = Sheet.model_validate({**sheet.sheet.model_dump(), "responsibility": "it"})
        service.update_sheet(session, "SH-0004", moved, version=sheet.version, actor="a.bernard")
        service.delete_sheet(session, "SH-0003", actor="a.bernard")
        data = perimeter_data(session, today=TODAY)
    assert data["previous_review"] == dt.date.today().isoformat()
    sheets = data["changes"]["sheets"]
    assert [i["id"] for i in sheets["removed"]] == ["SH-0003"]
    assert [(i["id"], i["from"], i["to"]) for i in sheets["moved"]] == [("SH-0004", "biomedical", "it")]
    assert sheets["added"] == []
    it = next(s for s in data["services"] if s["service"] == "it")
    assert [a["id"] for a in it["applications"]] == ["SH-0004"]


# ----------------------------------------------------------------------------- if isolated


def test_if_isolated_lists_the_clinical_flows(demo_db: Path) -> None:
    from store.reviews import isolation_flows

    for session in _session(f"sqlite:///{demo_db}"):
        ct, pacs, printer = (isolation_flows(session, mac) for mac in (CT, PACS, PRINTER))
        assert isolation_flows(session, "02:00:00:00:00:99") is None
    assert ct is not None and pacs is not None
    assert {(f["peer_ip"], f["app"], f["side"]) for f in ct} >= {("10.50.0.20", "dicom", "client")}
    assert all(f["app"] in ("dicom", "hl7", "astm", "poct", "intellivue", "sdc") for f in ct)
    assert any(f["peer_ip"] == "10.10.110.21" and f["side"] == "server" and f["app"] == "dicom" for f in pacs)
    assert printer == []  # a printer carries no clinical flow


# ----------------------------------------------------------------------------- API and UI


@pytest.fixture
def app_on_copy(demo_copy: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from api.auth import create_token
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=demo_copy, secret_key="reports-test-" + "x" * 24, auto_analyze=False))
    with Session(app.state.engine) as session:
        tokens = {role: create_token(session, role=role, name=f"{role}-user")
                  for role in ("admin", "biomedical", "viewer")}
    with TestClient(app) as client:
        yield client, tokens


def test_review_campaign_through_the_api(app_on_copy: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_on_copy
    bio = {"Authorization": f"Bearer {tokens['biomedical']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/v1/reviews/current", headers=viewer).json()["review"] is None
    assert client.post("/api/v1/reviews", headers=viewer).status_code == 403
    opened = client.post("/api/v1/reviews", headers=bio)
    assert opened.status_code == 201 and opened.json()["review"]["opened_by"]
    assert client.post("/api/v1/reviews", headers=bio).status_code == 409
    marked = client.post("/api/v1/reviews/current/sheets/SH-0002", headers=bio, json={"note": "ok"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["reviewed"]["SH-0002"]["note"] == "ok" and "SH-0002" not in marked.json()["left"]
    assert client.post("/api/v1/reviews/current/sheets/SH-0002", headers=bio).status_code == 409
    assert client.post("/api/v1/reviews/current/sheets/NOPE", headers=bio).status_code == 404
    pdf = client.get("/api/v1/reports/perimeter?format=pdf", headers=viewer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    body = client.get("/api/v1/reports/perimeter?format=json", headers=viewer).json()
    apps = {a["id"]: a for s in body["services"] for a in s["applications"]}
    assert apps["SH-0002"]["reviewed"]["note"] == "ok"
    closed = client.post("/api/v1/reviews/current/close", headers=bio)
    assert closed.status_code == 200 and closed.json()["closed_at"]
    suppliers = client.get("/api/v1/reports/suppliers?format=csv", headers=viewer)
    assert suppliers.status_code == 200 and suppliers.text.startswith("supplier,source,score")
    flows = client.get(f"/api/v1/devices/{CT}/isolation", headers=viewer).json()
    assert any(f["app"] == "dicom" and f["peer_ip"] == "10.50.0.20" for f in flows)
    assert client.get("/api/v1/devices/02:00:00:00:00:99/isolation", headers=viewer).status_code == 404


def test_findings_carry_their_rule_playbook_in_the_api(app_on_copy: tuple[TestClient, dict[str, str]]) -> None:
    from analyzer.paths import rules_dir
    from analyzer.rules import load_rules

    client, tokens = app_on_copy
    rules = {r.id: r for r in load_rules(rules_dir())}
    items = client.get("/api/v1/findings?limit=1000",
                       headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()["items"]
    assert items
    for item in items:
        assert item["playbook"] == rules[item["rule"]].playbook and item["playbook_fr"]


def test_review_campaign_and_report_pages(app_on_copy: tuple[TestClient, dict[str, str]]) -> None:
    from analyzer.suppliers import FORMULA

    client, tokens = app_on_copy
    login(client, tokens["biomedical"])
    page = client.get("/reviews")
    assert page.status_code == 200 and 'id="btn-open-review"' in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/reviews/open", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    page = client.get("/reviews")
    assert 'id="btn-review-SH-0005"' in page.text and "0 of 9 sheets reviewed; 9 left." in page.text
    done = client.post("/reviews/sheets/SH-0005", data={"csrf_token": token, "note": "pump fleet checked"},
                       follow_redirects=False)
    assert done.status_code == 303
    page = client.get("/reviews").text
    assert "1 of 9 sheets reviewed; 8 left." in page and "pump fleet checked" in page
    assert 'id="btn-review-SH-0005"' not in page
    assert client.post("/reviews/sheets/SH-0005", data={"csrf_token": "forged"}).status_code == 403
    suppliers = client.get("/suppliers").text
    assert FORMULA.replace(" ", "")[:40] in suppliers.replace(" ", "") and "Siemens Healthineers" in suppliers
    device = client.get(f"/devices/{CT}").text
    assert 'id="if-isolated"' in device and "imaging (DICOM)" in device
    finding = next(f for f in client.get("/api/v1/findings?rule=legacy-smb1",
                                         headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()["items"])
    page = client.get(f"/findings/{finding['id']}").text
    assert 'id="finding-playbook"' in page and "WannaCry" in page
    assert client.get("/reviews/report.pdf").content.startswith(b"%PDF-")


def test_a_viewer_sees_the_campaign_but_cannot_mark(app_on_copy: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = app_on_copy
    login(client, tokens["viewer"])
    page = client.get("/reviews")
    assert page.status_code == 200 and "btn-open-review" not in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/reviews/open", data={"csrf_token": token}, follow_redirects=False).status_code == 403


def test_the_readme_shows_the_one_score_formula() -> None:
    from analyzer.suppliers import FORMULA

    assert f"> {FORMULA}\n" in (REPO / "README.md").read_text(encoding="utf-8")


def test_review_campaign_on_both_databases(db_url: str) -> None:
    """Open, mark, close and compare on SQLite and PostgreSQL (the 0005_reviews tables)."""
    from analyzer.sheets import Sheet
    from store import service
    from store.reviews import close_review, mark_reviewed, open_review, perimeter_data, progress

    for session in _session(db_url):
        for sid, owner in (("SH-1", "establishment"), ("SH-2", "supplier")):
            service.create_sheet(session, Sheet(id=sid, software_name=f"App {sid}", workstation_owner=owner),
                                 actor="seed")
        open_review(session, actor="j.martin")
        mark_reviewed(session, "SH-2", actor="j.martin", today=TODAY)
        assert progress(session)["left"] == ["SH-1"]
        close_review(session, actor="j.martin")
        service.delete_sheet(session, "SH-1", actor="a.bernard")
        data = perimeter_data(session, today=TODAY)
    apps = data["services"][0]["applications"]
    assert [(a["id"], a["owner"], a["due"], a["last_review"]) for a in apps] == [
        ("SH-2", "supplier", False, TODAY.isoformat())]
    assert [i["id"] for i in data["changes"]["sheets"]["removed"]] == ["SH-1"]


def test_review_campaign_from_the_cli(demo_copy: str) -> None:
    """Issue 17 gap 5: `medtap review open|mark|status|close` calls the service functions of the UI and API
    (store.reviews): who and when recorded and audited, what is left listed per service, the same JSON as
    GET /api/v1/reviews/current."""
    from api.cli import app
    from store.models import AuditRow
    from store.reviews import review_status

    cli = CliRunner()

    def run(*args: str) -> Any:
        return cli.invoke(app, ["review", *args, "--db", demo_copy])

    assert "no perimeter review is open" in run("status").output
    assert run("mark", "SH-0001").exit_code == 1  # no campaign open: refused with the reason
    opened = run("open", "--by", "j.martin")
    assert opened.exit_code == 0 and "review 1 opened by j.martin" in opened.output
    assert run("open").exit_code == 1  # one at a time
    marked = run("mark", "SH-0001", "SH-0002", "--by", "j.martin", "--on", TODAY.isoformat(), "--note", "ok",
                 "--json")
    assert marked.exit_code == 0, marked.output
    status = json.loads(marked.output)
    assert set(status["reviewed"]) == {"SH-0001", "SH-0002"}
    assert status["reviewed"]["SH-0001"]["by"] == "j.martin" and status["reviewed"]["SH-0001"]["note"] == "ok"
    assert "SH-0001" not in status["left"]
    assert all("SH-0001" not in ids for ids in status["left_by_service"].values())
    assert run("mark", "SH-0001", "--by", "x").exit_code == 1  # already reviewed: a conflict, said once
    assert run("mark", "NOPE").exit_code == 1
    assert run("mark", "SH-0003", "--on", "2999-01-01").exit_code == 1
    shown = run("status")
    assert "reviewed SH-0002 by j.martin" in shown.output and "left for biomedical" in shown.output
    for session in _session(demo_copy):
        assert json.loads(run("status", "--json").output) == json.loads(json.dumps(review_status(session)))
        assert service_sheet_review(session, "SH-0002") == TODAY
        audit = session.exec(select(AuditRow).where(AuditRow.entity_id == "SH-0001")).all()
        who = {(a.who, a.action) for a in audit}
        assert {("j.martin", "review"), ("j.martin", "update")} <= who
    closed = run("close", "--by", "j.martin")
    assert closed.exit_code == 0 and "review 1 closed by j.martin" in closed.output
    assert "no perimeter review is open" in run("status").output


def service_sheet_review(session: Session, sheet_id: str) -> dt.date | None:
    from store import service

    found = service.get_sheet(session, sheet_id)
    assert found is not None
    return found.sheet.last_review
