"""Crash safety: `medtap replay` killed with SIGKILL mid-replay leaves a sound SQLite database.

A capture long enough to take several seconds (many flush periods, each one
committed as a batch) is replayed by `python -m api.cli replay` in a subprocess;
once the database holds committed observations the process gets SIGKILL.  Then:
the database opens, PRAGMA integrity_check says ok, it holds whole batches only
(each flush period is one transaction of DISTINCT host + DISTINCT conversation
records), and a re-run of the same replay exits 0 and writes a complete report.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from collector.factblob import decode
from tests.hardening.test_table_caps import write_flood

DISTINCT = 300  # sources; each 10 s flush period emits DISTINCT hosts + DISTINCT conversations in one batch
FRAMES = 30_000  # 1,500 frames a period: the replay is still mid-way when its first batch is seen
SPAN = 200.0  # seconds of capture time: 20 flush periods
ROOT = Path(__file__).resolve().parents[2]


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT coalesce(sum(count), 0) FROM fact").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # schema not created yet, or busy
        return 0


def _replay(pcap: Path, db: Path, report: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "replay", str(pcap), "--db", f"sqlite:///{db}", "--report",
                             str(report), "-q"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MEDTAP_SECRET_KEY": "crash-test"})


def test_sigkill_mid_replay_keeps_committed_batches_and_a_rerun_completes(tmp_path: Path) -> None:
    pcap = write_flood(tmp_path / "long.pcap", FRAMES, span=SPAN, distinct=DISTINCT)
    db = tmp_path / "x.db"
    report = tmp_path / "report.json"
    proc = _replay(pcap, db, report)
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _count(db)
        if seen > 0:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the replay ended before any batch was seen: make the capture longer"
    assert seen > 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert not report.exists()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT blob, kind, sensor, count, first_ts, last_ts FROM fact ORDER BY id").fetchall()
    conn.close()
    facts = [decode(blob, kind=kind, sensor=sensor, count=count, first_ts=first, last_ts=last)
             for blob, kind, sensor, count, first, last in rows]
    kept = sum(o.count for o in facts)
    assert kept >= seen > 0
    assert kept < FRAMES  # it was killed mid-way, not after the end
    periods: dict[str, set[int]] = {}
    kinds: dict[str, int] = {}
    for o in facts:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
        periods.setdefault(o.kind, set()).add(o.count)
    # whole batches only: every flush period stores all its hosts and all its conversations, or none, so
    # each host and conversation fact stands for the same number of periods
    assert kinds.get("host", 0) == DISTINCT and len(periods["host"]) == 1, (kinds, periods)
    assert kinds.get("conversation", 0) == DISTINCT and periods["conversation"] == periods["host"], (kinds, periods)
    assert "stats" not in kinds  # the run's stats come at the end, which never happened

    again = _replay(pcap, db, report)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err.decode()[-2000:]
    data = json.loads(report.read_text())
    assert data["schema"] == 1
    assert data["stats"]["packets"] == FRAMES
    macs = {d["mac"] for d in data["devices"]}
    assert len({m for m in macs if m.startswith("02:")}) == DISTINCT
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    total = conn.execute("SELECT sum(count) FROM fact").fetchone()[0]
    conn.close()
    assert total > kept
    # Nothing stored twice: the re-run acknowledged the batches the killed run had committed, so the
    # database holds exactly what one uninterrupted replay stores.
    # the same `medtap replay` command in this process (typer's CliRunner): the crash is the subprocesses' part
    from typer.testing import CliRunner

    from api.cli import app

    clean_db = tmp_path / "clean.db"
    clean = CliRunner().invoke(app, ["replay", str(pcap), "--db", f"sqlite:///{clean_db}", "--report",
                                     str(tmp_path / "clean.json"), "-q"],
                               env={"MEDTAP_SECRET_KEY": "crash-test"})
    assert clean.exit_code == 0, clean.output
    with sqlite3.connect(clean_db) as c2:
        assert c2.execute("SELECT sum(count) FROM fact").fetchone()[0] == total
