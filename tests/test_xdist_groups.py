"""`make test` runs on two workers with `--dist loadgroup`: tests marked `xdist_group` share one worker.

The browser tests rely on it (one Chromium and one 2,000-device hospital per run, not one per worker),
and the packaging tests (one wheel build). pytest 9.2 with pytest-xdist 3.8 silently stopped honouring
the marks; this test fails if the grouping is lost again.
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("browser")
def test_a_grouped_test_is_sent_to_its_group(request: pytest.FixtureRequest) -> None:
    if not hasattr(request.config, "workerinput"):
        pytest.skip("not on a pytest-xdist worker: nothing is grouped")
    assert request.config.option.loadgroup, "make test runs with --dist loadgroup"
    assert request.node.nodeid.endswith("@browser"), request.node.nodeid
