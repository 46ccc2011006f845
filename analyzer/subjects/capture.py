"""Subject `capture`: one row for the whole run, summing CaptureStats records (table caps, drops)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.digest import digest_of
from analyzer.models import Evidence

SUBJECT = "capture"
FIELDS: dict[str, str] = {
    "packets": "frames read", "malformed": "malformed frames", "overflow_tables": "tables that hit their cap",
    "overflow_total": "entries refused at a cap", "kernel_drops": "kernel drops",
    "queue_drops": "queue drops",
    "truncated": "a capture file was truncated",
}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    stats = digest_of(ctx).stats_records()
    if not stats:
        return
    overflow: dict[str, int] = {}
    for s in stats:
        for name, n in s.table_overflow.items():
            overflow[name] = overflow.get(name, 0) + n
    tables = sorted(n for n, c in overflow.items() if c > 0)
    yield {
        "packets": sum(s.packets for s in stats), "malformed": sum(s.malformed for s in stats),
        "overflow_tables": tables, "overflow_total": sum(overflow.values()),
        "kernel_drops": sum(s.kernel_drops or 0 for s in stats),
        "queue_drops": sum(s.queue_drops for s in stats),
        "truncated": any(s.truncated for s in stats),
        "_key": "capture:" + ",".join(tables), "_devices": [], "_ips": [],
        "_evidence": [Evidence(text=f"table {n}: {overflow[n]} entries refused at its cap") for n in tables],
        "_zone": None,
        "_first_seen": min((s.first_ts for s in stats if s.first_ts is not None), default=None),
        "_last_seen": max((s.last_ts for s in stats if s.last_ts is not None), default=None),
    }
