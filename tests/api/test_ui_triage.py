"""Findings triage (issue 19 item 2): groups with counts, text and MAC search, date filters, bulk review with
one comment (audited per finding, all or none), risk acceptance bounded by the site policy's maximum."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from analyzer.models import Evidence, Finding
from analyzer.site import SitePolicy
from api.web import triage
from store.errors import InvalidError, NotFoundError
from store.facts import save_policy
from store.models import AuditRow, FindingRow
from store.records import list_findings, save_findings
from store.service import acceptance_limit, set_finding_status, set_findings_status
from tests.api.test_ui_pages import csrf_of, login
from tests.api.ui_seed import CT, FINDINGS, PUMP, T0, Seeded, build_app

FLAT = [Finding(id=f"MT-flat{i:07d}", rule="flat-network", severity="medium", title="Flat network",
                title_fr="Réseau à plat", subject=f"00:1b:00:00:01:{i:02x}",
                devices=[f"00:1b:00:00:01:{i:02x}"],
                ips=[f"10.9.0.{i}"], service="it", zone="office" if i % 2 else "imaging",
                first_seen=T0 + 86400 * (i % 3), last_seen=T0 + 86400 * (i % 3) + 60,
                evidence=[Evidence(text=f"10.9.0.{i} reaches 10.9.1.{i} with no filtering")])
        for i in range(1, 31)]


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    app = build_app(tmp_path / "triage.db")
    with Session(app.app.state.engine) as db:
        save_findings(db, [*FINDINGS, *FLAT], today=dt.date.today())
        db.commit()
    return app


@pytest.fixture
def admin(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["admin"])
        yield client


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-rule="[^"]+" data-id="([^"]+)"', html)


def _groups(html: str) -> dict[str, int]:
    return {k: int(n) for k, n in re.findall(r'<tr data-group="([^"]+)" data-count="(\d+)"', html)}


def _db(seeded: Seeded) -> Session:
    return Session(seeded.app.state.engine)


def test_groups_by_rule_and_subject_count_what_the_filter_lists(admin: TestClient, seeded: Seeded) -> None:
    with _db(seeded) as db:
        stored = list_findings(db, limit=1000)[0]
    by_rule = _groups(admin.get("/findings", params={"group": "rule"}).text)
    assert by_rule == dict(Counter(f.rule for f in stored))
    assert by_rule["flat-network"] == 30
    # a group's link lists exactly the findings it counted
    office = _groups(admin.get("/findings", params={"group": "rule", "zone": "office"}).text)
    assert office["flat-network"] == 15
    listed = _rows(admin.get("/findings", params={"rule": "flat-network", "zone": "office"}).text)
    assert len(listed) == 15 and all(i.startswith("MT-flat") for i in listed)
    by_subject = _groups(admin.get("/findings", params={"group": "subject"}).text)
    assert by_subject == dict(Counter(f.subject for f in stored))


def test_text_search_mac_without_separators_and_dates(admin: TestClient) -> None:
    assert _rows(admin.get("/findings", params={"q": "reaches 10.9.1.7 "}).text) == ["MT-flat0000007"]
    for typed in ("001b0000010a", "00-1B-00-00-01-0A", "001b.0000.010a", "00:1b:00:00:01:0a"):
        assert _rows(admin.get("/findings", params={"q": typed}).text) == ["MT-flat0000010"], typed
    assert _rows(admin.get("/findings", params={"q": "ct-scan-01"}).text)  # a device name finds its findings
    assert set(_rows(admin.get("/findings", params={"q": "réseau plat"}).text)) == {f.id for f in FLAT}
    day2 = dt.datetime.fromtimestamp(T0 + 2 * 86400, dt.UTC).date().isoformat()
    late = _rows(admin.get("/findings", params={"rule": "flat-network", "first_from": day2}).text)
    assert sorted(late) == [f"MT-flat{i:07d}" for i in range(1, 31) if i % 3 == 2]  # first seen on day 2
    day0 = dt.datetime.fromtimestamp(T0, dt.UTC).date().isoformat()
    early = _rows(admin.get("/findings", params={"rule": "flat-network", "last_to": day0}).text)
    assert sorted(early) == [f"MT-flat{i:07d}" for i in range(1, 31) if i % 3 == 0]  # last seen on day 0
    assert _rows(admin.get("/findings", params={"first_from": "not-a-date", "rule": "flat-network"}).text)


def test_a_group_is_risk_accepted_with_one_justification_audited_per_finding(admin: TestClient,
                                                                          seeded: Seeded) -> None:
    token = csrf_of(admin, "/findings?group=rule")
    until = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    form = {"csrf_token": token, "filter_group": "rule", "filter_zone": "office", "key": "flat-network",
            "status": "risk-accepted", "justification": "Office VLAN split planned for 2027",
            "expires": until}
    done = admin.post("/findings/bulk", data=form, follow_redirects=False)
    assert done.status_code == 303 and "msg=findings.bulk_changed" in done.headers["location"]
    assert "15 findings changed" in admin.get(done.headers["location"]).text
    with _db(seeded) as db:
        rows = {r.id: r for r in db.exec(select(FindingRow).where(FindingRow.rule == "flat-network"))}
        accepted = {i for i, r in rows.items() if r.status == "risk-accepted"}
        assert accepted == {f.id for f in FLAT if f.zone == "office"}  # the group within the filter, no more
        assert all(rows[i].justification == "Office VLAN split planned for 2027" for i in accepted)
        audit = db.exec(select(AuditRow).where(AuditRow.entity == "finding",
                                               AuditRow.field == "status")).all()
        assert Counter(a.entity_id for a in audit) == Counter(accepted)  # one audited change per finding
        assert all(a.who == "admin-user (admin)" and a.new == "risk-accepted" for a in audit)


def test_ticked_findings_and_every_finding_of_the_filter(admin: TestClient, seeded: Seeded) -> None:
    token = csrf_of(admin, "/findings")
    picked = [FLAT[0].id, FLAT[3].id]
    done = admin.post("/findings/bulk", data={"csrf_token": token, "id": picked, "status": "acknowledged",
                                              "justification": "seen in the weekly review"},
                      follow_redirects=False)
    assert done.status_code == 303
    everything = admin.post("/findings/bulk", data={"csrf_token": token, "all": "1", "filter_q": "10.9.0.2",
                                                    "status": "resolved"}, follow_redirects=False)
    assert everything.status_code == 303
    with _db(seeded) as db:
        status = {r.id: r.status for r in db.exec(select(FindingRow))}
    assert {i for i, s in status.items() if s == "acknowledged"} == set(picked)
    # "10.9.0.2" also matches 10.9.0.20..29: the filter, not a guess, decides
    assert {i for i, s in status.items() if s == "resolved"} == {f.id for f in FLAT if "10.9.0.2" in f.ips[0]}


def test_bulk_refusals_change_nothing(admin: TestClient, seeded: Seeded) -> None:
    token = csrf_of(admin, "/findings")
    base = {"csrf_token": token, "filter_group": "rule", "key": "flat-network"}
    cases = [
        ({"status": "risk-accepted", "justification": "x", "expires": "2099-12-31"}, "err-expires"),
        ({"status": "risk-accepted", "justification": "", "expires": ""}, "err-justification"),
        ({"status": "false-positive"}, "err-justification"),
        ({"status": "no-longer-observed"}, "err-status"),
        ({"status": "acknowledged", "key": ""}, "err-ids"),
    ]
    for extra, error in cases:
        resp = admin.post("/findings/bulk", data={**base, **extra})
        assert resp.status_code == 422 and f'id="{error}"' in resp.text, (extra, resp.text[-500:])
    forged = admin.post("/findings/bulk", data={**base, "status": "acknowledged", "csrf_token": "x"})
    assert forged.status_code == 403
    with _db(seeded) as db:
        assert {r.status for r in db.exec(select(FindingRow))} == {"open"}
        assert not db.exec(select(AuditRow).where(AuditRow.entity == "finding")).all()


def test_a_viewer_sees_no_bulk_form_and_may_not_post(seeded: Seeded) -> None:
    with TestClient(seeded.app) as viewer:
        login(viewer, seeded.tokens["viewer"])
        page = viewer.get("/findings").text
        assert 'id="bulk-form"' not in page and _rows(page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # the sign-out form's
        resp = viewer.post("/findings/bulk", data={"csrf_token": token, "all": "1", "status": "resolved"})
        assert resp.status_code == 403


def test_service_bound_and_all_or_none(seeded: Seeded) -> None:
    today = dt.date(2026, 12, 7)
    with _db(seeded) as db:
        assert acceptance_limit(db, today) == dt.date(2027, 12, 7)  # one year without a policy
        with pytest.raises(InvalidError) as exc:
            set_finding_status(db, FINDINGS[0].id, status="risk-accepted", justification="j",
                               expires=dt.date(2027, 12, 8), actor="t", today=today)
        assert exc.value.field == "expires"
        save_policy(db, SitePolicy(site="demo", risk_acceptance_max_days=30), source="test")
        assert acceptance_limit(db, today) == dt.date(2027, 1, 6)
        with pytest.raises(InvalidError):
            set_findings_status(db, [FLAT[0].id], status="risk-accepted", justification="j",
                                expires=dt.date(2027, 1, 7), actor="t", today=today)
        with pytest.raises(NotFoundError):
            set_findings_status(db, [FLAT[0].id, "MT-nope"], status="acknowledged", actor="t")
        assert db.get(FindingRow, FLAT[0].id).status == "open"  # all or none
        n = set_findings_status(db, [f.id for f in FLAT[:5]] + [FLAT[0].id], status="risk-accepted",
                                justification="j", expires=dt.date(2027, 1, 6), actor="t", today=today)
        assert n == 5
    with pytest.raises(ValueError):
        SitePolicy(risk_acceptance_max_days=0)


def test_api_bulk_review_and_its_bound(seeded: Seeded) -> None:
    client = TestClient(seeded.app)
    auth = {"Authorization": f"Bearer {seeded.tokens['biomedical']}"}
    far = client.post("/api/v1/findings/review", headers=auth,
                      json={"ids": [FLAT[0].id], "status": "risk-accepted", "justification": "j",
                            "expires": "2099-01-01"})
    assert far.status_code == 422 and far.json()["field"] == "expires"
    ok = client.post("/api/v1/findings/review", headers=auth,
                     json={"ids": [FLAT[0].id, FLAT[1].id], "status": "acknowledged"})
    assert ok.status_code == 200 and ok.json() == {"changed": 2}
    viewer = {"Authorization": f"Bearer {seeded.tokens['viewer']}"}
    assert client.post("/api/v1/findings/review", headers=viewer,
                       json={"ids": [FLAT[2].id], "status": "acknowledged"}).status_code == 403


def test_triage_units() -> None:
    assert triage.mac_key("00-1B-00-00-01-0A") == triage.mac_key("001b.0000.010a") == "001b0000010a"
    params = triage.clean_params({"severity": "bogus", "status": "unresolved", "first_from": "2026-02-30"})
    assert params["severity"] == "" and params["status"] == "unresolved" and params["first_from"] == ""
    closed = FLAT[0].model_copy(update={"status": "resolved"})
    assert triage.select([closed, FLAT[1]], params) == [FLAT[1]]
    groups = triage.group([*FLAT, FINDINGS[0]], "rule", lang="fr")
    assert groups[0].key == "dm-internet" and groups[0].label.startswith("Dispositif")  # worst severity first
    assert groups[1].count == 30 and groups[1].label == "Réseau à plat"
    picked = triage.expand(FLAT, ids=[FLAT[0].id, "MT-other"], groups=[], by="", everything=False)
    assert picked == [FLAT[0].id]
    assert PUMP not in {f.subject for f in FLAT}


def test_finding_page_rule_texts_history_and_related(admin: TestClient, seeded: Seeded) -> None:
    from analyzer.rules import load_rules

    rule = next(r for r in load_rules() if r.id == FINDINGS[0].rule)
    fid = FINDINGS[0].id  # dm-internet on the CT scanner, which also has an end-of-life finding
    token = csrf_of(admin, f"/findings/{fid}")
    admin.post(f"/findings/{fid}/status", data={"csrf_token": token, "status": "acknowledged",
                                               "justification": "ticket 4711"})
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    admin.post("/findings/bulk", data={"csrf_token": token, "id": [fid], "status": "risk-accepted",
                                       "justification": "vendor VPN until March", "expires": until})
    page = admin.get(f"/findings/{fid}").text
    assert rule.rationale in page and rule.description in page
    assert all(ref.replace("'", "&#39;") in page for ref in rule.references)
    assert FINDINGS[0].recommendation in page
    history = page[page.index('id="history-table"'):page.index('id="related-findings"')]
    rows = re.findall(r"<tr><td>(.*?)</tr>", history, re.S)
    assert len(rows) == 2 and all("admin-user (admin)" in r for r in rows)  # who, oldest first
    assert "ticket 4711" in rows[0] and "st-acknowledged" in rows[0] and "st-open" in rows[0]
    assert "vendor VPN until March" in rows[1] and until in rows[1] and "st-risk-accepted" in rows[1]
    assert all("<time datetime=" in r for r in rows)  # when
    related = re.findall(r'<li data-id="([^"]+)"', page[page.index('id="related-findings"'):])
    assert related == [f.id for f in FINDINGS[1:] if CT in f.devices]
    french = admin.get(f"/findings/{fid}", cookies={"medtap_lang": "fr"}).text
    assert "Historique du statut" in french and "revue" in french and "Autres constats" in french
    assert 'max="' + acceptance_limit(_db(seeded), dt.date.today()).isoformat() + '"' in page
