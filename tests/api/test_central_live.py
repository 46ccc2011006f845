"""A central that analyzes by itself: an ingested batch shows as devices and findings within 10 s with no
analyze call, a saved sheet is re-matched at once, a silent sensor is reported (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.conftest import Api, make_api
from tests.keys import TEST_KEY

DEMO = Path(__file__).resolve().parents[2] / "pcaps" / "demo"
V1 = "/api/v1"


@functools.cache  # a replay per capture and process: the batches are only ever serialised, never changed
def _demo_batch(name: str = "demo-core.pcap") -> list[dict[str, Any]]:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([DEMO / name], sink, sensor="test-sensor", key=TEST_KEY)
    return [o.model_dump(mode="json") for o in sink.observations]


def _within(seconds: float, probe: Callable[[], Any]) -> tuple[Any, float]:
    """The first truthy result of `probe` and how long it took; fails after `seconds`."""
    started = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - started
        assert time.monotonic() - started < seconds, f"nothing within {seconds} s"
        time.sleep(0.1)


def _devices(api: Api) -> list[dict[str, Any]]:
    return list(api.get(f"{V1}/devices", "viewer", params={"limit": 500}).json()["items"])


def test_an_ingested_batch_is_visible_within_ten_seconds_without_analyze(db_url: str) -> None:
    for api in make_api(db_url, site_file=DEMO / "site.yaml", analyze_interval=0.5):
        assert api.get(f"{V1}/status", "viewer").json()["sensors"] == []
        reply = api.post(f"{V1}/ingest", "sensor", json={"sensor": "test-sensor", "seq": 1, "schema_version": 1,
                                                          "observations": _demo_batch()})
        assert reply.status_code == 201
        devices, delay = _within(10, lambda: _devices(api))  # noqa: B023 - called within this iteration
        assert delay < 10 and any(d["hostname"] == "CT-SCANNER-01" for d in devices)
        findings, _ = _within(10, lambda: api.get(f"{V1}/findings",  # noqa: B023 - idem
                                                  "viewer").json()["items"])
        assert {"cross-zone-flow", "undeclared-device"} & {f["rule"] for f in findings}
        status = api.get(f"{V1}/status", "viewer").json()
        assert status["up_to_date"] and status["last_analysis"] is not None
        assert [(s["sensor"], s["last_seq"], s["batches"], s["silent"]) for s in status["sensors"]] == [
            ("test-sensor", 1, 1, False)]
        runs = api.get(f"{V1}/runs", "viewer").json()["items"]
        assert runs == []  # nobody called analyze: the background analysis did it


def test_a_saved_sheet_is_matched_at_once(sqlite_url: str) -> None:
    for api in make_api(sqlite_url):  # the central's background analysis on, as `medtap serve` runs it
        _saved_sheet_is_matched(api)


def _saved_sheet_is_matched(api: Api) -> None:
    api.post(f"{V1}/ingest", "sensor", json={"sensor": "test-sensor", "seq": 1, "schema_version": 1,
                                             "observations": _demo_batch()})
    devices, _ = _within(10, lambda: _devices(api))
    ct = next(d for d in devices if d["hostname"] == "CT-SCANNER-01")
    assert ct.get("sheet_id") is None
    sheet = {"id": "SH-CT", "software_name": "CT console", "mac": ct["mac"]}
    assert api.post(f"{V1}/sheets", "biomedical", json=sheet).status_code == 201
    matched, delay = _within(5, lambda: api.get(f"{V1}/devices/{ct['mac']}", "viewer").json()["device"].get("sheet_id"))
    assert matched == "SH-CT" and delay < 5
    # a later batch is folded into the central's in-memory facts: analyses do not read the store again
    before = len(_devices(api))
    api.post(f"{V1}/ingest", "sensor", json={"sensor": "test-sensor", "seq": 2, "schema_version": 1,
                                             "observations": _demo_batch("demo-clinical.pcap")})
    _within(10, lambda: api.get(f"{V1}/status", "viewer").json()["up_to_date"] and len(_devices(api)) > before)
    analyzer = api.app.state.analyzer  # type: ignore[attr-defined]
    assert analyzer.rebuilds == 1 and analyzer.analyses >= 3


def test_a_silent_sensor_is_reported(sqlite_url: str) -> None:
    for api in make_api(sqlite_url, sensor_silent_after=0.5, analyze_interval=0.2):
        api.post(f"{V1}/ingest", "sensor", json={"sensor": "test-sensor", "seq": 1, "schema_version": 1,
                                                 "observations": _demo_batch("demo-office.pcap")})
        assert api.get(f"{V1}/status", "viewer").json()["silent_sensors"] == []
        time.sleep(0.7)
        status = api.get(f"{V1}/status", "viewer").json()
        assert status["silent_sensors"] == ["test-sensor"] and status["sensors"][0]["silent"] is True
