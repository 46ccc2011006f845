"""Discovers detector modules in `collector/protocols/` (pkgutil), so adding one touches no engine code."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from collector import protocols
from collector.protocols.base import Detector


@lru_cache(maxsize=1)
def all_detectors() -> tuple[Detector, ...]:
    """Every `DETECTOR` / `DETECTORS` exported by a module of `collector.protocols`, sorted by name."""
    found: list[Detector] = []
    for info in pkgutil.iter_modules(protocols.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{protocols.__name__}.{info.name}")
        single = getattr(module, "DETECTOR", None)
        many = getattr(module, "DETECTORS", ())
        for det in ([single] if single is not None else []) + list(many):
            if not isinstance(det, Detector):
                raise TypeError(f"{module.__name__}: DETECTOR must be a collector.protocols.base.Detector")
            found.append(det)
    names = [d.name for d in found]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate detector names: {sorted(dupes)}")
    return tuple(sorted(found, key=lambda d: d.name))


def bpf_union() -> str:
    """The union of the detectors' BPF hints (for a live filter that keeps only identity frames)."""
    hints = sorted({d.bpf_hint for d in all_detectors() if d.bpf_hint})
    return " or ".join(f"({h})" for h in hints)
