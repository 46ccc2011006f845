"""Rules have an immutable uid: renaming a rule keeps its findings' reviews, and the migration that
introduced uids moved existing findings (and their audit entries) to the new ids."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import sqlalchemy
from sqlmodel import Session, select

from analyzer.engine import finding_id
from analyzer.site import load_site
from collector.datafiles import rules_dir
from store.db import make_engine, session_for, upgrade
from store.loop import ReplayOptions, run_replay
from store.models import AuditRow, FindingRow
from store.service import reanalyze, set_finding_status

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pcaps" / "demo"


def _rename(rules: Path, old: str, new: str) -> str:
    """Rename rule `old` to `new` in a copy of the catalogue, as a maintainer would (id and file name)."""
    [path] = list(rules.rglob(f"{old}.yaml"))
    text = path.read_text(encoding="utf-8")
    path.unlink()
    (path.parent / f"{new}.yaml").write_text(re.sub(r"^id: .*$", f"id: {new}", text, count=1, flags=re.M),
                                             encoding="utf-8")
    uid = re.search(r"^uid: (\S+)$", text, re.M)
    assert uid is not None
    return uid.group(1)


def test_a_renamed_rule_keeps_the_review_of_its_findings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    site = load_site(DEMO / "site.yaml")
    run_replay(ReplayOptions(paths=[DEMO / "demo-office.pcap"], db_url=url, site=site))
    with session_for(url) as session:
        row = session.exec(select(FindingRow).order_by(FindingRow.id)).first()
        assert row is not None, "the demo office capture raises findings"
        rule = row.rule
        set_finding_status(session, row.id, status="acknowledged", justification="move planned in Q3",
                           actor="biomed")
        fid = row.id
    renamed = tmp_path / "rules"
    shutil.copytree(rules_dir(), renamed)
    uid = _rename(renamed, rule, "renamed-rule")
    with session_for(url) as session:
        reanalyze(session, site=site, rules_dir=renamed)
        after = session.get(FindingRow, fid)
        assert after is not None and after.active
        assert (after.rule, after.rule_uid, after.status) == ("renamed-rule", uid, "acknowledged")
        assert after.justification == "move planned in Q3"
        assert not session.exec(select(FindingRow).where(FindingRow.rule == rule)).all()


def test_a_copied_rule_with_the_same_uid_is_refused(tmp_path: Path) -> None:
    import pytest

    from analyzer.rules.loader import RuleError, load_rules

    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    [path] = list(copy.rglob("flat-network.yaml"))
    text = path.read_text(encoding="utf-8")
    (path.parent / "flat-network-copy.yaml").write_text(text.replace("id: flat-network", "id: flat-network-copy"),
                                                        encoding="utf-8")
    with pytest.raises(RuleError, match="duplicate rule uid"):
        load_rules(copy)


def test_the_uid_migration_moves_findings_and_their_audit_entries(fresh_db_url: str) -> None:
    db_url = fresh_db_url
    upgrade(db_url, "0003_security")
    subject = "00:11:22:33:44:55"
    old_id = "MT-" + hashlib.sha1(f"flat-network|{subject}".encode()).hexdigest()[:12]
    data = {"id": old_id, "rule": "flat-network", "severity": "high", "title": "t", "subject": subject,
            "service": "biomedical", "status": "acknowledged"}
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(
                "INSERT INTO finding (id, rule, severity, severity_rank, status, justification, active, service,"
                " occurrences, data) VALUES (:id, 'flat-network', 'high', 3, 'acknowledged', 'planned', TRUE,"
                " 'biomedical', 1, :data)"), {"id": old_id, "data": json.dumps(data)})
            conn.execute(sqlalchemy.text(
                "INSERT INTO audit (\"when\", who, action, entity, entity_id, field, old, new) VALUES "
                "(CURRENT_TIMESTAMP, 'biomed', 'status', 'finding', :id, 'status', 'open', 'acknowledged')"),
                {"id": old_id})
    finally:
        engine.dispose()
    upgrade(db_url)
    uid = re.search(r"^uid: (\S+)$", next(rules_dir().rglob("flat-network.yaml")).read_text(), re.M)
    assert uid is not None
    new_id = finding_id(uid.group(1), subject)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            row = session.get(FindingRow, new_id)
            assert row is not None and session.get(FindingRow, old_id) is None
            assert (row.status, row.justification, row.rule_uid) == ("acknowledged", "planned", uid.group(1))
            assert json.loads(row.data)["id"] == new_id
            audit = session.exec(select(AuditRow).where(AuditRow.entity == "finding")).all()
            assert [a.entity_id for a in audit] == [new_id]
    finally:
        engine.dispose()
