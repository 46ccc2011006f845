"""The HTTP API on SQLite and on PostgreSQL: auth and roles, devices, findings review, sheets, ingest, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from api.auth import PERMISSIONS, ROLES
from store.records import save_devices, save_findings
from tests.analyzer.test_sheet_io import french_csv
from tests.api.conftest import Api
from tests.api.factories import CT, devices, findings, sheet

V1 = "/api/v1"
TODAY = dt.date(2026, 6, 1)

# one request per permission, to walk the role matrix
PROBES = {
    "read": ("get", "/devices", None),
    "export": ("get", "/exports/inventory.csv", None),
    "finding.status": ("patch", "/findings/MT-nope", {"status": "acknowledged"}),
    "sheet.write": ("post", "/sheets", {"id": "SH-R", "software_name": "x"}),
    "audit.read": ("get", "/audit", None),
    "analyze": ("post", "/analyze-probe", None),
    "intervention.write": ("post", "/devices/00:00:5e:00:53:01/interventions",
                           {"kind": "update", "at": "2026-03-02T14:30:00Z", "by": "probe"}),
    "ingest": ("post", "/ingest", {"sensor": "test-sensor", "seq": 1, "observations": []}),
    "token.manage": ("get", "/tokens", None),
}


def seed(api: Api) -> None:
    with api.session() as session:
        save_devices(session, devices())
        save_findings(session, findings(), today=TODAY)
        session.commit()


def test_health_without_token_and_401_without_or_with_bad_token(api: Api) -> None:
    assert api.client.get(f"{V1}/health").json()["database"] is True
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = api.client.get(f"{V1}/devices", headers=headers)
        assert response.status_code == 401
        assert response.json()["field"] == "Authorization" and response.json()["detail"]


def test_role_matrix(api: Api) -> None:
    assert set(PERMISSIONS) == set(PROBES)
    for permission, (method, path, body) in PROBES.items():
        if path == "/analyze-probe":
            continue  # needs the analyzer engine: covered by test_reanalyze_keeps_statuses
        for role in ROLES:
            response = getattr(api, method)(V1 + path, role, **({"json": body} if body is not None else {}))
            if role in PERMISSIONS[permission]:
                assert response.status_code not in (401, 403), (permission, role, response.text)
            else:
                assert response.status_code == 403, (permission, role, response.status_code)
                assert response.json()["field"] == "Authorization"


def test_devices_filters_pagination_and_detail(api: Api) -> None:
    seed(api)
    page = api.get(f"{V1}/devices", "viewer", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert [d["mac"] for d in api.get(f"{V1}/devices", params={"zone": "imaging"}).json()["items"]] == [CT]
    assert api.get(f"{V1}/devices", params={"connection": "wifi"}).json()["total"] == 1
    assert api.get(f"{V1}/devices", params={"q": "10.50.0"}).json()["items"][0]["hostname"] == "pacs"
    assert api.get(f"{V1}/devices", params={"connection": "bluetooth"}).status_code == 422
    detail = api.get(f"{V1}/devices/00-11-22-33-44-55").json()
    assert detail["device"]["mac"] == CT and len(detail["findings"]) == 3 and detail["sheet"] is None
    missing = api.get(f"{V1}/devices/not-a-mac")
    assert missing.status_code == 404 and missing.json()["field"] == "mac"


def test_finding_review_is_validated_audited_and_filtered(api: Api) -> None:
    seed(api)
    listing = api.get(f"{V1}/findings").json()
    assert [f["severity"] for f in listing["items"]] == ["high", "medium", "low"]
    fid = listing["items"][0]["id"]
    bad = api.patch(f"{V1}/findings/{fid}", "biomedical", json={"status": "risk-accepted"})
    assert bad.status_code == 422 and bad.json()["field"] == "justification"
    past = api.patch(f"{V1}/findings/{fid}", json={"status": "risk-accepted", "justification": "isolated", "expires": "2001-01-01"})
    assert past.status_code == 422 and past.json()["field"] == "expires"
    too_far = api.patch(f"{V1}/findings/{fid}", "biomedical",
                        json={"status": "risk-accepted", "justification": "Isolated VLAN", "expires": "2099-01-01"})
    assert too_far.status_code == 422 and too_far.json()["field"] == "expires"  # one year at most by default
    until = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    ok = api.patch(f"{V1}/findings/{fid}", "biomedical",
                   json={"status": "risk-accepted", "justification": "Isolated VLAN", "expires": until})
    assert ok.status_code == 200 and ok.json()["status"] == "risk-accepted" and ok.json()["updated_by"] == "biomedical:test-biomedical"
    assert api.get(f"{V1}/findings", params={"status": "risk-accepted"}).json()["total"] == 1
    assert api.get(f"{V1}/findings", params={"severity": "low", "zone": "imaging"}).json()["total"] == 1
    assert api.patch(f"{V1}/findings/MT-unknown", json={"status": "acknowledged"}).status_code == 404
    entries = api.get(f"{V1}/audit", params={"entity": "finding"}).json()["items"]
    assert {(e["field"], e["old"], e["new"]) for e in entries} == {
        ("status", "open", "risk-accepted"), ("justification", None, "Isolated VLAN"), ("expires", None, until)}
    assert all(e["who"] == "biomedical:test-biomedical" and e["entity_id"] == fid for e in entries)


def test_reanalyze_keeps_statuses(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from analyzer.models import Report

    produced = {"findings": findings()}
    fake = types.ModuleType("analyzer.engine")
    fake.analyze = lambda observations, **kw: Report(devices=devices(), findings=produced["findings"])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "analyzer.engine", fake)
    assert api.post(f"{V1}/analyze").json() == {"devices": 3, "findings": 3}
    fid = findings()[1].id
    api.patch(f"{V1}/findings/{fid}", json={"status": "acknowledged"})
    produced["findings"] = findings()[:2]
    assert api.post(f"{V1}/analyze", "it").json() == {"devices": 3, "findings": 2}
    assert api.get(f"{V1}/findings/{fid}").json()["status"] == "acknowledged"
    gone = api.get(f"{V1}/findings/{findings()[2].id}").json()
    assert gone["active"] is False
    assert api.get(f"{V1}/findings").json()["total"] == 2
    assert api.get(f"{V1}/findings", params={"include_inactive": True}).json()["total"] == 3
    runs = api.get(f"{V1}/runs").json()
    assert runs["total"] == 2 and runs["items"][0]["finished"] is not None
    stats = api.get(f"{V1}/stats").json()
    assert stats["devices"] == 3 and stats["medical_devices"] == 2 and stats["statuses"] == {"open": 1, "acknowledged": 1}


def test_sheet_crud_with_versions_and_audit(api: Api) -> None:
    body = sheet().model_dump(mode="json")
    created = api.post(f"{V1}/sheets", "it", json=body)
    assert created.status_code == 201 and created.json()["version"] == 1 and created.headers["etag"] == '"1"'
    assert api.post(f"{V1}/sheets", json=body).status_code == 409
    body["vlan"] = 111
    no_version = api.put(f"{V1}/sheets/SH-0001", json={"sheet": body})
    assert no_version.status_code == 422 and no_version.json()["field"] == "version"
    updated = api.put(f"{V1}/sheets/SH-0001", "biomedical", json={"sheet": body}, headers={"If-Match": '"1"'})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    body["vlan"] = 112
    stale = api.put(f"{V1}/sheets/SH-0001", json={"sheet": body, "version": 1})
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    assert api.get(f"{V1}/sheets/SH-0001").json()["sheet"]["vlan"] == 111
    mismatch = api.put(f"{V1}/sheets/SH-0001", json={"sheet": {**body, "id": "SH-X"}, "version": 2})
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "id"
    assert api.delete(f"{V1}/sheets/SH-0001", headers={"If-Match": "1"}).status_code == 409
    assert api.delete(f"{V1}/sheets/SH-0001", headers={"If-Match": "2"}).status_code == 204
    assert api.get(f"{V1}/sheets/SH-0001").status_code == 404
    trail = [(e["action"], e["field"]) for e in api.get(f"{V1}/audit", params={"entity_id": "SH-0001"}).json()["items"]]
    assert trail == [("delete", None), ("update", "vlan"), ("create", None)]


def test_import_french_csv_then_export_reimport_changes_nothing(api: Api) -> None:
    files = {"file": ("fiches.csv", french_csv(), "text/csv")}
    result = api.post(f"{V1}/sheets/import", "biomedical", files=files).json()
    assert result["created"] == 1 and result["errors"] == []
    got = api.get(f"{V1}/sheets/SH-0001").json()["sheet"]
    assert got["software_name"] == "Syngo CT" and got["remote_maintenance"]["gateway"] == "bastion"
    for fmt in ("csv", "json", "yaml"):
        exported = api.get(f"{V1}/sheets/export", "viewer", params={"format": fmt})
        assert exported.status_code == 200
        audit_before = api.get(f"{V1}/audit").json()["total"]
        again = api.post(f"{V1}/sheets/import", files={"file": (f"x.{fmt}", exported.content)}).json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
        assert api.get(f"{V1}/audit").json()["total"] == audit_before
        assert api.get(f"{V1}/sheets/SH-0001").json()["version"] == 1


def test_import_refuses_bad_file_unless_partial(api: Api) -> None:
    text = b"Nom du logiciel;VLAN\nGood;110\nBad;9999\n"
    refused = api.post(f"{V1}/sheets/import", files={"file": ("f.csv", text)})
    assert refused.status_code == 422 and refused.json()["field"] == "line 3: vlan"
    assert api.get(f"{V1}/sheets").json()["total"] == 0
    kept = api.post(f"{V1}/sheets/import", files={"file": ("f.csv", text)}, data={"partial": "true"}).json()
    assert kept["created"] == 1 and kept["errors"] == [{"line": 3, "field": "vlan", "code": "le",
                                                        "reason": "should be less than or equal to 4094"}]
    assert api.post(f"{V1}/sheets/import", files={"file": ("f.txt", text)}).json()["field"] == "format"


def test_ingest_is_idempotent_and_sensor_only(api: Api) -> None:
    obs = [{"kind": "host", "ts": 1.0, "mac": CT, "ip": "10.10.110.5", "first_ts": 1.0, "last_ts": 2.0},
           {"kind": "weird", "ts": 1.5, "name": "x"}]
    batch = {"sensor": "test-sensor", "seq": 7, "schema_version": 1, "observations": obs}
    first = api.post(f"{V1}/ingest", "sensor", json=batch)
    assert first.status_code == 201 and first.json() == {"stored": True, "count": 2, "refused": 0}
    again = api.post(f"{V1}/ingest", "sensor", json=batch)
    assert again.status_code == 200 and again.json() == {"stored": False, "count": 2, "refused": 0}
    assert api.get(f"{V1}/stats").json()["observations"] == {"host": 1, "weird": 1}
    assert api.post(f"{V1}/ingest", "admin", json=batch).status_code == 403
    assert api.get(f"{V1}/devices", "sensor").status_code == 403
    # one bad record loses nothing else: it is dropped, counted and stored as a weird naming it
    bad = api.post(f"{V1}/ingest", "sensor", json={**batch, "seq": 8, "observations": [obs[0], {"kind": "host", "ts": "x"}]})
    assert bad.status_code == 201 and bad.json() == {"stored": True, "count": 1, "refused": 1}
    unknown = api.post(f"{V1}/ingest", "sensor", json={**batch, "seq": 9, "observations": [{"kind": "nope", "ts": 1}]})
    assert unknown.status_code == 201 and unknown.json()["refused"] == 1
    assert api.get(f"{V1}/stats").json()["observations"] == {"host": 2, "weird": 3}


def test_ingest_keeps_a_batch_whose_one_record_carries_a_nul(api: Api) -> None:
    """Issue 18 #5: a NUL byte in a name from the wire used to make the central refuse the whole batch (422)."""
    obs = [{"kind": "host", "ts": 1.0, "mac": CT, "ip": "10.10.110.5", "first_ts": 1.0, "last_ts": 2.0},
           {"kind": "dhcp", "ts": 1.2, "message_type": "request", "client_mac": CT, "hostname": "PUMP\u000007"}]
    batch = {"sensor": "test-sensor", "seq": 1, "schema_version": 1, "observations": obs}
    reply = api.post(f"{V1}/ingest", "sensor", json=batch)
    assert reply.status_code == 201 and reply.json() == {"stored": True, "count": 2, "refused": 0}
    assert api.get(f"{V1}/stats").json()["observations"] == {"host": 1, "dhcp": 1}


