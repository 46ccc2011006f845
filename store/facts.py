"""The facts store: batches of observations upserted as facts, a generation counter, raw rows kept only if
asked.

Every writer (a replay, a live capture, a central's ingest) goes through `store_batch`: the
batch's records are merged per fact (collector.facts) and upserted into the `fact` table with
their count and first/last time, so the store grows with what is new on the network, not with
frames.  A row holds its key as a 64-bit integer and the rest of the record compressed beside
its columns (collector.factblob).  Each write bumps the store `generation` first, in the same
transaction: it takes the write lock at once (SQLite: a RESERVED lock, waited for with the busy
timeout; PostgreSQL: the row lock of `store_state`), so concurrent writers queue instead of
losing a merge or failing, and readers (the analysis) know whether anything changed since they last looked.

Raw observation rows are kept only when a retention is set (`raw_retention_days`), and
`purge_raw` drops those older than it; the JSON-lines export keeps every record for whoever
wants them all.  A (sensor, seq) batch is stored once: a retry is acknowledged, not stored again.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlmodel import Session, col

from collector.factblob import (
    Sums,
    counters_only,
    decode,
    encode,
    first_column,
    key64,
    last_column,
    merge_blob,
    sums,
)
from collector.facts import SUMMED, fact_key, keyed, last_seen, merge
from collector.schema import Observation
from store.envsetting import number_setting
from store.models import FactRow, IngestBatch, ObservationRow, SensorStatus, SitePolicyRow, StoreState, utcnow

GENERATION = "generation"
ANALYZED = "analyzed"
FACTS = "facts"
"""Counter bumped by fact writes only: what an in-memory digest of the facts must match to be current."""
IN_CHUNK = 500
"""Fact keys looked up per SELECT ... IN (...) (SQLite allows 999 parameters by default)."""
RAW_RETENTION_ENV = "MEDTAP_RAW_RETENTION_DAYS"


def raw_retention_days() -> float:
    """Days of raw observation rows to keep (MEDTAP_RAW_RETENTION_DAYS; 0, the default, keeps none)."""
    return number_setting(RAW_RETENTION_ENV, 0.0, unit="days")


@dataclass
class StoreResult:
    """What one batch did to the store."""

    stored: bool
    """False when this (sensor, seq) was stored before (a retry): nothing was written."""
    records: int = 0
    new_facts: int = 0
    updated_facts: int = 0
    generation: int = 0
    """Store generation after this write (before it, for a retry)."""
    previous_generation: int = 0
    facts_generation: int = 0
    """Facts counter after this write; `previous_facts_generation` before it (equal for a retry)."""
    previous_facts_generation: int = 0
    records_stored: list[Observation] = field(default_factory=list)
    """The records as stored (sensor stamped): what an in-memory digest folds to follow the store."""


def generation(session: Session) -> int:
    """The store generation: bumped by every write of facts, sheets or policy (0 for an empty store)."""
    return _counter(session, GENERATION)


def facts_generation(session: Session) -> int:
    """The facts counter: bumped by every write of facts (a digest of the facts is current if it matches)."""
    return _counter(session, FACTS)


def _counter(session: Session, key: str) -> int:
    value = session.execute(select(col(StoreState.value)).where(col(StoreState.key) == key)).scalar()
    return int(value) if value is not None else 0


def lock_analysis(session: Session) -> None:
    """Take the analysis lock (the `analyzed` row) before an analysis writes devices and findings.

    Two analyses (the central's background thread and a manual analyze, or a replay into a
    database a server also analyzes) then write one after the other, each reading the findings
    the other stored, instead of both inserting the same new finding.
    """
    session.execute(update(StoreState).where(col(StoreState.key) == ANALYZED).values(value=StoreState.value))


def mark_analyzed(session: Session, gen: int) -> None:
    """Record that the inventory and findings now reflect store generation `gen` (and when)."""
    session.execute(update(StoreState).where(col(StoreState.key) == ANALYZED).values(value=gen, at=utcnow()))


def analysis_status(session: Session) -> dict[str, object]:
    """Generation stored and analyzed, and when the last analysis ended (UTC), for the API and the UI."""
    stored = session.get(StoreState, GENERATION)
    done = session.get(StoreState, ANALYZED)
    return {"generation": int(stored.value) if stored else 0,
            "analyzed_generation": int(done.value) if done else 0,
            "last_analysis": done.at if done else None, "last_store": stored.at if stored else None}


def _bump(session: Session, key: str) -> int:
    value = session.execute(update(StoreState).where(col(StoreState.key) == key)
                            .values(value=col(StoreState.value) + 1, at=utcnow())
                            .returning(col(StoreState.value))).scalar()
    if value is None:  # the migration creates the rows; only a hand-made schema lacks them
        raise RuntimeError(f"store_state has no {key} row: run `medtap db upgrade`")
    return int(value)


def bump_generation(session: Session) -> int:
    """Bump the generation as the first write of the transaction (the write lock: module docstring)."""
    return _bump(session, GENERATION)


def store_batch(session: Session, observations: Sequence[Observation], *, sensor: str = "",
                seq: int | None = None, batch_key: str | None = None,
                keep_raw: bool | None = None, keys: Sequence[str] | None = None,
                blobs: Sequence[bytes | None] | None = None,
                prepared: PreparedBatch | None = None) -> StoreResult:
    """Upsert one batch as facts and commit.

    `sensor` is stamped on records that carry none.  With `seq`, the batch (`batch_key`, default the
    sensor, and seq) is stored only once: a repeat is acknowledged (`stored=False`), not stored again.
    `keys` and `blobs`, aligned with `observations`, are their fact keys and blobs when the caller has
    them (collector.facts.Prepared: a blob may be None): they are not computed again here.  `prepared`
    is the batch of `observations` already merged and keyed by `prepare_batch`.
    """
    batch = prepared or prepare_batch(observations, sensor=sensor, keys=keys, blobs=blobs)
    records, facts = batch.records, batch.facts
    before = bump_generation(session) - 1
    if seq is not None:
        key = batch_key or sensor
        existing = session.execute(select(col(IngestBatch.count)).where(
            col(IngestBatch.sensor) == key, col(IngestBatch.seq) == seq)).scalar()
        if existing is not None:
            session.rollback()
            facts_now = facts_generation(session)
            return StoreResult(stored=False, records=int(existing), generation=before,
                               previous_generation=before,
                               facts_generation=facts_now, previous_facts_generation=facts_now)
        session.add(IngestBatch(sensor=key, seq=seq, count=len(observations)))
    facts_after = _bump(session, FACTS)
    result = _upsert(session, facts, before + 1)
    if keep_raw if keep_raw is not None else raw_retention_days() > 0:
        _insert_raw(session, records, sensor, seq)
    _sensor_seen(session, sensor, seq if batch_key is None else None, len(result), records)
    session.commit()
    return StoreResult(stored=True, records=len(records), new_facts=result.new, updated_facts=result.updated,
                       generation=before + 1, previous_generation=before, facts_generation=facts_after,
                       previous_facts_generation=facts_after - 1, records_stored=records)


@dataclass
class PreparedBatch:
    """A batch merged per fact and keyed, ready to be written (`store_batch(prepared=)`)."""

    records: list[Observation]
    """The records, stamped with the sensor when they carried none."""
    facts: dict[str, tuple[Observation, bytes | None]]


def prepare_batch(observations: Sequence[Observation], *, sensor: str = "", keys: Sequence[str] | None = None,
                  blobs: Sequence[bytes | None] | None = None) -> PreparedBatch:
    """Merge and key a batch before its write (store_batch): a central does it before the batch's turn,
    so the turn covers the database work only."""
    records = [o if o.sensor or not sensor else o.model_copy(update={"sensor": sensor}) for o in observations]
    return PreparedBatch(records, _keyed(records, observations, keys, blobs))


def _keyed(records: list[Observation], given: Sequence[Observation], keys: Sequence[str] | None,
           blobs: Sequence[bytes | None] | None) -> dict[str, tuple[Observation, bytes | None]]:
    """The batch merged per fact as collector.facts.keyed merges it, each fact with its blob if known.

    A record stamped with the sensor here (`records[i] is not given[i]`) is keyed again: the sensor
    is part of a fact's identity.  Its blob stays valid (the sensor is a column, not in the blob)."""
    if keys is None:
        return {key: (o, None) for key, o in keyed(records).items()}
    out: dict[str, tuple[Observation, bytes | None]] = {}
    for o, before, key, blob in zip(records, given, keys, blobs if blobs is not None else repeat(None),
                                    strict=False):
        if o is not before:
            key = fact_key(o)
        cur = out.get(key)
        out[key] = (o, blob) if cur is None else (merge(cur[0], o), merge_blob(cur[0], cur[1], o, blob))
    return out


