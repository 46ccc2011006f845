"""A running capture and a central analyze when something new was stored, not after every batch (store.freshness).

On a real SQLite store: the same hosts flush after flush cost no analysis until the refresh period;
a new host is in the inventory right after the flush that brought it; a saved sheet re-matches at
the next look; a fact stored while an analysis runs triggers the next one.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from collector.schema import HostSighting
from store.autoanalyze import AutoAnalyzer
from store.db import make_engine, session_for
from store.facts import bump_generation, facts_generation, generation, store_batch
from store.freshness import AnalysisGate
from store.loop import FlushAnalysis, _DbSink
from store.models import DeviceRow
from store.service import start_digest


def _hosts(t: float, *octets: int) -> list[HostSighting]:
    return [HostSighting(ts=t, first_ts=t, last_ts=t + 1, mac=f"02:00:00:00:00:{o:02x}", ip=f"10.1.1.{o}",
                         vlan=110, frames=10, bytes=1000) for o in octets]


def _macs(session: Session) -> set[str]:
    return {m for m in session.exec(select(DeviceRow.mac)) if m}


def test_a_capture_analyzes_for_new_facts_and_at_the_refresh_period(tmp_path: Path) -> None:
    with session_for(f"sqlite:///{tmp_path / 'c.db'}") as session:
        gate = AnalysisGate(refresh=60.0)
        flushes = FlushAnalysis(session, site=None, gate=gate)
        sink = _DbSink(session, "s1", digest=start_digest(session), gate=gate)
        ran = []
        for period in range(8):  # 10 s flush periods of the same two hosts, a third from period 3
            t = 1_000_000.0 + 10 * period
            sink.emit(_hosts(t, 1, 2) + (_hosts(t, 3) if period >= 3 else []))
            ran.append(flushes.run(sink))
            if period == 3:  # visible right after the flush that brought it
                assert "02:00:00:00:00:03" in _macs(session)
        # first flush, the new host at period 3; nothing else within 60 s of packet time
        assert ran == [True, False, False, True, False, False, False, False]
        assert gate.analyses == 2 and gate.skipped == 6
        sink.emit(_hosts(1_000_000.0 + 3 * 10 + 60, 1, 2))  # 60 s after the last analysis: counters catch up
        assert flushes.run(sink)
        bump_generation(session)  # what a saved sheet or policy does
        session.commit()
        assert flushes.run(sink)
        assert not flushes.run(sink)  # nothing written since


def test_a_fact_stored_during_an_analysis_triggers_the_next(tmp_path: Path) -> None:
    with session_for(f"sqlite:///{tmp_path / 'g.db'}") as session:
        gate = AnalysisGate(refresh=3600.0)
        gate.stored(store_batch(session, _hosts(1.0, 1)))
        gen, facts = generation(session), facts_generation(session)
        assert gate.due(gen, facts, 1.0) == "first analysis"
        gate.stored(store_batch(session, _hosts(2.0, 2)))  # an ingest thread, while the analysis runs
        gate.analyzed(gen, facts, 1.0)
        assert gate.due(generation(session), facts_generation(session), 2.0) == "new facts"
        gate.analyzed(generation(session), facts_generation(session), 2.0)
        gate.stored(store_batch(session, _hosts(3.0, 1, 2)))
        assert gate.due(generation(session), facts_generation(session), 3.0) is None


def test_a_central_skips_batches_of_known_facts(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEDTAP_REFRESH_SECONDS", "3600")
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    from store.service import init_db

    init_db(engine)
    analyst = AutoAnalyzer(engine)  # not started: looked at by hand
    with Session(engine) as session:
        analyst.fold(store_batch(session, _hosts(1.0, 1, 2), sensor="s1", seq=1))
    assert analyst.analyze_if_changed()
    with Session(engine) as session:
        analyst.fold(store_batch(session, _hosts(11.0, 1, 2), sensor="s1", seq=2))
    assert not analyst.analyze_if_changed()  # the same two hosts again
    with Session(engine) as session:
        analyst.fold(store_batch(session, _hosts(21.0, 1, 2, 3), sensor="s1", seq=3))
    assert analyst.analyze_if_changed()
    with Session(engine) as session:
        assert "02:00:00:00:00:03" in _macs(session)
    assert analyst.gate.analyses == 2 and analyst.gate.skipped == 1


def test_number_settings_are_refused_with_name_value_and_unit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from store.errors import SettingError
    from store.freshness import refresh_seconds
    from store.interventions import window_seconds

    monkeypatch.setenv("MEDTAP_REFRESH_SECONDS", "soon")
    with pytest.raises(SettingError, match=r"MEDTAP_REFRESH_SECONDS='soon': not a number of seconds"):
        refresh_seconds()
    monkeypatch.setenv("MEDTAP_REFRESH_SECONDS", "-1")
    with pytest.raises(SettingError, match="must be 0 or more"):
        refresh_seconds()
    monkeypatch.setenv("MEDTAP_REFRESH_SECONDS", "0")
    assert refresh_seconds() == 0.0
    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "0")
    with pytest.raises(SettingError, match="must be more than 0"):
        window_seconds()
    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "2")
    assert window_seconds() == 7200.0
