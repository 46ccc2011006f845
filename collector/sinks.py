"""Where observations go: the `Sink` protocol, an in-memory sink and a JSON-lines file.

JSON lines: a header line `{"schema_version": 1, "sensor": ..., "type": "header"}` then one
observation per line (`model_dump_json`), readable back with `read_jsonl` (every line is
validated against collector.schema).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from collector.facts import Prepared
from collector.schema import SCHEMA_VERSION, Observation, parse_observation


class Sink(Protocol):
    """Receives observations in batches; `close()` once at the end (idempotent).

    A sink may also define `flushed()`: the pipeline calls it after the last batch of each flush
    period, the moment a store can analyze what the period changed (store.loop's database sink);
    and `emit_prepared(batch: collector.facts.Prepared)`, called instead of `emit` when the records'
    fact keys (and blobs) are at hand, which a store would otherwise compute again.
    """

    def emit(self, batch: list[Observation]) -> None: ...

    def close(self) -> None: ...


def send_prepared(sink: Sink, batch: Prepared) -> None:
    """`batch` to `sink`: with its fact keys and blobs when the sink takes them (`emit_prepared`), else its
    records alone."""
    prepared = getattr(sink, "emit_prepared", None)
    if prepared is not None:
        prepared(batch)
    else:
        sink.emit(batch.records)


class ListSink:
    """Keeps every observation in memory (tests, small replays, the CLI summary)."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.batches = 0

    def emit(self, batch: list[Observation]) -> None:
        self.observations.extend(batch)
        self.batches += 1

    def close(self) -> None:
        return None

    def of_kind(self, kind: str) -> list[Observation]:
        return [o for o in self.observations if o.kind == kind]


class CountingSink:
    """Counts observations per kind without keeping them (benchmarks, dry runs)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.batches = 0

    def emit(self, batch: list[Observation]) -> None:
        self.batches += 1
        for o in batch:
            self.counts[o.kind] = self.counts.get(o.kind, 0) + 1

    def close(self) -> None:
        return None


class JsonlSink:
    """One observation per line after a header line."""

    def __init__(self, path: Path | str, sensor: str = "") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        header = {"schema_version": SCHEMA_VERSION, "sensor": sensor, "type": "header"}
        self._f.write(json.dumps(header) + "\n")

    def emit(self, batch: list[Observation]) -> None:
        if self._f is None:
            raise ValueError(f"{self.path}: sink is closed")
        self._f.write("".join(o.model_dump_json() + "\n" for o in batch))

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_jsonl(path: Path | str) -> Iterator[Observation]:
    """Observations of a JSON-lines file written by `JsonlSink` (header checked, lines validated)."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
        header = json.loads(first) if first.strip() else {}
        if header.get("type") != "header":
            raise ValueError(f"{path}:1: not a medtap observations file (no header line)")
        if header.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{path}:1: schema_version {header.get('schema_version')} != {SCHEMA_VERSION}")
        for line in f:
            if line.strip():
                yield parse_observation(line)