@dataclass
class _Upserted:
    new: int = 0
    updated: int = 0

    def __len__(self) -> int:
        return self.new + self.updated


_FACT = FactRow.__table__  # type: ignore[attr-defined]
# Statements built once: SQLAlchemy compiles the lookup once per engine and dialect.
_SUMS = (_FACT.c.sum1, _FACT.c.sum2, _FACT.c.sum3, _FACT.c.sum4)
_SELECT_KNOWN = (select(_FACT.c.id, _FACT.c.fkey, _FACT.c["count"], _FACT.c.first_ts, _FACT.c.last_ts,
                        _FACT.c.blob, *_SUMS)
                 .where(_FACT.c.fkey.in_(bindparam("keys", expanding=True))))
# The writes of many rows go to the driver as they are (tuples, SQL text): SQLAlchemy's per-row parameter
# processing cost as much as the database work for a batch of new facts.
_INSERT = ("INSERT INTO fact (fkey, sensor, kind, count, first_ts, last_ts, generation, blob, "
           "sum1, sum2, sum3, sum4) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE_COUNTERS = "UPDATE fact SET count = ?, last_ts = ?, generation = ? WHERE id = ?"
_UPDATE_SUMS = ("UPDATE fact SET count = ?, last_ts = ?, generation = ?, "
                "sum1 = ?, sum2 = ?, sum3 = ?, sum4 = ? WHERE id = ?")
_UPDATE_ALL = ("UPDATE fact SET count = ?, first_ts = ?, last_ts = ?, generation = ?, blob = ?, sum1 = ?, "
               "sum2 = ?, sum3 = ?, sum4 = ? WHERE id = ?")


def _added(stored: Sums, o: Observation) -> Sums:
    """The `sum*` columns of a row once `o`'s counters are added (collector.facts.merge)."""
    return tuple(None if a is None else a + (b or 0)  # type: ignore[return-value]
                 for a, b in zip(stored, sums(o), strict=True))


@functools.cache
def _for_driver(sql: str, paramstyle: str) -> str:
    """`sql` with the driver's placeholders (qmark for sqlite3, format for psycopg)."""
    if paramstyle == "qmark":
        return sql
    if paramstyle in ("format", "pyformat"):
        return sql.replace("?", "%s")
    raise RuntimeError(f"unsupported DB-API paramstyle {paramstyle!r} (medtap runs on SQLite and PostgreSQL)")


def _write_many(session: Session, sql: str, rows: list[tuple[object, ...]]) -> None:
    if rows:
        conn = session.connection()
        conn.exec_driver_sql(_for_driver(sql, conn.dialect.paramstyle), rows)


def _upsert(session: Session, facts: dict[str, tuple[Observation, bytes | None]], gen: int) -> _Upserted:
    """Insert the new facts (with their blob when it is given), merge the known ones (collector.facts.merge,
    exactly).

    A known fact merged with a record that comes after it (time moves forward: the usual case) keeps its
    blob, the first record's envelope (collector.factblob.counters_only): only its `count` and `last_ts`
    columns change, and for a host or conversation its summed counters, columns too.  The others are
    decoded, merged and encoded again (a row written before the `sum*` columns existed then gets them).
    The write lock is held (store_batch), so reading then writing the counters loses no concurrent update.
    """
    out = _Upserted()
    if not facts:
        return out
    by_key = {key64(k): fact for k, fact in facts.items()}
    keys = list(by_key)
    stored: dict[int, tuple[int, int, float, float, bytes, Sums]] = {}
    for start in range(0, len(keys), IN_CHUNK):
        for fid, fkey, count, first, last, blob, s1, s2, s3, s4 in session.execute(
                _SELECT_KNOWN, {"keys": keys[start:start + IN_CHUNK]}):
            stored[fkey] = (fid, count, first, last, blob, (s1, s2, s3, s4))
    new_rows: list[tuple[object, ...]] = []
    counters: list[tuple[object, ...]] = []
    summed: list[tuple[object, ...]] = []
    rewritten: list[tuple[object, ...]] = []
    for fkey, (o, given) in by_key.items():
        hit = stored.get(fkey)
        if hit is None:
            new_rows.append((fkey, o.sensor, o.kind, o.count, first_column(o), last_column(o), gen,
                             encode(o) if given is None else given, *sums(o)))
            continue
        fid, count, first, last, blob, row_sums = hit
        if counters_only(blob, first_ts=first, last_ts=last, o=o):
            if o.kind in SUMMED:
                summed.append((count + o.count, max(last, last_column(o)), gen, *_added(row_sums, o), fid))
            else:
                counters.append((count + o.count, max(last, last_column(o)), gen, fid))
            continue
        old = decode(blob, kind=o.kind, sensor=o.sensor, count=count, first_ts=first, last_ts=last,
                     sums=row_sums)
        merged = merge(old, o)
        rewritten.append((merged.count, first_column(merged), last_column(merged), gen, encode(merged),
                          *sums(merged), fid))
    _write_many(session, _INSERT, new_rows)
    _write_many(session, _UPDATE_COUNTERS, counters)
    _write_many(session, _UPDATE_SUMS, summed)
    _write_many(session, _UPDATE_ALL, rewritten)
    out.new, out.updated = len(new_rows), len(counters) + len(summed) + len(rewritten)
    return out


def fact_json(o: Observation) -> str:
    """The JSON of a record as raw rows keep it: fields that differ from their default, `kind` first."""
    body = o.__pydantic_serializer__.to_json(o, exclude_defaults=True).decode()
    return f'{{"kind":"{o.kind}",{body[1:]}' if len(body) > 2 else f'{{"kind":"{o.kind}"}}'


def _insert_raw(session: Session, records: Sequence[Observation], sensor: str, seq: int | None) -> None:
    if records:
        session.execute(insert(ObservationRow.__table__), [  # type: ignore[attr-defined]
            {"sensor": o.sensor or sensor, "batch_seq": seq, "kind": o.kind, "ts": o.ts, "json": fact_json(o)}
            for o in records])


def _sensor_seen(session: Session, sensor: str, seq: int | None, facts: int,
                 records: Sequence[Observation]) -> None:
    name = sensor or next((o.sensor for o in records if o.sensor), "")
    row = session.get(SensorStatus, name)
    newest = max((last_seen(o) for o in records), default=None)
    if row is None:
        row = SensorStatus(sensor=name)
    row.last_batch_at = utcnow()
    row.batches += 1
    row.facts += facts
    if seq is not None:
        row.last_seq = max(row.last_seq, seq)
    if newest is not None:
        row.last_packet_ts = newest if row.last_packet_ts is None else max(row.last_packet_ts, newest)
    session.add(row)


def iter_facts(session: Session, *, kinds: Sequence[str] | None = None, since: int = 0,
               batch: int = 5000) -> Iterator[Observation]:
    """Stored facts (optionally of some kinds, or changed after generation `since`), page by page by id."""
    last = 0
    while True:
        query = select(_FACT.c.id, _FACT.c.kind, _FACT.c.sensor, _FACT.c["count"], _FACT.c.first_ts,
                       _FACT.c.last_ts, _FACT.c.blob, *_SUMS).where(_FACT.c.id > last)
        if kinds:
            query = query.where(_FACT.c.kind.in_(list(kinds)))
        if since:
            query = query.where(_FACT.c.generation > since)
        rows = session.execute(query.order_by(_FACT.c.id).limit(batch)).all()
        if not rows:
            return
        last = rows[-1][0]
        for _, kind, sensor, count, first, last_ts, blob, s1, s2, s3, s4 in rows:
            yield decode(blob, kind=kind, sensor=sensor, count=count, first_ts=first, last_ts=last_ts,
                         sums=(s1, s2, s3, s4))


def count_facts(session: Session) -> dict[str, tuple[int, int]]:
    """Per kind: (facts, observations they stand for)."""
    rows = session.execute(select(col(FactRow.kind), func.count(),
                                  func.sum(col(FactRow.count))).group_by(FactRow.kind)).all()
    return {kind: (int(n), int(total or 0)) for kind, n, total in rows}


def newest_packet_ts(session: Session) -> float | None:
    """Packet time of the newest fact (the store's "now" for retention and silence windows).

    Read from the sensors' status, which every fact write updates in the same transaction with the
    same times (store_batch), rather than from the facts, whose `last_ts` is not indexed."""
    value = session.execute(select(func.max(SensorStatus.last_packet_ts))).scalar()
    if value is None:  # a store written before sensor status existed, or by hand
        value = session.execute(select(func.max(FactRow.last_ts))).scalar()
    return float(value) if value is not None else None


def purge_raw(session: Session, *, days: float | None = None) -> int:
    """Drop raw observation rows older than `days` (default: the retention setting) before the newest fact.

    Measured in packet time, so replaying last year's captures keeps their rows as a live capture would.
    """
    days = raw_retention_days() if days is None else days
    newest = newest_packet_ts(session)
    if newest is None:
        newest = session.execute(select(func.max(ObservationRow.ts))).scalar()
    if newest is None:
        return 0
    cutoff = float(newest) - days * 86400.0
    result = session.execute(delete(ObservationRow).where(col(ObservationRow.ts) < cutoff))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_sensors(session: Session) -> list[SensorStatus]:
    return list(session.execute(select(SensorStatus).order_by(col(SensorStatus.sensor))).scalars())


def save_policy(session: Session, site: Any, *, source: str, actor: str = "cli") -> bool:
    """Make `site` (an analyzer.site.SitePolicy) the policy of this store; True when it changed.

    A change bumps the generation (the next analysis re-matches everything) and is audited.
    """
    from store.audit import record

    text = site.model_dump_json()
    row = session.get(SitePolicyRow, "current")
    if row is not None and row.json_text == text:
        return False
    bump_generation(session)
    record(session, who=actor, action="policy", entity="site_policy", entity_id=site.site or "site",
           field="source", old=row.source if row is not None else None, new=source)
    if row is None:
        row = SitePolicyRow(key="current", json_text=text)
    row.json_text, row.source, row.updated_at = text, source[:1024], utcnow()
    session.add(row)
    session.commit()
    return True


def stored_policy(session: Session) -> Any:
    """The site policy of this store (None when no run was ever given one)."""
    from analyzer.site import SitePolicy

    row = session.get(SitePolicyRow, "current")
    return SitePolicy.model_validate_json(row.json_text) if row is not None else None


def policy_in_force(session: Session, site: Any, *, source: str) -> Any:
    """The policy a job analyzes with: the one given (saved in the store for the next runs and a central),
    else the one the store holds (None when it never had one)."""
    if site is not None:
        save_policy(session, site, source=source)
        return site
    return stored_policy(session)


def live_status(session: Session, *, silent_after: float) -> dict[str, Any]:
    """What the teams watch to trust the picture: when the store last changed and was analyzed, and per
    sensor its last batch and whether it has been silent longer than `silent_after` seconds."""
    now = utcnow()
    out: dict[str, Any] = dict(analysis_status(session))
    out["up_to_date"] = out["generation"] == out["analyzed_generation"]
    sensors = []
    for row in list_sensors(session):
        last = row.last_batch_at if row.last_batch_at.tzinfo else row.last_batch_at.replace(tzinfo=dt.UTC)
        age = (now - last).total_seconds()
        sensors.append({"sensor": row.sensor, "last_batch_at": last, "last_seq": row.last_seq,
                        "batches": row.batches,
                        "facts": row.facts, "last_packet_ts": row.last_packet_ts,
                        "seconds_since_last_batch": round(age, 1),
                        "silent": age > silent_after})
    out["sensors"] = sensors
    out["silent_sensors"] = [s["sensor"] for s in sensors if s["silent"]]
    out["silent_after"] = silent_after
    return out
