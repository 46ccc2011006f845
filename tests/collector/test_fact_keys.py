"""A fact's key is the same however its record was built: by the collector's fast constructors, parsed from a
sensor's JSON at a central, or read back from the store.

The key hashes the record's JSON (collector.facts.identity_json), whose field order follows the record's
attribute order: a fast-built record once put required fields last and keyed differently from the same
record parsed from JSON, so a fact reaching one store by two roads was stored twice.
"""

from __future__ import annotations

from pathlib import Path

from collector.facts import fact_key
from collector.pipeline import replay
from collector.schema import parse_observation
from collector.sinks import ListSink
from tests.keys import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_every_record_of_the_demo_hospitals_keys_as_its_parsed_json() -> None:
    sink = ListSink()
    replay(sorted((ROOT / "pcaps" / "demo").glob("*.pcap")) + sorted((ROOT / "pcaps" / "demo3").glob("*.pcap")),
           sink, key=TEST_KEY)
    kinds = {o.kind for o in sink.observations}
    assert len(kinds) >= 15, kinds
    differ = [o for o in sink.observations
              if o.kind != "stats" and fact_key(o) != fact_key(parse_observation(o.model_dump_json()))]
    assert not differ, [(o.kind, o.model_dump_json()[:200]) for o in differ[:5]]
