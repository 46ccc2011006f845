"""The interactive map in headless Chromium on the generated 2,000-device hospital (tests.api.big_hospital).

Bytes are the budget (what crosses the network, gzip included); the load time is only written to
tests/artifacts/map-load.json and bounded loosely (speed is measured in the README, not asserted here).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.api.big_hospital import plan
from tests.browser.conftest import ARTIFACTS, Tab

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one Chromium, one big hospital

BYTES_BUDGET = 350_000  # HTML + CSS + Cytoscape.js + the map script + the groups JSON, compressed


def _ready(tab: Tab) -> None:
    tab.page.wait_for_selector("#cy[data-state=ready]")


def _js(tab: Tab, expression: str) -> Any:
    return tab.page.evaluate(f"() => {{ const cy = window.medtapMap.cy; return {expression}; }}")


def _click_node(tab: Tab, node_id: str) -> None:
    """Click where the node is drawn on the canvas, as a person would."""
    x, y = _js(tab, f"(p => [p.x, p.y])(cy.getElementById({json.dumps(node_id)}).renderedPosition())")
    box = tab.page.locator("#cy").bounding_box()
    tab.page.mouse.click(box["x"] + x, box["y"] + y)


def test_map_loads_within_its_byte_budget_grouped(big_tab: Tab) -> None:
    big_tab.sign_in("viewer", path="/devices")
    sizes: list[tuple[str, int]] = []
    big_tab.page.on("requestfinished",
                    lambda req: sizes.append((req.url, req.sizes()["responseBodySize"]
                                              + req.sizes()["responseHeadersSize"])))
    start = time.monotonic()
    # the page is drawn (`ready`) as soon as the groups JSON is read, which may come before the browser reports
    # that request finished: wait for that report, so that its bytes are counted
    with big_tab.page.expect_request_finished(lambda req: "/map/data/groups" in req.url):
        big_tab.go("/map")
    _ready(big_tab)
    elapsed = time.monotonic() - start
    total = sum(n for _, n in sizes)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "map-load.json").write_text(json.dumps({"seconds": round(elapsed, 3), "bytes": total,
                                                         "requests": sizes}, indent=1))
    assert total < BYTES_BUDGET, sizes
    assert any("/map/data/groups" in url for url, _ in sizes)
    assert elapsed < 20  # loose: a stuck page, not a speed claim
    h = plan()
    clusters = _js(big_tab, "cy.nodes('.cluster').map(n => n.id())")
    assert len(clusters) == len({d.zone or (d.vlans and f"v{d.vlans[0]}") or d.ips[0].rsplit(".", 1)[0]
                                 for d in h.devices})
    assert {"g:zone:imaging", "g:vlan:210", "g:subnet:172.16.5.0/24"} <= set(clusters)
    assert _js(big_tab, "cy.nodes().length") == len(clusters)  # no device drawn before a group opens
    rows = big_tab.page.locator("#map-groups tbody tr")
    assert rows.count() == len(clusters)
    big_tab.finish("map-scale")


def test_a_cluster_opens_on_click(big_tab: Tab) -> None:
    big_tab.sign_in("viewer", path="/map")
    _ready(big_tab)
    _click_node(big_tab, "g:vlan:210")
    big_tab.page.wait_for_function("() => window.medtapMap.cy.getElementById('g:vlan:210').isParent()")
    _ready(big_tab)
    members = sum(1 for d in plan().devices if d.zone is None and d.vlans == [210])
    assert _js(big_tab, "cy.getElementById('g:vlan:210').children().length") == members
    assert big_tab.page.get_by_role("button", name="Close the group").is_visible()
    # a device of the open group, then its conversations, drawn on demand
    mac = _js(big_tab, "cy.getElementById('g:vlan:210').children()[0].id()")
    assert _js(big_tab, "cy.edges().length") == 0
    _click_node(big_tab, mac)
    big_tab.page.get_by_role("button", name="Show its conversations").click()
    big_tab.page.wait_for_selector("#map-edges, #map-panel p")
    _ready(big_tab)
    assert _js(big_tab, "cy.edges().length") >= 1
    big_tab.finish("map-cluster-open")


def test_search_finds_a_device_and_opens_its_group(big_tab: Tab) -> None:
    h = plan()
    target = next(d for d in h.devices if d.zone == "office")
    big_tab.sign_in("viewer", path="/map")
    big_tab.page.fill("#map-q", target.hostname or "")
    big_tab.page.click("#map-filter button[type=submit]")
    big_tab.page.wait_for_url("**/map?q=*")
    big_tab.page.wait_for_function(
        f"() => window.medtapMap.cy.getElementById({json.dumps(target.mac)}).nonempty()")
    _ready(big_tab)
    assert _js(big_tab, "cy.nodes('.cluster').map(n => n.id())") == ["g:zone:office"]
    assert _js(big_tab, f"cy.getElementById({json.dumps(target.mac)}).parent().id()") == "g:zone:office"
    assert "1 of 2000" in big_tab.page.locator("#map-count").inner_text()
    assert big_tab.page.locator("#map-groups tbody tr").count() == 1
    big_tab.finish("map-search")


def test_risk_accepted_is_shown_as_such(big_tab: Tab) -> None:
    from sqlmodel import select

    from store.models import FindingRow

    with big_tab.db() as db:
        rows = db.exec(select(FindingRow).where(FindingRow.active == True)).all()  # noqa: E712
        accepted = {json.loads(r.data)["devices"][0] for r in rows if r.status == "risk-accepted"}
        still_open = {m for r in rows if r.status in ("open", "acknowledged")
                      for m in json.loads(r.data)["devices"]}
    mac = sorted(accepted - still_open)[0]
    big_tab.sign_in("viewer", path="/map")
    big_tab.go(f"/map?q={mac}")
    big_tab.page.wait_for_function(f"() => window.medtapMap.cy.getElementById({json.dumps(mac)}).nonempty()")
    node = f"cy.getElementById({json.dumps(mac)})"
    assert _js(big_tab, f"{node}.hasClass('accepted')")
    assert _js(big_tab, f"{node}.data('item').worst") is None
    assert _js(big_tab, f"{node}.style('background-color')") != "rgb(208,2,27)"  # not the open-high red
    big_tab.finish("map-accepted")