def test_body_limit_and_nul_are_json_errors(db_url: str) -> None:
    from tests.api.conftest import make_api

    for api in make_api(db_url, max_body_bytes=1000):
        big = api.post(f"{V1}/sheets", json={"id": "SH-B", "software_name": "x" * 2000})
        assert big.status_code == 413 and big.json()["field"] == "body"
        nul = api.post(f"{V1}/sheets", json={"id": "SH-N", "software_name": "a\u0000b"})
        assert nul.status_code == 422
        assert api.get(f"{V1}/sheets/a%00b").status_code == 422


def test_exports(api: Api) -> None:
    seed(api)
    lines = api.get(f"{V1}/exports/findings.syslog", "viewer").text.splitlines()
    assert len(lines) == 3
    pattern = re.compile(r'^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z medtap medtap - [\w.-]+ \[medtap@32473 (\w+="(?:[^"\\\]]|\\.)*" ?)+\] .+$')
    assert all(pattern.match(line) for line in lines), lines
    assert lines[0].startswith("<131>1 ") and 'rule="dm-internet"' in lines[0] and '\\]' not in lines[0]
    ecs = [json.loads(x) for x in api.get(f"{V1}/exports/findings.ecs.jsonl").text.splitlines()]
    assert ecs[0]["event"]["kind"] == "alert" and ecs[0]["rule"]["id"] == "dm-internet"
    assert ecs[0]["related"]["ip"] == ["10.10.110.5", "203.0.113.9"] and ecs[0]["@timestamp"].endswith("Z")
    raw = api.get(f"{V1}/exports/inventory.csv").content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM and ';': French Excel opens it as it is
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 3
    ct = next(r for r in rows if r["mac"] == CT)
    assert ct["vendor"].startswith("'=HYPERLINK") and ct["is_dm"] == "yes"


