"""Records cross process boundaries pickled (replay and capture workers, collector.shard.PipeSink): what
arrives equals what was sent, for every kind, and stays a usable record (frozen, copyable, serialisable)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from collector.pipeline import replay
from collector.schema import DnsObs
from collector.sinks import ListSink
from tests.keys import TEST_KEY

DEMO = sorted((Path(__file__).resolve().parents[2] / "pcaps" / "demo").glob("*.pcap"))


def test_every_record_of_the_demo_arrives_equal_and_serialises_the_same() -> None:
    sink = ListSink()
    replay(DEMO, sink, key=TEST_KEY)
    records = list(sink.observations)
    assert len({o.kind for o in records}) >= 10
    back = pickle.loads(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == records
    assert [type(o) for o in back] == [type(o) for o in records]
    for o, b in zip(records, back, strict=True):
        assert b.model_dump_json(exclude_defaults=True) == o.model_dump_json(exclude_defaults=True)


def test_an_unpickled_record_is_frozen_and_copies_with_changes() -> None:
    o = DnsObs(ts=1.0, src_ip="192.0.2.1", protocol="dns", response=False, queries=("pacs.example",))
    b = pickle.loads(pickle.dumps(o))
    with pytest.raises(ValidationError):
        b.ts = 2.0  # type: ignore[misc]
    later = b.model_copy(update={"ts": 11.0})
    assert later.ts == 11.0 and later.queries == ("pacs.example",) and b.ts == 1.0
    assert b.model_fields_set == set(type(o).model_fields)  # every field counts as given once unpickled
