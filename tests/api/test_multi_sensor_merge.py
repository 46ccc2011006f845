"""Devices seen by several sensors are merged into one inventory entry that says which sensors saw it."""

from __future__ import annotations

from sqlmodel import Session

from collector.schema import HostSighting
from store.db import make_engine
from store.service import ingest_batch, init_db, reanalyze


def _sighting(sensor: str, mac: str, ip: str, ts: float) -> dict:
    obs = HostSighting(ts=ts, sensor=sensor, vlan=120, src_mac=mac, src_ip=ip, mac=mac, ip=ip, first_ts=ts, last_ts=ts + 5, frames=3)
    return obs.model_dump(mode="json")


def test_same_device_from_two_sensors_is_one_device(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    with Session(engine) as session:
        ingest_batch(session, sensor="site-a", seq=1, observations=[_sighting("site-a", "00:09:fb:20:00:50", "10.10.120.50", 100.0)])
        ingest_batch(session, sensor="site-b", seq=1, observations=[
            _sighting("site-b", "00:09:fb:20:00:50", "10.10.120.50", 200.0),
            _sighting("site-b", "00:12:21:30:00:07", "10.30.0.17", 210.0),
        ])
        report = reanalyze(session, site=None)
    engine.dispose()
    by_mac = {d.mac: d for d in report.devices}
    assert by_mac["00:09:fb:20:00:50"].sensors == ["site-a", "site-b"]
    assert by_mac["00:09:fb:20:00:50"].first_seen == 100.0
    assert by_mac["00:12:21:30:00:07"].sensors == ["site-b"]
