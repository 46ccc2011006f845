"""A replay analyzes what it stores as it goes: same report as reading every stored observation again.

store.loop.run_replay folds the observations already stored and each batch it stores into an
analyzer digest (store.service.start_digest), so the analysis does not read the database back.
These tests pin that this shortcut never changes the result: on SQLite and PostgreSQL, into a
database that already holds other captures, on a repeated (idempotent) replay, and when another
writer stored observations meanwhile (the digest is then dropped and everything read again).
Also: the stored JSON text, and findings inserted in bulk the first time.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from collector.schema import HostSighting, parse_observation
from store.db import make_engine
from store.facts import fact_json as observation_json
from store.loop import ReplayOptions, run_replay
from store.models import FindingRow
from store.records import SEEN_COLUMNS, stored_finding
from store.service import init_db, reanalyze, start_digest, store_observations
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pcaps" / "demo"


def _full_reanalysis(db_url: str) -> str:
    """Every stored observation read again (no digest)."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return reanalyze(session).model_dump_json()
    finally:
        engine.dispose()


def _replayed(db_url: str, *paths: Path) -> str:
    """run_replay's report, checking that it analyzed its digest (never read the observations back)."""
    import store.service

    real = store.service.stored_digest

    def refuse(*args: object, **kw: object) -> object:
        raise AssertionError("the replay read every stored observation again")

    store.service.stored_digest = refuse  # type: ignore[assignment]
    try:
        return run_replay(ReplayOptions(paths=list(paths), db_url=db_url)).report.model_dump_json()
    finally:
        store.service.stored_digest = real  # type: ignore[assignment]


def test_replay_report_equals_a_full_reanalysis(db_url: str) -> None:
    first = _replayed(db_url, DEMO / "demo-core.pcap")
    assert first == _full_reanalysis(db_url)
    # a second capture into the same database: the stored observations are folded in first
    second = _replayed(db_url, DEMO / "demo-clinical.pcap")
    assert second == _full_reanalysis(db_url)
    # the same captures again: nothing stored twice, same report
    assert _replayed(db_url, DEMO / "demo-clinical.pcap") == second


def test_another_writer_makes_the_analysis_read_everything_again(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    init_db(engine)
    intruder = "02:00:5e:10:00:99"
    try:
        with Session(engine) as session:
            digest = start_digest(session)
            # stored behind the digest's back (another sensor's batch, say): the digest does not know it
            store_observations(session, [HostSighting(ts=1.0, mac=intruder, ip="10.99.0.9", first_ts=1.0, last_ts=2.0,
                                                      frames=1)])
            report = reanalyze(session, digest=digest)
    finally:
        engine.dispose()
    assert intruder in {d.mac for d in report.devices}


def test_stored_json_is_the_model_dump_text() -> None:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay(sorted(DEMO.glob("*.pcap")), sink, key=TEST_KEY)
    assert sink.observations
    for o in sink.observations:
        text = observation_json(o)
        assert text == json.dumps({"kind": o.kind, **o.model_dump(mode="json", exclude_defaults=True)},
                                  separators=(",", ":"))
        assert parse_observation(text) == o


def test_new_findings_are_stored_in_bulk_as_produced(sqlite_url: str) -> None:
    run_replay(ReplayOptions(paths=[DEMO / "demo-core.pcap"], db_url=sqlite_url))
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            rows = {r.id: r for r in session.exec(select(FindingRow)).all()}
            report = reanalyze(session)  # every finding exists now: the update path
            for f in report.findings:
                row = rows[f.id]
                assert (row.rule, row.severity, row.status, row.zone, row.service, row.first_seen, row.last_seen,
                        row.active, row.justification, row.expires) == (
                    f.rule, f.severity, "open", f.zone, f.service, f.first_seen, f.last_seen, True, None, None)
                assert stored_finding(row) == json.loads(f.model_dump_json())
                # the seen times live in the columns only: a finding seen again does not rewrite its record
                assert {k: json.loads(row.data)[k] for k in SEEN_COLUMNS} == dict.fromkeys(SEEN_COLUMNS)
    finally:
        engine.dispose()


def test_replay_key_is_the_documented_digest_with_repeated_files() -> None:
    import hashlib

    from store.loop import replay_key

    files = [DEMO / "demo-core.pcap", DEMO / "demo-wifi.pcap", DEMO / "demo-core.pcap"]
    whole = hashlib.sha256(b"local|medtap")
    for path in files:  # the formula replays stored before keep matching: each file's SHA-256, in order
        whole.update(hashlib.sha256(path.read_bytes()).digest())
    assert replay_key(files, sensor="local", dissector="medtap") == "replay:" + whole.hexdigest()[:32]
