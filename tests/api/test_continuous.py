"""Months on a SPAN port, compressed: the store grows with what is new, findings live a lifecycle.

The demo hospital's captures are replayed as ten days of identical traffic (timestamps shifted
by a day each) into one database: the facts store must grow with new facts only, the cost of a
day must not grow with the days before it, resolved findings reopen when seen again, findings no
longer seen close, and raw observation rows stay within their retention.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.db import make_engine
from store.loop import ReplayOptions, run_replay
from store.models import AuditRow, FactRow, FindingRow, ObservationRow

DEMO = Path(__file__).resolve().parents[2] / "pcaps" / "demo"
DAY = 86400


def shift_pcap(src: Path, dst: Path, seconds: int) -> Path:
    """A copy of a classic pcap file with every record's time moved by `seconds`."""
    data = bytearray(src.read_bytes())
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        sec, _, incl, _ = struct.unpack_from(order + "IIII", data, off)
        struct.pack_into(order + "I", data, off, sec + seconds)
        off += 16 + incl
    dst.write_bytes(bytes(data))
    return dst


def day_files(tmp: Path, day: int) -> list[Path]:
    """The demo hospital's captures as seen on day `day` (1 = as recorded)."""
    folder = tmp / f"day{day:02d}"
    folder.mkdir(exist_ok=True)
    return [shift_pcap(p, folder / p.name, (day - 1) * DAY) for p in sorted(DEMO.glob("*.pcap"))]


def store_size(url: str) -> tuple[int, int]:
    """(fact rows, bytes of their blobs): what the store holds."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows, size = session.execute(select(func.count(), func.coalesce(func.sum(func.length(FactRow.blob)), 0))
                                         ).one()
    finally:
        engine.dispose()
    return int(rows), int(size)


class SqlWork:
    """Statements and rows of parameters sent to the database: a deterministic measure of a job's store cost."""

    def __init__(self) -> None:
        self.statements = 0
        self.rows = 0

    def __enter__(self) -> SqlWork:
        event.listen(Engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._count)

    def _count(self, conn: object, cursor: object, statement: str, parameters: object, context: object,
               executemany: bool) -> None:
        self.statements += 1
        self.rows += len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1  # type: ignore[arg-type]

    @property
    def total(self) -> int:
        return self.statements + self.rows


def test_ten_identical_days_add_little_to_the_store_and_cost_the_same(tmp_path: Path, sqlite_url: str) -> None:
    sizes = []
    work = []
    for day in range(1, 11):
        files = day_files(tmp_path, day)
        with SqlWork() as w:
            result = run_replay(ReplayOptions(paths=files, db_url=sqlite_url))
        assert result.observations > 0 and result.already_stored == 0  # each day is new traffic
        work.append(w.total)
        sizes.append(store_size(sqlite_url))
    day1_rows, day1_bytes = sizes[0]
    later_rows, later_bytes = sizes[-1][0] - day1_rows, sizes[-1][1] - day1_bytes
    assert later_rows <= day1_rows / 2 and later_bytes <= day1_bytes / 2, sizes
    assert later_rows <= 9 * 2  # a run's stats record per day, nothing else that is new
    assert work[9] <= 1.5 * work[1], work
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(ObservationRow)).scalar() == 0  # no raw rows
            hosts = [r for r in session.execute(select(FactRow.count, FactRow.first_ts, FactRow.last_ts)
                                                .where(FactRow.kind == "host")).all()]
    finally:
        engine.dispose()
    assert hosts and all(last - first >= 9 * DAY for _, first, last in hosts if _ >= 10)


def _finding(session: Session, rule: str) -> FindingRow:
    row = session.execute(select(FindingRow).where(FindingRow.rule == rule).order_by(FindingRow.id)).scalars().first()
    assert row is not None, rule
    return row


def test_a_resolved_finding_reopens_when_seen_again(tmp_path: Path, sqlite_url: str) -> None:
    from store.service import set_finding_status

    run_replay(ReplayOptions(paths=day_files(tmp_path, 1), db_url=sqlite_url))
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            fid = _finding(session, "dm-internet").id
            set_finding_status(session, fid, status="resolved", actor="biomed:alice", justification="firewalled")
        run_replay(ReplayOptions(paths=day_files(tmp_path, 1), db_url=sqlite_url))  # the same day again: nothing new
        with Session(engine) as session:
            row = session.get(FindingRow, fid)
            assert row is not None and row.status == "resolved" and row.occurrences == 1
        run_replay(ReplayOptions(paths=day_files(tmp_path, 2), db_url=sqlite_url))  # the next day: it happens again
        with Session(engine) as session:
            row = session.get(FindingRow, fid)
            assert row is not None and row.status == "open" and row.occurrences == 2
            audit = session.execute(select(AuditRow).where(AuditRow.entity_id == fid, AuditRow.action == "reopen")
                                    ).scalars().all()
            assert [(a.who, a.old, a.new) for a in audit] == [("system", "resolved", "open")]
    finally:
        engine.dispose()


def test_a_reopened_finding_is_notified(tmp_path: Path, sqlite_url: str) -> None:
    from collector.pipeline import replay
    from collector.sinks import ListSink
    from store.service import reanalyze, set_finding_status, store_observations

    run_replay(ReplayOptions(paths=day_files(tmp_path, 1), db_url=sqlite_url))
    sink = ListSink()
    replay(day_files(tmp_path, 2), sink, key=b"test-key-0123456789")
    engine = make_engine(sqlite_url)
    events: list[dict[str, object]] = []
    try:
        with Session(engine) as session:
            fid = _finding(session, "remote-access-unapproved").id
            set_finding_status(session, fid, status="resolved", actor="biomed:alice")
            store_observations(session, sink.observations, sensor="local")
            reanalyze(session, notify=events.append, record_run=False)
    finally:
        engine.dispose()
    assert [(e["type"], e["id"], e["service"]) for e in events if e["id"] == fid] == [
        ("finding.reopened", fid, "biomedical")]


