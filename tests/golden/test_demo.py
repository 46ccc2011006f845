"""The demo hospital end to end: golden report, and precision/recall against pcaps/demo/expected.yaml.

The plain run is what `make run` does (all demo captures, the demo site policy, the French CSV
sheets).  Two special runs produce the rules that need history or pressure: a baseline run
(new-device, new-conversation) and a run with a tiny conversation table (table-overflow).
The golden file compares inventory and findings (packet times are deterministic; nothing of the
run's wall clock is in a report); regenerate it with `pytest --update-golden`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, SCORES, save_scores
from tests.keys import TEST_KEY

DEMO = REPO / "pcaps" / "demo"
GOLDEN = REPO / "tests" / "golden" / "demo" / "report.json"
EXPECTED = yaml.safe_load((DEMO / "expected.yaml").read_text(encoding="utf-8"))
CAPTURES = [DEMO / f"{name}.pcap" for name in EXPECTED["captures"]]


def _replay(db: Path, *, baseline: Path | None = None, paths: list[Path] = CAPTURES, sheets: bool = True) -> dict[str, Any]:
    from analyzer.site import load_site
    from store.jobs import report_json
    from store.loop import ReplayOptions, run_replay

    result = run_replay(ReplayOptions(
        paths=paths,
        db_url=f"sqlite:///{db}",
        site=load_site(DEMO / "site.yaml"),
        sheets=DEMO / "sheets.csv" if sheets else None,
        baseline_path=baseline,
    ))
    return report_json(result.report)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _replay(tmp_path_factory.mktemp("plain") / "demo.db")


@pytest.fixture(scope="module")
def with_baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from store.jobs import save_baseline

    folder = tmp_path_factory.mktemp("baseline")
    _replay(folder / "base.db", paths=[DEMO / "demo-core.pcap"], sheets=False)
    save_baseline(f"sqlite:///{folder / 'base.db'}", folder / "base.json")
    return _replay(folder / "demo.db", baseline=folder / "base.json")


@pytest.fixture(scope="module")
def overflow() -> dict[str, Any]:
    from analyzer.engine import analyze
    from analyzer.site import load_site
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    stats = replay([DEMO / "demo-core.pcap"], sink, key=TEST_KEY, max_conversations=5)
    report = analyze([*sink.observations, stats], site=load_site(DEMO / "site.yaml"))
    return json.loads(report.model_dump_json(by_alias=True))


def _canonical(report: dict[str, Any]) -> dict[str, Any]:
    devices = [{k: v for k, v in d.items() if k != "facts"} for d in report["devices"]]
    return {"schema": report["schema"], "stats": report["stats"], "devices": devices, "findings": report["findings"]}


def test_demo_report_matches_golden(plain: dict[str, Any], update_golden: bool) -> None:
    got = _canonical(plain)
    if update_golden or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if not update_golden:
            pytest.fail(f"{GOLDEN} was missing: written, review and commit it")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got["devices"] == want["devices"]
    assert got["findings"] == want["findings"]
    assert got["stats"]["packets"] == want["stats"]["packets"]


def _score(report: dict[str, Any], rule: str, expected: set[str]) -> tuple[int, int, int]:
    seen = {f["subject"] for f in report["findings"] if f["rule"] == rule}
    return len(seen & expected), len(seen - expected), len(expected - seen)


def _runs(plain: dict[str, Any], with_baseline: dict[str, Any], overflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"plain": plain, "baseline": with_baseline, "overflow": overflow}


def test_every_rule_of_the_catalogue_fires_where_expected(
    plain: dict[str, Any], with_baseline: dict[str, Any], overflow: dict[str, Any]
) -> None:
    runs = _runs(plain, with_baseline, overflow)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    problems: list[str] = []
    SCORES.clear()
    SCORES.append(f"  {'rule':28s} {'run':9s} {'TP':>3s} {'FP':>3s} {'FN':>3s} {'precision':>9s} {'recall':>7s}")
    for rule, spec in sorted(EXPECTED["rules"].items()):
        run = spec.get("run", "plain")
        tp, fp, fn = _score(runs[run], rule, set(spec["subjects"]))
        for i, v in enumerate((tp, fp, fn)):
            totals[run][i] += v
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        SCORES.append(f"  {rule:28s} {run:9s} {tp:3d} {fp:3d} {fn:3d} {precision:9.3f} {recall:7.3f}")
        if fn:
            problems.append(f"{rule}: missed {sorted(set(spec['subjects']) - {f['subject'] for f in runs[run]['findings'] if f['rule'] == rule})}")
        if fp:
            problems.append(f"{rule}: unexpected {sorted({f['subject'] for f in runs[run]['findings'] if f['rule'] == rule} - set(spec['subjects']))}")
    for run, (tp, fp, fn) in sorted(totals.items()):
        SCORES.append(f"  {'ALL':28s} {run:9s} {tp:3d} {fp:3d} {fn:3d} {tp / max(tp + fp, 1):9.3f} {tp / max(tp + fn, 1):7.3f}")
    save_scores()
    assert not problems, "\n".join(problems)


def test_normal_traffic_raises_nothing(plain: dict[str, Any]) -> None:
    normal = set(EXPECTED["normal"])
    noisy = sorted({(f["rule"], f["subject"]) for f in plain["findings"] if f["subject"] in normal})
    assert not noisy


def test_exceptions_suppress_only_while_valid(plain: dict[str, Any]) -> None:
    fired = {(f["rule"], f["subject"]) for f in plain["findings"]}
    for item in EXPECTED["suppressed"]:
        assert (item["rule"], item["subject"]) not in fired
    # The expired exception (lab analyzer to the Internet) fires again.
    assert ("dm-internet", "10.10.130.51-198.51.100.20") in fired


def test_patient_data_of_the_demo_is_nowhere(plain: dict[str, Any]) -> None:
    blob = json.dumps(plain)
    for secret in ("DOE^JOHN", "DOE^JANE", "PAT-123456", "supplier.tech"):
        assert secret not in blob


def test_the_report_file_is_the_reports_json_written_list_item_by_list_item(plain: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    # store.jobs.write_report streams the long lists (a hospital's report runs to tens of MB): same bytes
    from analyzer.models import Report
    from store.jobs import write_report

    full = Report.model_validate(plain)
    assert full.devices and full.findings
    for report in (full, full.model_copy(update={"findings": []}), Report()):
        write_report(report, tmp_path / "r.json")
        want = report.model_dump_json(by_alias=True, indent=2) + "\n"
        assert (tmp_path / "r.json").read_bytes() == want.encode()
