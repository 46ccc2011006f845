"""The gate of issue 20: every rule at least THRESHOLD precision and recall on every demo hospital.

pcaps/demo is the hospital the rules were tuned on, pcaps/demo2 and pcaps/demo3 two they were never
tuned on (tests/accuracy/hospitals.py scores them; `make accuracy` prints the same tables).  The tables
are written to tests/artifacts/accuracy-<hospital>.txt and printed at the end of the run.  A rule a
hospital lists in `known_misses` is held out of the gate and must still be below the threshold (the
day it is fixed, a test fails and asks for the entry to be removed).
"""

from __future__ import annotations

import pytest

from tests.accuracy.hospitals import HOSPITALS, THRESHOLD, Hospital, details, device_score, scores, table
from tests.conftest import REPO

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.mark.parametrize("hospital", HOSPITALS, ids=lambda h: h.name)
def test_every_rule_reaches_the_threshold(hospital: Hospital) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lines = table(hospital)
    (ARTIFACTS / f"accuracy-{hospital.name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    low = [f"{s.rule}: precision {s.precision:.3f}, recall {s.recall:.3f}" for s in scores(hospital)
           if min(s.precision, s.recall) < THRESHOLD and s.rule not in hospital.known_misses]
    assert not low, "\n".join(low + details(hospital))


@pytest.mark.parametrize("hospital", HOSPITALS, ids=lambda h: h.name)
def test_known_misses_are_still_misses(hospital: Hospital) -> None:
    """A rule a hospital holds out of the gate (`known_misses`) must still be below the threshold: the day it
    is fixed, this fails and asks for the entry to be removed (none is listed today: every rule passes)."""
    by_rule = {s.rule: s for s in scores(hospital)}
    fixed = [f"{rule}: now precision {by_rule[rule].precision:.3f}, recall {by_rule[rule].recall:.3f}; remove it "
             f"from {hospital.name}'s known_misses" for rule in hospital.known_misses
             if min(by_rule[rule].precision, by_rule[rule].recall) >= THRESHOLD]
    assert not fixed, "\n".join(fixed)


@pytest.mark.parametrize("hospital", HOSPITALS, ids=lambda h: h.name)
def test_every_device_of_the_scenario_is_found(hospital: Hospital) -> None:
    d = device_score(hospital)
    assert d.missing == [] and d.extra == []


@pytest.mark.parametrize("hospital", HOSPITALS, ids=lambda h: h.name)
def test_normal_traffic_raises_nothing(hospital: Hospital) -> None:
    from tests.accuracy.hospitals import run

    normal = set(hospital.expected["normal"])
    assert not sorted({(f["rule"], f["subject"]) for f in run(hospital, "plain")["findings"]
                       if f["subject"] in normal})


def test_the_gate_can_fail() -> None:
    """A report missing one expected finding and carrying one unexpected one is scored as such."""
    from tests.accuracy.hospitals import run

    demo2 = HOSPITALS[1]
    report = run(demo2, "plain")
    expected = demo2.expected["rules"]["rogue-dhcp"]["subjects"]
    doctored = {**report, "findings": [f for f in report["findings"] if f["subject"] not in expected]
                + [{"rule": "rogue-dhcp", "subject": "172.20.10.5"}]}
    [s] = [s for s in scores(demo2, lambda h, name: doctored if name == "plain" else run(h, name))
           if s.rule == "rogue-dhcp"]
    assert (s.tp, s.fp, s.fn, s.precision, s.recall) == (0, 1, 1, 0.0, 0.0)
