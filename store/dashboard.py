"""The dashboard's trends: open findings counted by severity and by service, one snapshot a day.

`snapshot_counts` is called by every analysis (store.service.reanalyze) and by the generated test
hospital; it overwrites the day's rows, so the day's last analysis is what the chart shows.  "Open" is the
status `open`, exactly what the findings list shows for status=open, so a point of the chart and the list
it stands for agree.  `trend` reads the last `days` days as aligned series for the chart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from sqlmodel import Session, col, delete, func, select

from analyzer.models import SEVERITY_ORDER, Service
from store.models import DashboardSnapshot, FindingRow

DIMENSIONS = {"severity": FindingRow.severity, "service": FindingRow.service}
KEYS: dict[str, tuple[str, ...]] = {"severity": tuple(SEVERITY_ORDER), "service": get_args(Service)}


def open_counts(session: Session) -> dict[str, dict[str, int]]:
    """Active findings with status open, counted by severity and by service."""
    out: dict[str, dict[str, int]] = {}
    for name, column in DIMENSIONS.items():
        rows = session.exec(select(column, func.count()).where(col(FindingRow.active).is_(True))
                            .where(FindingRow.status == "open").group_by(column)).all()
        out[name] = {str(k): int(n) for k, n in rows}
    return out


def snapshot_counts(session: Session, *, today: dt.date) -> None:
    """Store today's open counts (replacing today's earlier snapshot); the caller commits."""
    session.exec(delete(DashboardSnapshot).where(col(DashboardSnapshot.day) == today))
    for dimension, counts in open_counts(session).items():
        for key in sorted(set(KEYS[dimension]) | set(counts)):  # zeros too: a day with no open finding shows
            session.add(DashboardSnapshot(day=today, dimension=dimension, key=key, count=counts.get(key, 0)))


def trend(session: Session, *, days: int = 90, today: dt.date | None = None) -> dict[str, Any]:
    """{"days": [iso dates with a snapshot], "severity": {sev: [counts]}, "service": {svc: [counts]}}."""
    since = (today or dt.date.today()) - dt.timedelta(days=days)
    rows = session.exec(select(DashboardSnapshot).where(col(DashboardSnapshot.day) >= since)
                        .order_by(col(DashboardSnapshot.day))).all()
    day_list = sorted({r.day for r in rows})
    index = {d: i for i, d in enumerate(day_list)}
    out: dict[str, Any] = {"days": [d.isoformat() for d in day_list]}
    for dimension in DIMENSIONS:
        keys = sorted({r.key for r in rows if r.dimension == dimension},
                      key=lambda k: (-SEVERITY_ORDER.get(k, -1), k))
        series = {k: [0] * len(day_list) for k in keys}
        for r in rows:
            if r.dimension == dimension:
                series[r.key][index[r.day]] = r.count
        out[dimension] = series
    return out
