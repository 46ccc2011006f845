"""Migration 0009_compact_facts: rows stored by 0008 (JSON under a 32-hex key) are converted to the compact
form and read back the same, and a downgrade gives the JSON rows back (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy
from alembic import command
from sqlmodel import Session

from collector.facts import fact_key, first_seen, keyed, last_seen, merge
from collector.pipeline import replay
from collector.schema import Observation, parse_observation
from collector.sinks import ListSink
from store.db import alembic_config, make_engine, upgrade
from store.facts import fact_json, iter_facts, store_batch
from tests.keys import TEST_KEY

DEMO = Path(__file__).resolve().parents[2] / "pcaps" / "demo"


def _demo_facts() -> list[Observation]:
    sink = ListSink()
    replay([DEMO / "demo-clinical.pcap", DEMO / "demo-core.pcap"], sink, key=TEST_KEY, sensor="s1")
    return list(keyed(sink.observations).values())


def _canonical(records: list[Observation]) -> list[str]:
    """Records as comparable text (the collector builds some with their fields in another order)."""
    return sorted(json.dumps(o.model_dump(mode="json"), sort_keys=True) for o in records)


def _old_rows(url: str, facts: list[Observation], keys: list[str] | None = None) -> None:
    """The rows 0008's store wrote for these facts (under `keys`, default each fact's key)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(
                "INSERT INTO fact (fkey, sensor, kind, count, first_ts, last_ts, generation, json) "
                "VALUES (:k, :s, :kind, :c, :f, :l, 1, :j)"),
                [{"k": key, "s": o.sensor, "kind": o.kind, "c": o.count, "f": first_seen(o),
                  "l": last_seen(o), "j": fact_json(o)}
                 for o, key in zip(facts, keys or [fact_key(o) for o in facts], strict=True)])
    finally:
        engine.dispose()


def test_the_compact_facts_migration_converts_rows_both_ways(fresh_db_url: str) -> None:
    facts = _demo_facts()
    assert len({o.kind for o in facts}) >= 8 and len(facts) > 100
    upgrade(fresh_db_url, "0008_sheet_origin")
    _old_rows(fresh_db_url, facts)
    upgrade(fresh_db_url, "0009_compact_facts")
    upgrade(fresh_db_url, "head")  # 0010 and later leave 0009's blobs as they are: still readable
    expected = _canonical(facts)
    engine = make_engine(fresh_db_url)
    try:
        with Session(engine) as session:
            assert _canonical(list(iter_facts(session))) == expected
            # the converted keys are the ones the store computes: the same records merge into them
            summed = [o for o in facts[20:] if o.kind in ("host", "conversation")][:10]
            result = store_batch(session, facts[:20] + summed)  # hosts moved to sum columns on the way down
            assert (result.new_facts, result.updated_facts) == (0, 20 + len(summed))
            assert len(summed) == 10 and not {id(o) for o in summed} & {id(o) for o in facts[:20]}
        command.downgrade(alembic_config(fresh_db_url), "0008_sheet_origin")
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT fkey, json, count FROM fact")).all()
    finally:
        engine.dispose()
    back = [parse_observation(text) for _, text, _ in rows]
    doubled = {id(o) for o in facts[:20] + summed}
    assert _canonical(back) == _canonical([merge(o, o) if id(o) in doubled else o for o in facts])
    assert all(key == fact_key(o) and len(key) == 32 for (key, _, _), o in zip(rows, back, strict=True))
    assert all(count == o.count for (_, _, count), o in zip(rows, back, strict=True))


DEVICE = json.dumps({"mac": "00:09:fb:20:00:10", "peers": [f"10.0.{i // 250}.{i % 250}" for i in range(400)]})
FINDING = json.dumps({"id": "MT-1", "rule": "flat-network", "severity": "high", "title": "t", "service": "it",
                      "subject": "00:09:fb:20:00:10",
                      "recommendation": ", ".join(f"00:1b:3f:00:{i:02x}:01" for i in range(200))})


def test_device_and_finding_records_are_compressed_both_ways(fresh_db_url: str) -> None:
    from store.models import DeviceRow, FindingRow
    from store.records import list_findings

    upgrade(fresh_db_url, "0008_sheet_origin")
    engine = make_engine(fresh_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(
                "INSERT INTO device (mac, ips, role, connection, is_dm, service, sensors, data) VALUES "
                "('00:09:fb:20:00:10', '', 'unknown', 'unknown', FALSE, 'it', '[]', :d)"), {"d": DEVICE})
            conn.execute(sqlalchemy.text(
                "INSERT INTO finding (id, rule, severity, severity_rank, status, active, service, occurrences,"
                " data) VALUES ('MT-1', 'flat-network', 'high', 3, 'open', TRUE, 'it', 1, :d)"), {"d": FINDING})
        upgrade(fresh_db_url, "0009_compact_facts")
        with Session(engine) as session:
            device, finding = session.get(DeviceRow, "00:09:fb:20:00:10"), session.get(FindingRow, "MT-1")
            assert device is not None and finding is not None
            assert (device.data, finding.data) == (DEVICE, FINDING)
            assert list_findings(session, device="00:09:FB:20:00:10")[1] == 1
            assert list_findings(session, device="00:09:fb:20:00:11")[1] == 0
        with engine.connect() as conn:
            raw = conn.execute(sqlalchemy.text("SELECT data FROM finding")).scalar_one()
        assert bytes(raw)[:1] == b"\x78" and len(raw) * 3 < len(FINDING)  # zlib, and much smaller
        command.downgrade(alembic_config(fresh_db_url), "0008_sheet_origin")
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT data FROM device")).scalar_one() == DEVICE
            assert conn.execute(sqlalchemy.text("SELECT data FROM finding")).scalar_one() == FINDING
    finally:
        engine.dispose()


def test_rows_of_one_fact_under_two_old_keys_become_one(fresh_db_url: str) -> None:
    """Before 0009 the same fact could be stored under two keys (a fast-built record and the same record
    parsed from JSON serialised their fields in another order): the upgrade keys each row from its
    record as parsed and merges those that are one fact."""
    facts = _demo_facts()
    host = next(o for o in facts if o.kind == "host")
    later = host.model_copy(update={"ts": host.ts + 100, "last_ts": last_seen(host) + 100,
                                    "first_ts": host.first_ts + 100, "frame_no": 99})  # type: ignore[attr-defined]
    upgrade(fresh_db_url, "0008_sheet_origin")
    _old_rows(fresh_db_url, facts)
    _old_rows(fresh_db_url, [later], keys=["f" * 32])  # the same fact under another key
    engine = make_engine(fresh_db_url)
    try:
        upgrade(fresh_db_url, "head")
        with Session(engine) as session:
            stored = list(iter_facts(session))
    finally:
        engine.dispose()
    assert len(stored) == len(facts)
    (merged,) = [o for o in stored if o.kind == "host" and fact_key(o) == fact_key(host)]
    assert merged.count == host.count + later.count
    assert merged.frames == host.frames + later.frames  # type: ignore[attr-defined]
    assert last_seen(merged) == last_seen(later) and merged.ts == host.ts
