"""The compact facts store (collector.factblob, store.facts): every kind round-trips through its blob, and
upserting merges exactly as collector.facts.merge does, on the cheap path as on the full one."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, select
from sqlmodel import Session, col

from collector import factblob
from collector.facts import ENVELOPE_VOLATILE, SUMMED, VOLATILE, fact_key, keyed, merge
from collector.schema import Conversation, DnsObs, Observation, kinds
from store.db import make_engine, upgrade
from store.facts import iter_facts, store_batch
from store.models import FactRow
from tests.api.fact_strategies import KINDS, observation, value_of


def _columns(o: Observation) -> dict[str, Any]:
    return {"kind": o.kind, "sensor": o.sensor, "count": o.count, "first_ts": factblob.first_column(o),
            "last_ts": factblob.last_column(o), "sums": factblob.sums(o)}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=10, deadline=None)  # per kind: 27 kinds, 270 records in all
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


@functools.cache  # one strategy per kind, validated once
def _variants(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """New values for the fields that are not part of a fact's identity (same fact, other evidence)."""
    fields = kinds()[kind].model_fields
    names = sorted(n for n in VOLATILE.get(kind, ENVELOPE_VOLATILE)
                   if n in fields and n not in ("src_port", "dst_port"))
    return st.fixed_dictionaries({n: value_of(fields[n].annotation, n) for n in names})


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "stats"])  # stats records are never merged
@settings(max_examples=6, deadline=None,  # per kind
          suppress_health_check=[HealthCheck.function_scoped_fixture])
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


@contextlib.contextmanager
def _one_fact_stored(store_url: str, first: Observation) -> Iterator[tuple[Session, bytes]]:
    """A session on the emptied store holding `first` alone, and that fact's blob."""
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            session.execute(delete(FactRow))
            store_batch(session, [first])
            yield session, session.execute(select(FactRow.blob)).scalar_one()
    finally:
        engine.dispose()


def test_a_later_record_of_a_known_fact_updates_its_columns_only(store_url: str) -> None:
    first = DnsObs(ts=100.0, sensor="s1", source="a.pcap", frame_no=3, src_ip="10.0.0.1", dst_ip="10.0.0.53",
                   protocol="dns", response=False, queries=("pacs.example",))
    later = first.model_copy(update={"ts": 160.0, "source": "b.pcap", "frame_no": 9, "count": 2,
                                     "last_ts": 170.0})
    with _one_fact_stored(store_url, first) as (session, blob):
        result = store_batch(session, [later])
        row = session.execute(select(FactRow)).scalar_one()
        [fact] = iter_facts(session)
    assert (result.new_facts, result.updated_facts) == (0, 1)
    assert row.blob == blob and (row.count, row.first_ts, row.last_ts) == (3, 100.0, 170.0)
    assert fact == first.model_copy(update={"count": 3, "last_ts": 170.0})


def test_a_later_period_of_a_known_conversation_updates_its_columns_only(store_url: str) -> None:
    # the most frequent write of a long capture: every flush period re-emits each active conversation
    first = Conversation(ts=100.0, sensor="s1", source="a.pcap", frame_no=3, first_ts=99.5, last_ts=109.0,
                         client_ip="10.0.0.1", server_ip="10.0.0.2", transport="tcp", server_port=104,
                         client_port=50000, app="dicom", syn_seen=True, packets_c2s=10, packets_s2c=8,
                         bytes_c2s=5000, bytes_s2c=700)
    later = first.model_copy(update={"ts": 111.0, "first_ts": 110.0, "last_ts": 119.0, "frame_no": 90,
                                     "syn_seen": True, "packets_c2s": 3, "packets_s2c": 2, "bytes_c2s": 30,
                                     "bytes_s2c": 20})
    quiet = later.model_copy(update={"ts": 121.0, "first_ts": 120.0, "last_ts": 129.0, "syn_seen": False})
    early = later.model_copy(update={"ts": 105.0, "first_ts": 104.0})  # overlaps what is stored: merged whole
    with _one_fact_stored(store_url, first) as (session, blob):
        store_batch(session, [later])
        store_batch(session, [quiet])
        row = session.execute(select(FactRow)).scalar_one()
        [fact] = iter_facts(session)
        assert row.blob == blob  # the blob untouched: columns only
        assert (row.count, row.first_ts, row.last_ts) == (3, 99.5, 129.0)
        assert (row.sum1, row.sum2, row.sum3, row.sum4) == (16, 12, 5060, 740)
        assert fact == merge(merge(first, later), quiet)
        store_batch(session, [early])
        [again] = iter_facts(session)
    assert again == merge(merge(merge(first, later), quiet), early)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "stats"])
@settings(max_examples=10, deadline=None)  # per kind
@given(data=st.data())
def test_a_merged_blob_is_the_blob_of_the_merged_record(kind: str, data: st.DataObject) -> None:
    # what the merging process of several workers does instead of encoding again (collector.shard)
    a = data.draw(observation(kind))
    b = a.model_copy(update=data.draw(_variants(kind)))
    for x, y in ((a, b), (b, a)):
        blob = factblob.merge_blob(x, factblob.encode(x), y, factblob.encode(y))
        if kind in SUMMED:  # syn_seen, first_ts and flags may change: encoded where it is stored
            assert blob is None
        else:
            assert blob == factblob.encode(merge(x, y))
        assert factblob.merge_blob(x, None if x is a else factblob.encode(x),
                                   y, None if y is a else factblob.encode(y)) in (None, blob)


def _rows(session: Session) -> list[tuple[Any, ...]]:
    query = select(*(col(c) for c in (FactRow.fkey, FactRow.sensor, FactRow.kind, FactRow.count,
                                     FactRow.first_ts, FactRow.last_ts, FactRow.blob)))
    query = query.order_by(col(FactRow.fkey))
    return [tuple(r) for r in session.execute(query)]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "stats"])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_given_keys_and_blobs_store_what_computing_them_stores(store_url: str, kind: str,
                                                               data: st.DataObject) -> None:
    base = data.draw(observation(kind)).model_copy(update={"sensor": ""})  # stamped in store_batch: rekeyed
    other = data.draw(observation(kind))
    records = [base, base.model_copy(update=data.draw(_variants(kind))), other]  # a fact twice in the batch
    engine = make_engine(store_url)
    stored = []
    try:
        for given in (False, True):
            with Session(engine) as session:
                session.execute(delete(FactRow))
                session.commit()
                if given:
                    keys = [fact_key(o) for o in records]
                    result = store_batch(session, records, sensor="s9", keys=keys,
                                         blobs=[factblob.encode(o) for o in records])
                else:
                    result = store_batch(session, records, sensor="s9")
                stored.append((_rows(session), result.new_facts, result.records_stored))
    finally:
        engine.dispose()
    assert stored[0] == stored[1]
    assert {row[1] for row in stored[1][0]} <= {"s9", other.sensor}


def test_given_keys_are_used_not_computed_again(store_url: str) -> None:
    # store_batch trusts the keys it is given (that is the work it saves): the collector's test
    # (tests/collector/test_workers.py) checks that the keys it passes are fact_key's
    o = DnsObs(ts=100.0, sensor="s1", src_ip="10.0.0.1", protocol="dns", response=False,
               queries=("pacs.example",))
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            session.execute(delete(FactRow))
            store_batch(session, [o], keys=["0" * 32])
            fkey = session.execute(select(col(FactRow.fkey))).scalar_one()
    finally:
        engine.dispose()
    assert fkey == 0 != factblob.key64(fact_key(o))
