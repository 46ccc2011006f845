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


def _old_rows(url: str, facts: list[Observation]) -> None:
    """The rows 0008's store wrote for these facts."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(
                "INSERT INTO fact (fkey, sensor, kind, count, first_ts, last_ts, generation, json) "
                "VALUES (:k, :s, :kind, :c, :f, :l, 1, :j)"),
                [{"k": fact_key(o), "s": o.sensor, "kind": o.kind, "c": o.count, "f": first_seen(o),
                  "l": last_seen(o), "j": fact_json(o)} for o in facts])
    finally:
        engine.dispose()


def test_the_compact_facts_migration_converts_rows_both_ways(fresh_db_url: str) -> None:
    facts = _demo_facts()
    assert len({o.kind for o in facts}) >= 8 and len(facts) > 100
    upgrade(fresh_db_url, "0008_sheet_origin")
    _old_rows(fresh_db_url, facts)
    upgrade(fresh_db_url, "0009_compact_facts")
    expected = _canonical(facts)
    engine = make_engine(fresh_db_url)
    try:
        with Session(engine) as session:
            assert _canonical(list(iter_facts(session))) == expected
            # the converted keys are the ones the store computes: the same records merge into them
            result = store_batch(session, facts[:20])
            assert (result.new_facts, result.updated_facts) == (0, 20)
        command.downgrade(alembic_config(fresh_db_url), "0008_sheet_origin")
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT fkey, json, count FROM fact")).all()
    finally:
        engine.dispose()
    back = [parse_observation(text) for _, text, _ in rows]
    doubled = {id(o) for o in facts[:20]}
    assert _canonical(back) == _canonical([merge(o, o) if id(o) in doubled else o for o in facts])
    assert all(key == fact_key(o) and len(key) == 32 for (key, _, _), o in zip(rows, back, strict=True))
    assert all(count == o.count for (_, _, count), o in zip(rows, back, strict=True))
