"""Fuzzing of the frame decoder / per-frame pipeline path and of every registered detector.

Coverage-guided with atheris (libFuzzer) when it is installed: the targets in
fuzz_targets.py run in a subprocess (libFuzzer exits the process), seeded with
frames of the demo captures; a crash fails the test and names the artifact to
add under tests/hardening/regressions/.  Hypothesis runs the same targets in
process too (random bytes and mutated demo frames).  The suite does a short
run; env MEDTAP_FUZZ_EXAMPLES raises it (`make fuzz` sets 20000).
Every file in regressions/ is replayed: `frame__any__<what>.bin` through the frame target,
`detector__<detector name>__<what>.bin` through that detector (its first byte is replaced by
the detector's current index, so adding detectors does not retarget old fixtures).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.hardening.fuzz_targets import TARGETS, Target, seed_corpus, seed_detector_corpus

ROOT = Path(__file__).resolve().parents[2]
DEMO = sorted((ROOT / "pcaps" / "demo").glob("*.pcap"))
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
EXAMPLES = int(os.environ.get("MEDTAP_FUZZ_EXAMPLES", "200"))
HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None


@pytest.fixture(scope="module")
def target() -> Target:
    return Target()


@pytest.mark.skipif(not HAVE_ATHERIS, reason="atheris not installed: the hypothesis tests below cover the targets")
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_atheris(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = (seed_corpus if name == "frame" else seed_detector_corpus)(corpus, DEMO)
    assert seeds > 50, "the demo captures give the fuzzer its seeds"
    runs = max(EXAMPLES * 5, 1000)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.hardening.fuzz_targets", name, f"-runs={runs}", f"-max_total_time={max(5, runs // 400)}",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(corpus)],
        cwd=ROOT, capture_output=True, text=True, timeout=max(120, runs // 100))
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "oom-", "timeout-", "leak-")))
    assert proc.returncode == 0 and not crashes, (
        f"{name}: atheris found {crashes}; copy them to tests/hardening/regressions/{name}-<what>.bin\n"
        + proc.stderr[-3000:])
    assert "Done" in proc.stderr and "cov:" in proc.stderr


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1600))
def test_fuzz_frame_random(target: Target, data: bytes) -> None:
    target.frame(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(selector=st.integers(0, 255), flags=st.integers(0, 255), payload=st.binary(max_size=1500))
def test_fuzz_every_detector_random(target: Target, selector: int, flags: int, payload: bytes) -> None:
    target.detector(bytes([selector, flags]) + payload)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_detectors_on_mutated_demo_payloads(target: Target, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    seeds = _demo_detector_seeds(tmp_path_factory)
    seed = bytearray(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(0, 8))):
        if len(seed) <= 2:
            break
        pos = data.draw(st.integers(2, len(seed) - 1))
        op = data.draw(st.integers(0, 2))
        if op == 0:
            seed[pos] = data.draw(st.integers(0, 255))
        elif op == 1:
            del seed[pos:pos + data.draw(st.integers(1, 64))]
        else:
            seed[pos:pos] = data.draw(st.binary(min_size=1, max_size=32))
    target.detector(bytes(seed))


_SEEDS: list[bytes] = []


def _demo_detector_seeds(factory: pytest.TempPathFactory) -> list[bytes]:
    if not _SEEDS:
        folder = factory.mktemp("dseeds")
        seed_detector_corpus(folder, DEMO)
        _SEEDS.extend(p.read_bytes() for p in sorted(folder.iterdir()))
    return _SEEDS


def test_every_detector_is_reachable_by_the_detector_target(target: Target) -> None:
    names = {target.detectors[i % len(target.detectors)].name for i in range(256)}
    assert names == {d.name for d in target.detectors}


def test_fuzz_regressions_replay(target: Target) -> None:
    files = sorted(REGRESSIONS.glob("*.bin"))
    assert files, "regressions/ holds the inputs that once crashed (and the seed examples)"
    by_name = {d.name: i for i, d in enumerate(target.detectors)}
    for path in files:
        kind, det, _what = path.stem.split("__")
        data = path.read_bytes()
        if kind == "detector":
            assert det in by_name, f"{path.name}: no detector {det!r}"
            data = bytes([by_name[det]]) + data[1:]
        else:
            assert kind == "frame" and det == "any", path.name
        TARGETS[kind](target)(data)
