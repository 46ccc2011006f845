"""The dashboard (issue 19 item 5): each count equals the list it links to; open findings per day."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api import big_hospital
from tests.api.test_ui_pages import login

SIZE = 300
LINK = re.compile(r'<a href="([^"]+)" data-count="(\d+)">')
TABLES = {"/findings": "findings-table", "/devices": "devices-table", "/sheets": "sheets-table"}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient]]:
    seeded = big_hospital.big_app(tmp_path_factory.mktemp("dash") / "big.db", size=SIZE)
    with TestClient(seeded.app) as client:
        login(client, seeded.tokens["viewer"])
        yield seeded, client


def rows_behind(client: TestClient, href: str) -> int:
    """How many rows the list at `href` shows, over all its pages."""
    table = TABLES[href.split("?")[0]]
    total, offset = 0, 0
    while True:
        sep = "&" if "?" in href else "?"
        page = client.get(f"{href}{sep}offset={offset}").text
        body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
        rows = len(re.findall(r"<tr[ >]", body)) - len(re.findall(r'<td colspan="\d+">', body))
        total += rows
        if rows == 0:  # whatever the page size of the list: read pages until one is empty
            return total
        offset += rows


def test_each_count_equals_the_length_of_its_list(big: tuple[Any, TestClient]) -> None:
    _, client = big
    page = client.get("/").text
    links = [(html.unescape(href), int(n)) for href, n in LINK.findall(page)]
    hrefs = {h for h, _ in links}
    assert {"/devices", "/findings?status=open", "/devices?dm=1&sheet=none", "/sheets?review=due"} <= hrefs
    assert any(h.startswith("/findings?severity=") for h in hrefs) and any("service=" in h for h in hrefs)
    assert any(h.startswith("/devices?role=") for h in hrefs)
    for href, count in links:
        assert rows_behind(client, href) == count, href
    assert all(n > 0 for h, n in links if h in ("/devices?dm=1&sheet=none", "/sheets?review=due"))


def test_follow_up_counts_are_the_hospitals(big: tuple[Any, TestClient]) -> None:
    _, client = big
    h = big_hospital.plan(SIZE)
    page = client.get("/").text
    counts = {html.unescape(href): int(n) for href, n in LINK.findall(page)}
    assert counts["/devices?dm=1&sheet=none"] == sum(d.is_dm and not d.sheet_id for d in h.devices)
    today = dt.date.today()
    assert counts["/sheets?review=due"] == sum((today - s.last_review).days > 365 for s in h.sheets
                                              if s.last_review)


def test_trend_has_a_point_per_day_with_an_analysis(big: tuple[Any, TestClient]) -> None:
    seeded, client = big
    from store.dashboard import open_counts, trend

    with Session(seeded.app.state.engine) as s:
        series = trend(s)
        now = open_counts(s)
    today = dt.date.today()
    assert series["days"] == [(today - dt.timedelta(days=7)).isoformat(), today.isoformat()]
    for dimension in ("severity", "service"):
        assert {k: v[-1] for k, v in series[dimension].items() if v[-1]} == now[dimension]
    # the reviews of the generated hospital took findings out of "open" between the two days
    assert sum(v[0] for v in series["severity"].values()) > sum(v[1] for v in series["severity"].values())
    page = client.get("/").text
    data = json.loads(html.unescape(page.split('id="trend-data">', 1)[1].split("</script>", 1)[0]))
    assert data["trend"] == series
    assert "uPlot-1.6.32.min.js" in page and 'id="trend-table"' in page


def test_an_analysis_stores_the_days_snapshot(tmp_path: Path) -> None:
    from analyzer.models import Finding
    from store import records, service
    from store.dashboard import snapshot_counts, trend
    from store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    service.init_db(engine)
    with Session(engine) as s:
        service.reanalyze(s)  # an empty store: today's point is all zeros, but it is there
        today = dt.date.today()
        assert trend(s)["days"] == [today.isoformat()]
        assert set(trend(s)["severity"]) == {"info", "low", "medium", "high", "critical"}
        found = [Finding(id=f"MT-{i}", rule="flat-network", severity=sev, title="t", service="biomedical")
                 for i, sev in enumerate(("high", "high", "low"))]
        records.save_findings(s, found, today=today)
        snapshot_counts(s, today=today)  # the same day again: replaced, not added
        s.commit()
        series = trend(s)
        assert series["days"] == [today.isoformat()]
        assert series["severity"]["high"] == [2] and series["severity"]["low"] == [1]
        assert series["service"]["biomedical"] == [3]
        service.set_finding_status(s, "MT-0", status="resolved", actor="t")
        snapshot_counts(s, today=today + dt.timedelta(days=1))
        s.commit()
        assert trend(s, today=today + dt.timedelta(days=1))["severity"]["high"] == [2, 1]
    engine.dispose()
