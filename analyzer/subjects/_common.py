"""Helpers shared by subject providers (not a provider itself: the leading underscore hides it)."""

from __future__ import annotations

from typing import Any

from analyzer.context import AnalysisContext, ConvView, evidence_of
from analyzer.models import Evidence

__all__ = ["conv_for", "evidence_of", "zone_name", "zone_kind", "Evidence"]


def conv_for(ctx: AnalysisContext, obs: Any) -> ConvView | None:
    """The aggregated conversation an application observation belongs to (either direction)."""
    index = getattr(ctx, "_conv_index", None)
    if index is None:
        index = {}
        c: ConvView | None
        for c in ctx.conversations:
            index[(c.client_ip, c.server_ip, c.server_port)] = c
        ctx._conv_index = index  # type: ignore[attr-defined]
    for key in ((obs.src_ip, obs.dst_ip, obs.dst_port), (obs.dst_ip, obs.src_ip, obs.src_port)):
        c = index.get(key)
        if c is not None:
            return c
    return None


def zone_name(zone: Any) -> str | None:
    return zone.name if zone is not None else None


def zone_kind(zone: Any) -> str | None:
    return zone.kind if zone is not None else None
