"""The map's JSON at scale (store.mapview through /api/v1/map and /map/data) on the generated hospital."""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from analyzer.models import CLOSED_STATUSES, SEVERITY_ORDER
from tests.api import big_hospital
from tests.api.test_ui_pages import login

SIZE = 400


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient, big_hospital.Hospital]]:
    seeded = big_hospital.big_app(tmp_path_factory.mktemp("map") / "big.db", size=SIZE)
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["viewer"])
        yield seeded, client, big_hospital.plan(SIZE)


def expected_group(zone: str | None, vlans: list[int], ips: list[str]) -> str:
    if zone:
        return f"zone:{zone}"
    if [v for v in vlans if v]:
        return f"vlan:{vlans[0]}"
    return f"subnet:{ipaddress.ip_network(ips[0] + '/24', strict=False)}"


def _findings(seeded: Any, rule: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(status, severity, devices) of every active finding (of `rule`), read from the table."""
    from store.models import FindingRow

    with Session(seeded.app.state.engine) as s:
        rows = s.exec(select(FindingRow).where(FindingRow.active == True)).all()  # noqa: E712
        return [(r.status, r.severity, json.loads(r.data)["devices"]) for r in rows if rule in (None, r.rule)]


def test_groups_by_zone_then_vlan_then_subnet(big: Any) -> None:
    _, client, h = big
    body = client.get("/map/data/groups").json()
    want = Counter(expected_group(d.zone, d.vlans, d.ips) for d in h.devices)
    assert {g["key"]: g["devices"] for g in body["groups"]} == dict(want)
    kinds = [g["kind"] for g in body["groups"]]
    assert kinds == sorted(kinds, key=["zone", "vlan", "subnet"].index)  # zones first, then VLANs, subnets
    assert {"zone", "vlan", "subnet"} <= set(kinds)
    assert body["devices"] == body["matched"] == SIZE
    assert all(g["title"] for g in body["groups"])


def test_colour_is_the_worst_open_finding_and_accepted_is_counted(big: Any) -> None:
    seeded, client, h = big
    worst: dict[str, int] = {}
    accepted: Counter[str] = Counter()
    for status, severity, macs in _findings(seeded):
        for mac in macs:
            if status == "risk-accepted":
                accepted[mac] += 1
            elif status not in CLOSED_STATUSES:
                worst[mac] = max(worst.get(mac, -1), SEVERITY_ORDER[severity])
    assert accepted, "the generated hospital has risk-accepted findings"
    seen_accepted_only = False
    for key in {expected_group(d.zone, d.vlans, d.ips) for d in h.devices}:
        page = client.get("/map/data/devices", params={"group": key, "limit": 2000}).json()
        assert page["total"] == len(page["items"])
        for node in page["items"]:
            want = worst.get(node["mac"], -1)
            name = next((s for s, r in SEVERITY_ORDER.items() if r == want), None)
            assert node["worst"] == name
            assert node["accepted"] == accepted[node["mac"]]
            seen_accepted_only |= node["worst"] is None and node["accepted"] > 0
    assert seen_accepted_only, "a device whose only finding is risk-accepted is shown as accepted, not red"


def test_devices_come_in_pages(big: Any) -> None:
    _, client, _ = big
    first = client.get("/map/data/devices", params={"group": "zone:office", "limit": 30}).json()
    params = {"group": "zone:office", "limit": 30, "offset": 30}
    second = client.get("/map/data/devices", params=params).json()
    assert len(first["items"]) == len(second["items"]) == 30 and first["total"] > 60
    assert not {n["mac"] for n in first["items"]} & {n["mac"] for n in second["items"]}


def test_search_and_filters(big: Any) -> None:
    seeded, client, h = big
    target = h.devices[123]
    for q in (target.hostname, target.mac, target.mac.replace(":", ""), target.ips[0]):
        body = client.get("/map/data/groups", params={"q": q}).json()
        assert body["matched"] == 1, q
        assert body["groups"][0]["key"] == expected_group(target.zone, target.vlans, target.ips)
    vendor = "Mindray"
    body = client.get("/map/data/groups", params={"vendor": vendor}).json()
    assert body["matched"] == sum(d.vendor == vendor for d in h.devices) > 0
    body = client.get("/map/data/groups", params={"q": vendor.lower()}).json()
    assert body["matched"] == sum(d.vendor == vendor for d in h.devices)
    body = client.get("/map/data/groups", params={"role": "infusion-pump"}).json()
    assert body["matched"] == sum(d.role == "infusion-pump" for d in h.devices) > 0
    with_rule = {m for status, _, macs in _findings(seeded, "obsolete-os") if status not in CLOSED_STATUSES
                 for m in macs}
    body = client.get("/map/data/groups", params={"rule": "obsolete-os"}).json()
    assert body["matched"] == len(with_rule) > 0
    # the finding's title is searchable too
    body = client.get("/map/data/groups", params={"q": "past end of support"}).json()
    assert body["matched"] == len(with_rule)
    assert client.get("/map/data/groups", params={"q": "no-such-device-xyz"}).json()["groups"] == []


def test_conversations_on_demand(big: Any) -> None:
    _, client, h = big
    crossing = next(f for f in h.findings if f.rule == "cross-zone-flow")
    client_mac = crossing.devices[0]
    edges = client.get("/map/data/edges", params={"mac": client_mac}).json()["edges"]
    mine = [c for c in h.conversations if c.client_mac == client_mac or c.server_mac == client_mac]
    assert sum(e["conversations"] for e in edges) == len(mine)
    bad = [e for e in edges if e["b"] == crossing.devices[1]]
    assert bad and bad[0]["finding"] == crossing.id and bad[0]["bad"] == 1
    group = client.get("/map/data/edges", params={"group": "zone:office"}).json()["edges"]
    office = {d.ips[0] for d in h.devices if d.zone == "office"}
    assert sum(e["conversations"] for e in group) == sum(c.client_ip in office or c.server_ip in office
                                                         for c in h.conversations)
    assert any(e["b"] == "zone:monitoring" and e["bad"] > 0 for e in group)
    assert client.get("/map/data/edges").status_code == 422


def test_api_answers_the_same_with_a_token(big: Any) -> None:
    seeded, client, _ = big
    api = TestClient(seeded.app)
    assert api.get("/api/v1/map/groups").status_code == 401
    auth = {"Authorization": f"Bearer {seeded.tokens['viewer']}"}
    via_api = api.get("/api/v1/map/groups", params={"role": "pacs"}, headers=auth).json()
    via_ui = client.get("/map/data/groups", params={"role": "pacs"}).json()
    assert via_api["groups"] == [{k: v for k, v in g.items() if k != "title"} for g in via_ui["groups"]]
    page = api.get("/api/v1/map/devices", params={"group": "zone:servers"}, headers=auth).json()
    assert page["total"] == sum(d.zone == "servers" for d in big[2].devices)
    assert api.get("/api/v1/map/edges", params={"group": "zone:servers"}, headers=auth).status_code == 200


def test_responses_are_gzipped_and_the_page_is_small(big: Any) -> None:
    _, client, h = big
    for path in ("/map/data/devices?group=zone:office&limit=2000", "/static/cytoscape-3.35.0.min.js", "/map"):
        resp = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.headers.get("content-encoding") == "gzip", path
        assert resp.num_bytes_downloaded < len(resp.content) / 2, path
    page = client.get("/map").text
    assert "cytoscape-3.35.0.min.js" in page and 'id="map-groups"' in page
    assert sum(d.mac in page for d in h.devices) == 0  # devices come as JSON pages, not in the page
    assert len(gzip.compress(page.encode())) < 10_000


def test_no_script_svg_draws_one_group_at_a_time(big: Any) -> None:
    _, client, h = big
    page = client.get("/map/svg").text
    assert 'id="netmap"' not in page and "/map/svg?group=vlan%3A210" in page
    group = client.get("/map/svg", params={"group": "vlan:210"}).text
    inside = [d for d in h.devices if d.vlans == [210] and d.zone is None]
    assert inside and all(f'data-key="{d.mac}"' in group for d in inside)
    assert 'data-key="' + next(d.mac for d in h.devices if d.zone == "wifi") + '"' not in group


def test_vendored_libraries_carry_their_licence() -> None:
    static = Path(__file__).resolve().parents[2] / "api" / "web" / "static"
    assert "Cytoscape Consortium" in (static / "cytoscape-LICENSE.txt").read_text()
    assert "MIT" in (static / "uPlot-LICENSE.txt").read_text()
