"""Subject provider `sheet`: one row per discrepancy between identification sheets and observations.

Rows come from `analyzer.reconcile.check_rows` (fields in `analyzer.reconcile.FIELDS`);
each rules/reconciliation/<id>.yaml rule selects its rows with `where: {check: <id>}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analyzer.digest import digest_of
from analyzer.reconcile import FIELDS, check_rows, match_sheets

SUBJECT = "sheet"
__all__ = ["FIELDS", "SUBJECT", "min_window", "rows"]


def rows(ctx: Any) -> Iterable[dict[str, Any]]:
    """Discrepancy rows for the AnalysisContext `ctx` (matches computed when the engine did not)."""
    sheets = list(getattr(ctx, "sheets", None) or [])
    matches = getattr(ctx, "matches", None)
    if matches is None or (sheets and not matches):
        matches = match_sheets(ctx.devices, sheets)
    digest = digest_of(ctx)
    site = getattr(ctx, "site", None)
    out = check_rows(
        devices=ctx.devices, sheets=sheets, matches=matches,
        conversations=digest.conversation_groups(), remote=digest.remote_records(),
        now=getattr(ctx, "now", None),
        min_window=min_window(site),
    )
    origins = getattr(ctx, "sheet_origins", None) or {}
    for row in out:  # what the verdict rests on: the sheet (and the line it came from), for an undeclared
        # device its zone
        sheet_id = row.get("sheet_id")
        origin = origins.get(sheet_id) if sheet_id else None
        policy = [f"identification sheet {sheet_id}" + (f" ({origin})" if origin else "")] if sheet_id else []
        ref_of = getattr(site, "zone_ref", None)  # a SitePolicy (callers may pass a bare namespace)
        zone_ref = ref_of(row.get("_zone")) if ref_of is not None and row.get("_zone") else None
        if zone_ref and row.get("check") == "undeclared-device":
            policy.append(zone_ref)
        row["_policy"] = policy
    return out


def min_window(site: Any) -> float:
    """Seconds of traffic the silence checks need: the site policy's `min_observed_hours`, else the
    default."""
    from analyzer.reconcile import DEFAULT_MIN_WINDOW

    hours = getattr(site, "min_observed_hours", None)
    return DEFAULT_MIN_WINDOW if hours is None else float(hours) * 3600.0