def test_reconciliation_endpoint(api: Api) -> None:
    from analyzer.site import SitePolicy
    from store.facts import save_policy

    seed(api)
    with api.session() as session:  # the seeded devices carry no times: no minimum window for silence checks
        save_policy(session, SitePolicy(min_observed_hours=0), source="test")
    api.post(f"{V1}/sheets", json=sheet(vlan=111).model_dump(mode="json"))
    api.post(f"{V1}/sheets", json=sheet("SH-GONE", mac=None, ip="10.99.0.1", workstation="gone").model_dump(mode="json"))
    outcome = {o["sheet_id"]: o for o in api.get(f"{V1}/reconciliation", "viewer").json()}
    assert outcome["SH-0001"]["mac"] == CT and outcome["SH-0001"]["match"] == "mac"
    checks = {i["check"] for i in outcome["SH-0001"]["issues"]}
    assert "vlan-mismatch" in checks and "declared-server-silent" in checks
    assert outcome["SH-GONE"]["mac"] is None and {i["check"] for i in outcome["SH-GONE"]["issues"]} >= {"declared-not-seen"}


def test_programmatic_alembic_upgrade(fresh_db_url: str) -> None:
    db_url = fresh_db_url
    import sqlalchemy
    from alembic.script import ScriptDirectory

    from store.db import alembic_config, make_engine, upgrade

    upgrade(db_url)
    upgrade(db_url)  # idempotent
    engine = make_engine(db_url)
    try:
        names = set(sqlalchemy.inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert {"observation", "ingest_batch", "device", "finding", "sheet", "audit", "token", "run", "web_session"} <= names


    assert version == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def test_real_engine_reconciliation_findings_survive_reanalysis(api: Api) -> None:
    from store.records import store_observations
    from tests.api.factories import PACS, conversation, host, remote

    obs = [host(CT, "10.10.110.5"), host(PACS, "10.50.0.20"),
           conversation("10.10.110.5", "10.50.0.20", 104, client_mac=CT, app="dicom"),
           conversation("10.10.110.5", "203.0.113.9", 443, client_mac=CT), remote("198.51.100.7", "10.10.110.5")]
    with api.session() as session:
        store_observations(session, obs, sensor="t")
    api.post(f"{V1}/sheets", json=sheet(vlan=111).model_dump(mode="json"))
    assert api.post(f"{V1}/analyze").status_code == 200
    rules = {f["rule"]: f for f in api.get(f"{V1}/findings", params={"limit": 1000}).json()["items"]}
    assert {"vlan-mismatch", "undeclared-peer", "remote-maintenance-mismatch"} <= set(rules)
    fid = rules["vlan-mismatch"]["id"]
    api.patch(f"{V1}/findings/{fid}", json={"status": "false-positive", "justification": "SPAN strips tags"})
    api.post(f"{V1}/analyze")
    again = api.get(f"{V1}/findings/{fid}").json()
    assert again["status"] == "false-positive" and again["active"] is True and again["justification"] == "SPAN strips tags"
    assert api.get(f"{V1}/devices/{CT}").json()["sheet"]["id"] == "SH-0001"


def test_runner_sheet_files_round_trip(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from store.jobs import export_sheets_file, import_sheets_file

    source = tmp_path / "fiches.csv"
    source.write_bytes(french_csv())
    assert import_sheets_file(sqlite_url, source, actor="cli", partial=False).imported == 1
    out = tmp_path / "out.csv"
    assert export_sheets_file(sqlite_url, out) == 1
    assert import_sheets_file(sqlite_url, out, actor="cli", partial=False).imported == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("Nom du logiciel;VLAN\nx;99999\n")
    from store.errors import InvalidError

    with pytest.raises(InvalidError, match="line 2: vlan"):
        import_sheets_file(sqlite_url, bad, actor="cli", partial=False)


def test_device_known_only_by_ip_has_its_detail(api_sqlite: Api) -> None:
    # issue 20 item 5: links without MAC addresses give devices keyed ip:<address>
    from analyzer.models import Device

    with api_sqlite.session() as session:
        save_devices(session, [Device(mac="ip:10.10.130.45", ips=["10.10.130.45"])])
        session.commit()
    detail = api_sqlite.get(f"{V1}/devices/ip:10.10.130.45")
    assert detail.status_code == 200 and detail.json()["device"]["ips"] == ["10.10.130.45"]
    assert api_sqlite.get(f"{V1}/devices/ip:10.10.130.46").status_code == 404


def test_a_finding_seen_again_updates_its_times_not_its_record(api: Api) -> None:
    from sqlmodel import select

    from store.models import FindingRow

    seed(api)
    first = findings()[0]
    later = first.model_copy(update={"last_seen": (first.last_seen or 0.0) + 3600.0})
    with api.session() as session:
        before = session.get(FindingRow, first.id)
        assert before is not None
        record, occurrences = before.data, before.occurrences
        save_findings(session, [later, *findings()[1:]], today=TODAY)
        session.commit()
        after = session.exec(select(FindingRow).where(FindingRow.id == first.id)).one()
        assert after.data == record  # the evidence did not change: the record was not written again
        assert (after.last_seen, after.occurrences) == (later.last_seen, occurrences + 1)
    shown = api.get(f"{V1}/findings/{first.id}", "viewer").json()
    assert shown["last_seen"] == later.last_seen and shown["first_seen"] == first.first_seen
