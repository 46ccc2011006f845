"""The dashboard's trend charts (uPlot, vendored) in headless Chromium on the generated hospital."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Tab

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one Chromium, one big hospital


def test_trend_charts_are_drawn_without_errors(big_tab: Tab) -> None:
    big_tab.sign_in("viewer", path="/")
    big_tab.page.wait_for_selector("#trends[data-state=ready]")
    for chart in ("#trend-severity", "#trend-service"):
        assert big_tab.page.locator(f"{chart} canvas").count() == 1
    legend = big_tab.page.locator("#trend-severity .u-legend").inner_text()
    assert "high" in legend and "critical" in legend
    # follow a count to its list: the list says the same number
    link = big_tab.page.locator("#follow-up a").first
    count = int(link.inner_text())
    link.click()
    big_tab.page.wait_for_url("**/devices?*")
    assert big_tab.page.locator("h1 .count").inner_text() == f"({count})"
    big_tab.finish("dashboard-trends")
