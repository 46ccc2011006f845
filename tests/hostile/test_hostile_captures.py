"""Hostile captures: medtap never crashes, keeps what it decoded before the damage,
reports the damage in stats and on the terminal, and exits with the documented status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.hostile.corpus import Expect, build, cases


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expect]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, build(folder)


CASE_NAMES = sorted(cases())


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_capture(name: str, corpus: tuple[Path, dict[str, Expect]], tmp_path: Path) -> None:
    folder, cases = corpus
    expect = cases[name]
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["replay", str(folder / name), "--db", f"sqlite:///{tmp_path / 'm.db'}", "--report", str(report), "--quiet"],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == expect.exit_code, f"{name}: exit {result.exit_code}\n{result.output}"
    if expect.exit_code == 4:
        assert "error" in result.output.lower()
        return
    data = json.loads(report.read_text())
    stats = data["stats"]
    assert stats["packets"] >= expect.min_frames, stats
    if expect.max_frames is not None:
        assert stats["packets"] <= expect.max_frames, stats
    assert bool(stats["truncated"]) == expect.truncated or (expect.exit_code == 3 and stats["malformed"] > 0), stats
    if expect.exit_code == 3:
        # The damage is reported on the terminal too.
        assert "TRUNCATED" in result.output or "weird" in result.output.lower(), result.output


def test_kept_frames_before_damage_reach_the_inventory(corpus: tuple[Path, dict[str, Expect]], tmp_path: Path) -> None:
    folder, _ = corpus
    report = tmp_path / "r.json"
    CliRunner().invoke(
        app,
        ["replay", str(folder / "truncated-mid-record.pcap"), "--db", f"sqlite:///{tmp_path / 'm.db'}", "--report", str(report), "-q"],
    )
    macs = {d["mac"] for d in json.loads(report.read_text())["devices"]}
    assert {"00:00:5e:00:53:00", "00:00:5e:00:53:01", "00:00:5e:00:53:02"} <= macs
