"""The generated hospital (tests.api.big_hospital): deterministic, at scale, stored through the store."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, func, select

from tests.api import big_hospital


def test_plan_is_deterministic_and_hospital_sized() -> None:
    a, b = big_hospital.plan(), big_hospital.plan()
    assert [d.model_dump_json() for d in a.devices] == [d.model_dump_json() for d in b.devices]
    assert [f.model_dump_json() for f in a.findings] == [f.model_dump_json() for f in b.findings]
    assert len(a.devices) >= 2000 and len({d.mac for d in a.devices}) == len(a.devices)
    assert big_hospital.plan(seed=7).devices != a.devices
    # the three ways the map groups: by zone, by VLAN without a zone, by subnet with neither
    assert {d.zone for d in a.devices if d.zone} >= {"imaging", "monitoring", "office", "servers"}
    assert any(d.zone is None and d.vlans for d in a.devices)
    assert any(d.zone is None and not d.vlans for d in a.devices)
    # every finding names devices of the inventory; every rule is a real one of the catalogue
    macs = {d.mac for d in a.devices}
    assert all(set(f.devices) <= macs for f in a.findings)
    assert len({f.rule for f in a.findings}) >= 5
    assert {r.status for r in a.reviews} >= {"risk-accepted", "acknowledged", "false-positive", "resolved"}


def test_fill_stores_it_through_the_store(tmp_path: Path) -> None:
    from store.db import make_engine
    from store.models import DeviceRow, FindingRow, SensorStatus, SheetRow

    size = 300
    h = big_hospital.plan(size)
    tokens = big_hospital.fill(f"sqlite:///{tmp_path / 'big.db'}", size=size)
    assert {"admin", "viewer", "biomedical"} <= set(tokens)
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(DeviceRow)).one() == size
        assert s.exec(select(func.count()).select_from(FindingRow)).one() == len(h.findings)
        assert s.exec(select(func.count()).select_from(SheetRow)).one() == len(h.sheets)
        accepted = s.exec(select(func.count()).select_from(FindingRow)
                          .where(FindingRow.status == "risk-accepted")).one()
        assert accepted == sum(r.status == "risk-accepted" for r in h.reviews) > 0
        assert {r.sensor for r in s.exec(select(SensorStatus))} == set(big_hospital.SENSORS)
    engine.dispose()
