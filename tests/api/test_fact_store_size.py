"""The facts store stays small (issue 14: at most 20 bytes of store a frame on a realistic mix, measured
on the 1M-frame bench).  Here a 20,000-frame hospital mix, where facts are far less aggregated than on a
long capture, must keep its fact table and indexes within bounds that the JSON store exceeded 2.5 times
(0008: 1.89 MB and 370 bytes a fact on this mix; 0009: 0.74 MB and 123 bytes)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from store.loop import ReplayOptions, run_replay

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 20_000


def test_the_fact_store_of_a_small_hospital_mix_stays_within_bounds(tmp_path: Path) -> None:
    pcap = tmp_path / "mix.pcap"
    subprocess.run([sys.executable, str(ROOT / "pcaps" / "make_bench_mix.py"), str(pcap),
                    "--frames", str(FRAMES)],
                   check=True, capture_output=True)
    db = tmp_path / "store.db"
    run_replay(ReplayOptions(paths=[pcap], db_url=f"sqlite:///{db}", workers=1))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'fact')").fetchone()[0]
        facts, blobs, observations = conn.execute(
            "SELECT count(*), sum(length(blob)), sum(count) FROM fact").fetchone()
    assert facts > 2000 and observations > facts  # the mix stated enough facts, some of them many times
    assert blobs / facts <= 150, blobs / facts
    assert pages / FRAMES <= 45, pages / FRAMES  # fact table and its indexes, bytes a frame (0008: 94)
