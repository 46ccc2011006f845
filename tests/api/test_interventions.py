"""Interventions end to end: `medtap intervention add|list` on a replayed store, the verdict from the facts
store (store.interventions), the audit trail, and post-intervention-change raised by `medtap analyze`.

The store holds pcaps/fixtures/rule-post-intervention-change-positive.pcap: the CT sends images to the
PACS and results to the HL7 engine on day one; on day two it still sends images but no more results,
and now answers on tcp/80.  Its sheet declares both the HL7 interface and the PACS.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from pcaps.fixtures.gen_diff import CT, HL7_ENGINE, INTERVENTION_AT, PACS
from tests.api.conftest import Api

REPO = Path(__file__).resolve().parents[2]
CAPTURE = REPO / "pcaps/fixtures/rule-post-intervention-change-positive.pcap"
STEADY = REPO / "pcaps/fixtures/rule-post-intervention-change-negative.pcap"
AT = dt.datetime.fromtimestamp(INTERVENTION_AT, dt.UTC).isoformat()
runner = CliRunner()
V1 = "/api/v1"


def _store(tmp_path: Path, capture: Path) -> str:
    from analyzer.sheets import Interface, Server, Sheet
    from store.db import session_for
    from store.service import create_sheet

    db = f"sqlite:///{tmp_path / 'm.db'}"
    result = runner.invoke(app, ["replay", str(capture), "--db", db, "-q",
                                 "--site", str(REPO / "pcaps/fixtures/site-rules.yaml")])
    assert result.exit_code == 0, result.output
    with session_for(db) as session:
        create_sheet(session, Sheet(id="SH-CT", software_name="CT console", mac=CT[0],
                                    interfaces=[Interface(peer=HL7_ENGINE[1], protocol="hl7")],
                                    servers=[Server(name=PACS[1], role="pacs")]), actor="test")
    return db


def _add(db: str, device: str = CT[1], *extra: str) -> str:
    result = runner.invoke(app, ["intervention", "add", device, "--kind", "update", "--at", AT,
                                 "--by", "Supplier tech", "--note", "firmware 2.1", "--db", db, *extra])
    return result.output if result.exit_code == 0 else f"exit {result.exit_code}: {result.output}"


def _list(db: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["intervention", "list", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    items: list[dict[str, object]] = json.loads(result.output)
    return items


def test_intervention_verdict_changed_audited_and_rule_fires(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "1")
    db = _store(tmp_path, CAPTURE)
    assert "recorded on 00:21:b7:10:00:21" in _add(db)
    [item] = _list(db)
    check = item["check"]
    assert isinstance(check, dict) and check["verdict"] == "changed"
    diff = check["diff"]
    assert diff["peers_removed"] == [HL7_ENGINE[1]] and diff["services_added"] == ["tcp/80"]

    from store.audit import list_audit
    from store.db import session_for

    with session_for(db) as session:
        rows, _ = list_audit(session, entity="intervention")
    assert {r.field: r.new for r in rows}["by"] == "Supplier tech" and all(r.action == "create" for r in rows)

    assert runner.invoke(app, ["analyze", "--db", db]).exit_code == 0
    found = json.loads(runner.invoke(app, ["findings", "--json", "--db", db]).output)
    [finding] = [f for f in found if f["rule"] == "post-intervention-change"]
    assert finding["devices"] == [CT[0]] and f"{HL7_ENGINE[1]} (interface)" in finding["recommendation"]
    assert PACS[1] not in finding["recommendation"]  # still used after the update


def test_steady_device_is_unchanged_and_no_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "1")
    db = _store(tmp_path, STEADY)
    _add(db, CT[0])
    assert [i["check"]["verdict"] for i in _list(db)] == ["unchanged"]  # type: ignore[index]
    assert runner.invoke(app, ["analyze", "--db", db]).exit_code == 0
    found = json.loads(runner.invoke(app, ["findings", "--json", "--db", db]).output)
    assert not [f for f in found if f["rule"] == "post-intervention-change"]


def test_verdict_pending_until_the_window_is_observed(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "48")  # the capture ends 12 h after
    db = _store(tmp_path, CAPTURE)
    _add(db)
    assert [i["check"]["verdict"] for i in _list(db)] == ["pending"]  # type: ignore[index]
    assert runner.invoke(app, ["analyze", "--db", db]).exit_code == 0
    found = json.loads(runner.invoke(app, ["findings", "--json", "--db", db]).output)
    assert not [f for f in found if f["rule"] == "post-intervention-change"]


def test_refused_inputs(tmp_path: Path) -> None:
    db = _store(tmp_path, CAPTURE)
    assert _add(db, "10.99.99.99").startswith("exit 1")
    bad_kind = runner.invoke(app, ["intervention", "add", CT[1], "--kind", "reboot", "--at", AT, "--by", "x",
                                   "--db", db])
    assert bad_kind.exit_code == 1 and "update, maintenance, interface" in bad_kind.output
    bad_time = runner.invoke(app, ["intervention", "add", CT[1], "--kind", "update", "--at", "yesterday",
                                   "--by", "x", "--db", db])
    assert bad_time.exit_code == 1
    assert _list(db) == []


def test_diff_between_two_windows_of_the_store(tmp_path: Path) -> None:
    db = _store(tmp_path, CAPTURE)
    day = dt.datetime.fromtimestamp(INTERVENTION_AT, dt.UTC)
    before = f"{(day - dt.timedelta(hours=12)).isoformat()}..{day.isoformat()}"
    after = f"{day.isoformat()}..{(day + dt.timedelta(hours=13)).isoformat()}"
    result = runner.invoke(app, ["diff", "--db", db, "--before-window", before, "--after-window", after,
                                 "--device", CT[0], "--format", "json"])
    assert result.exit_code == 0, result.output
    [ct] = json.loads(result.output)["devices"]
    assert ct["peers_removed"] == [HL7_ENGINE[1]] and ct["services_added"] == ["tcp/80"]


def test_migration_0004_creates_the_model_table(tmp_path: Path) -> None:
    import sqlalchemy

    from store.db import make_engine, upgrade
    from store.models import InterventionRow

    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        columns = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("intervention")}
    finally:
        engine.dispose()
    assert columns == set(InterventionRow.__table__.columns.keys())  # type: ignore[attr-defined]


def test_api_records_and_checks_an_intervention(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """POST then GET through the API (biomedical may, viewer may not), on the same replayed store."""
    from collector.pipeline import replay
    from collector.sinks import ListSink
    from store.records import store_observations
    from store.service import reanalyze
    from tests.keys import TEST_KEY

    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "1")
    sink = ListSink()
    replay([CAPTURE], sink, key=TEST_KEY)
    with api.session() as session:
        store_observations(session, sink.observations, sensor="t")
        session.commit()
        reanalyze(session)
    body = {"kind": "update", "at": AT, "by": "Supplier tech", "note": "firmware 2.1"}
    assert api.post(f"{V1}/devices/{CT[1]}/interventions", "viewer", json=body).status_code == 403
    assert api.post(f"{V1}/devices/{CT[1]}/interventions", "biomedical",
                    json=dict(body, kind="reboot")).status_code == 422
    created = api.post(f"{V1}/devices/{CT[1]}/interventions", "biomedical", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["mac"] == CT[0] and out["check"]["verdict"] == "changed"
    assert "peers lost: 10.50.0.30" in out["check"]["changes"]
    listed = api.get(f"{V1}/devices/{CT[0]}/interventions", "viewer").json()
    assert [i["id"] for i in listed] == [out["id"]]
    assert api.get(f"{V1}/interventions/{out['id']}", "viewer").json()["check"]["diff"]["services_added"] == ["tcp/80"]
    assert api.get(f"{V1}/interventions/999", "viewer").status_code == 404
    assert api.post(f"{V1}/devices/10.99.99.99/interventions", "it", json=body).status_code == 404


def test_checks_read_the_facts_once_per_facts_generation(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 gap 6: a device page with two interventions, shown twice, reads the facts once; a new batch of
    facts (the facts generation bumped) reads them again."""
    from sqlmodel import Session

    import store.interventions as interventions
    from store.db import make_engine

    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "1")
    db = _store(tmp_path, CAPTURE)
    _add(db)
    _add(db, CT[0])
    reads: list[int] = []
    real = interventions.iter_observations

    def counted(session: Session, **kwargs: object) -> object:
        reads.append(1)
        return real(session, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(interventions, "iter_observations", counted)
    engine = make_engine(db)
    try:
        with Session(engine) as session:
            rows = interventions.list_interventions(session)
            first = interventions.check_interventions(session, rows)
            again = interventions.check_interventions(session, rows)
            single = interventions.check_intervention(session, rows[0])
        assert [c.verdict for c in first] == ["changed", "changed"] and len(reads) == 1
        assert [c.verdict for c in again] == ["changed", "changed"] and single.verdict == "changed"
        result = runner.invoke(app, ["replay", str(STEADY), "--db", db, "-q"])  # new facts: a new generation
        assert result.exit_code == 0, result.output
        with Session(engine) as session:
            interventions.check_interventions(session, interventions.list_interventions(session))
        assert len(reads) == 2
    finally:
        engine.dispose()
