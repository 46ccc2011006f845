"""The compact facts store (store.factblob, store.facts): every kind round-trips through its blob, and
upserting merges exactly as collector.facts.merge does, on the cheap path as on the full one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, select
from sqlmodel import Session

from collector.facts import ENVELOPE_VOLATILE, VOLATILE, keyed
from collector.schema import DnsObs, Observation, kinds
from store import factblob
from store.db import make_engine, upgrade
from store.facts import iter_facts, store_batch
from store.models import FactRow
from tests.api.fact_strategies import KINDS, observation, value_of


def _columns(o: Observation) -> dict[str, Any]:
    return {"kind": o.kind, "sensor": o.sensor, "count": o.count, "first_ts": factblob.first_column(o),
            "last_ts": factblob.last_column(o)}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=20, deadline=None)  # per kind: 27 kinds, 540 records in all
@given(data=st.data())
def test_the_blob_round_trips_every_kind(kind: str, data: st.DataObject) -> None:
    o = data.draw(observation(kind))
    blob = factblob.encode(o)
    assert factblob.decode(blob, **_columns(o)) == o
    assert not factblob.COLUMNS & set(factblob.fields(blob))  # the columns are not stored twice


def test_the_blob_is_smaller_than_the_json_it_replaces() -> None:
    o = DnsObs(ts=1767258000.000628, sensor="local", source="ident.pcap", frame_no=7,
               src_mac="00:1b:50:01:6f:01", dst_mac="00:50:56:00:00:03", src_ip="10.20.1.137",
               dst_ip="10.50.0.3", src_port=61214, dst_port=53, transport="udp",
               queries=("time8704.ct.example",), protocol="dns", response=False)
    blob = factblob.encode(o)
    assert blob[0] == factblob.ZLIB_1
    from store.facts import fact_json

    assert len(blob) * 2 < len(fact_json(o))


def test_the_dictionary_is_frozen() -> None:
    # rows written with dictionary 1 are read with it: a new dictionary is a new version, never an edit
    assert hashlib.sha256(factblob.ZDICT_1).hexdigest() == factblob.ZDICT_1_SHA256


def test_an_unknown_blob_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 9"):
        factblob.body(b"\x09\x00xyz")


def test_the_key_is_a_signed_64_bit_prefix_of_the_fact_key() -> None:
    assert factblob.key64("7fffffffffffffff" + "0" * 16) == 2**63 - 1
    assert factblob.key64("8000000000000000" + "f" * 16) == -(2**63)
    assert factblob.key64("ffffffffffffffff" + "0" * 16) == -1


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('facts') / 'facts.db'}"
    upgrade(url)
    yield url


def _variants(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """New values for the fields that are not part of a fact's identity (same fact, other evidence)."""
    fields = kinds()[kind].model_fields
    names = sorted(n for n in VOLATILE.get(kind, ENVELOPE_VOLATILE)
                   if n in fields and n not in ("src_port", "dst_port"))
    return st.fixed_dictionaries({n: value_of(fields[n].annotation, n) for n in names})


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "stats"])  # stats records are never merged
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # per kind
@given(data=st.data())
def test_upserts_merge_as_the_collector_merges(store_url: str, kind: str, data: st.DataObject) -> None:
    base = data.draw(observation(kind))
    updates = data.draw(st.lists(_variants(kind), min_size=1, max_size=4))
    if data.draw(st.booleans()):  # often later evidence, as time moves forward: the cheap path
        updates = [dict(u, ts=base.ts + i + 1.0) for i, u in enumerate(updates)]
    records = [base] + [base.model_copy(update=u) for u in updates]
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            session.execute(delete(FactRow))
            session.commit()
            for o in records:  # one batch each: every record after the first updates a stored fact
                store_batch(session, [o])
            stored = sorted(map(repr, iter_facts(session)))
    finally:
        engine.dispose()
    assert stored == sorted(map(repr, keyed(records).values()))


def test_a_later_record_of_a_known_fact_updates_its_columns_only(store_url: str) -> None:
    first = DnsObs(ts=100.0, sensor="s1", source="a.pcap", frame_no=3, src_ip="10.0.0.1", dst_ip="10.0.0.53",
                   protocol="dns", response=False, queries=("pacs.example",))
    later = first.model_copy(update={"ts": 160.0, "source": "b.pcap", "frame_no": 9, "count": 2,
                                     "last_ts": 170.0})
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            session.execute(delete(FactRow))
            store_batch(session, [first])
            blob = session.execute(select(FactRow.blob)).scalar_one()
            result = store_batch(session, [later])
            row = session.execute(select(FactRow)).scalar_one()
            [fact] = iter_facts(session)
    finally:
        engine.dispose()
    assert (result.new_facts, result.updated_facts) == (0, 1)
    assert row.blob == blob and (row.count, row.first_ts, row.last_ts) == (3, 100.0, 170.0)
    assert fact == first.model_copy(update={"count": 3, "last_ts": 170.0})
