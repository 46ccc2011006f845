"""Every rule fires on its positive fixture capture and stays silent on its negative one.

Each listed capture is replayed through the real collector pipeline, then analyzed with the rule
fixtures' site policy (pcaps/fixtures/site-rules.yaml).  Baseline rules get the baseline below
(the monitor and its conversation with the PACS); table-overflow replays with a small
conversation cap (a < 50 KB capture cannot reach the default 500 000).  post-intervention-change
gets the sheet of its device and the intervention the store would record (`_interventions`);
the alteration-channel rules get the sheets of pcaps/fixtures/gen_alteration.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analyzer.baseline import Baseline, pair
from analyzer.engine import analyze
from analyzer.rules import load_rules
from analyzer.sheets import Sheet
from analyzer.site import load_site
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
RULES = [r for r in load_rules(REPO / "rules") if r.match.subject != "sheet"]
BASELINE = Baseline(devices={"00:09:fb:20:00:50", "00:50:56:50:00:20", "00:00:0c:9f:f0:01"},
                    conversations={pair("10.10.120.50", "10.50.0.20")})
REPLAY_OPTIONS = {"table-overflow": {"max_conversations": 4}}
CASES = [(r.id, kind, path) for r in RULES for kind in ("positive", "negative")
         for path in getattr(r.tests, kind)]


def _capture(path: Path) -> Path:
    if not path.exists():
        from scapy.utils import wrpcap

        from pcaps.fixtures.gen_rules import CAPTURES

        wrpcap(str(path), CAPTURES[path.stem]())
    return path


def _interventions(observations: list[Any], site: Any) -> tuple[Any, list[Sheet]]:
    """post-intervention-change: the CT of pcaps/fixtures/gen_diff.py, its sheet (HL7 engine interface, PACS
    server) and an intervention between the two days (what the store hands the analysis)."""
    from analyzer.engine import digest_observations
    from analyzer.interventions import InterventionRef
    from analyzer.sheets import Interface, Server
    from pcaps.fixtures.gen_diff import CT, HL7_ENGINE, INTERVENTION_AT, PACS

    digest = digest_observations(observations, site=site, rules=load_rules(REPO / "rules"))
    digest.interventions = (InterventionRef(id=1, mac=CT[0], kind="update", at=INTERVENTION_AT,
                                            window=3600.0),)
    sheet = Sheet(id="SH-CT", software_name="CT console", mac=CT[0],
                  interfaces=[Interface(peer=HL7_ENGINE[1], protocol="hl7")],
                  servers=[Server(name=PACS[1], role="pacs")])
    return digest, [sheet]


def _findings(rule_id: str, path: Path) -> list[str]:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([_capture(path)], sink, key=TEST_KEY, **REPLAY_OPTIONS.get(rule_id, {}))
    baseline = BASELINE if rule_id.startswith("new-") else None
    site = load_site(REPO / "pcaps/fixtures/site-rules.yaml")
    records: Any = sink.observations
    sheets: list[Sheet] = []
    if rule_id == "post-intervention-change":
        records, sheets = _interventions(sink.observations, site)
    elif rule_id in ("config-write", "hl7-unexpected-sender"):
        from pcaps.fixtures.gen_alteration import SHEETS

        sheets = [Sheet.model_validate(s) for s in SHEETS]
    report = analyze(records, site=site, sheets=sheets, rules_dir=REPO / "rules", baseline=baseline)
    return [f.rule for f in report.findings]


@pytest.mark.parametrize(("rule_id", "kind", "path"), CASES, ids=[f"{r}-{k}" for r, k, _ in CASES])
def test_rule_case(rule_id: str, kind: str, path: str) -> None:
    rules = _findings(rule_id, REPO / path)
    if kind == "positive":
        assert rule_id in rules, f"{path} should fire {rule_id}; fired {sorted(set(rules))}"
    else:
        assert rule_id not in rules, f"{path} must not fire {rule_id}"


def test_every_catalogue_rule_has_cases() -> None:
    ids = {r.id for r in RULES}
    with_cases = {r for r, kind, _ in CASES if kind == "positive"} & {r for r, kind, _ in CASES if kind == "negative"}
    assert ids == with_cases
