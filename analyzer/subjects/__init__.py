"""Rule subject providers, discovered with pkgutil: each module exports SUBJECT (name), optional
FIELDS (field -> description; when present, rule conditions on unknown fields are refused at load
time) and rows(ctx) yielding flat dicts with the reserved keys _key, _devices, _ips, _evidence,
_zone, _first_seen, _last_seen."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

RESERVED = ("_key", "_devices", "_ips", "_evidence", "_zone", "_first_seen", "_last_seen")
Rows = Callable[[Any], Iterable[dict[str, Any]]]


def _modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "SUBJECT") and hasattr(mod, "rows"):
            mods.append(mod)
    return mods


def providers() -> dict[str, Rows]:
    """Subject name -> rows(ctx)."""
    return {m.SUBJECT: m.rows for m in _modules()}


def subject_fields() -> dict[str, dict[str, str] | None]:
    """Subject name -> declared fields (None when the module declares none: no load-time check)."""
    return {m.SUBJECT: getattr(m, "FIELDS", None) for m in _modules()}