@pytest.fixture
def close_after_half_a_day(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MEDTAP_CLOSE_UNOBSERVED_DAYS", "0.5")
    yield


def test_a_finding_no_longer_seen_closes_then_reopens(tmp_path: Path, sqlite_url: str,
                                                       close_after_half_a_day: None) -> None:
    from collector.schema import HostSighting
    from store.service import reanalyze, store_observations

    run_replay(ReplayOptions(paths=day_files(tmp_path, 1), db_url=sqlite_url))
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            fid = _finding(session, "dm-internet").id
            later = 1772438460.0 + 3 * DAY  # three days on, only another host is heard
            store_observations(session, [HostSighting(ts=later, mac="02:00:5e:00:00:77", ip="10.99.0.7",
                                                      first_ts=later, last_ts=later, frames=1)], sensor="local")
            reanalyze(session, record_run=False)
            row = session.get(FindingRow, fid)
            assert row is not None and row.status == "no-longer-observed"
            closed = session.execute(select(AuditRow).where(AuditRow.entity_id == fid, AuditRow.action == "close")
                                     ).scalars().all()
            assert [(a.who, a.old, a.new) for a in closed] == [("system", "open", "no-longer-observed")]
        run_replay(ReplayOptions(paths=day_files(tmp_path, 5), db_url=sqlite_url))
        with Session(engine) as session:
            row = session.get(FindingRow, fid)
            assert row is not None and row.status == "open"
    finally:
        engine.dispose()


def test_raw_rows_are_kept_only_within_their_retention(tmp_path: Path, sqlite_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDTAP_RAW_RETENTION_DAYS", "2")
    for day in range(1, 6):
        run_replay(ReplayOptions(paths=day_files(tmp_path, day), db_url=sqlite_url))
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            low, high, rows = session.execute(select(func.min(ObservationRow.ts), func.max(ObservationRow.ts),
                                                     func.count())).one()
            newest = session.execute(select(func.max(FactRow.last_ts))).scalar()
    finally:
        engine.dispose()
    assert rows > 0 and high == pytest.approx(newest, abs=1.0)
    assert newest - low <= 2 * DAY  # days 1 and 2 purged
    assert newest - low > DAY  # day 4 kept whole


def test_replay_sheets_never_overwrite_a_sheet_edited_in_the_ui(tmp_path: Path, sqlite_url: str) -> None:
    from store.jobs import import_sheets_file
    from store.service import get_sheet, update_sheet

    sheets = DEMO / "sheets.csv"
    first = run_replay(ReplayOptions(paths=day_files(tmp_path, 1), db_url=sqlite_url, sheets=sheets))
    assert first.sheet_conflicts == []
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            out = get_sheet(session, "SH-0001")
            assert out is not None
            edited = out.sheet.model_copy(update={"software_version": "VB99-edited-in-the-ui"})
            update_sheet(session, "SH-0001", edited, version=out.version, actor="biomed:alice")
        again = run_replay(ReplayOptions(paths=day_files(tmp_path, 2), db_url=sqlite_url, sheets=sheets))
        assert len(again.sheet_conflicts) == 1 and "SH-0001" in again.sheet_conflicts[0]
        assert "software_version" in again.sheet_conflicts[0] and "biomed:alice" in again.sheet_conflicts[0]
        with Session(engine) as session:
            kept = get_sheet(session, "SH-0001")
            assert kept is not None and kept.sheet.software_version == "VB99-edited-in-the-ui"
        result = import_sheets_file(sqlite_url, sheets, actor="cli", partial=False, overwrite=True)
        assert result.imported == 1 and result.conflicts == []
        with Session(engine) as session:
            replaced = get_sheet(session, "SH-0001")
            assert replaced is not None and replaced.sheet.software_version != "VB99-edited-in-the-ui"
    finally:
        engine.dispose()


def test_silence_rules_wait_for_enough_observed_traffic(tmp_path: Path) -> None:
    """A freshly started sensor flags no sheet: declared-not-seen and declared-server-silent need the site's
    `min_observed_hours` of traffic on the VLAN, and say on what window they are based."""
    from analyzer.site import load_site

    site = load_site(DEMO / "site.yaml")
    rules = ("declared-not-seen", "declared-server-silent")
    fresh = run_replay(ReplayOptions(paths=sorted(DEMO.glob("*.pcap")), db_url=f"sqlite:///{tmp_path / 'a.db'}",
                       site=site.model_copy(update={"min_observed_hours": 4.0}), sheets=DEMO / "sheets.csv"))
    assert not [f for f in fresh.report.findings if f.rule in rules]  # 3.5 h observed, 4 h needed
    enough = run_replay(ReplayOptions(paths=sorted(DEMO.glob("*.pcap")), db_url=f"sqlite:///{tmp_path / 'b.db'}",
                        site=site.model_copy(update={"min_observed_hours": 3.0}), sheets=DEMO / "sheets.csv"))
    silent = [f for f in enough.report.findings if f.rule in rules]
    assert {f.rule for f in silent} == set(rules)
    assert all("3.5 h" in f.evidence[0].text and "observed on VLAN" in f.evidence[0].text for f in silent)
