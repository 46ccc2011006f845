"""DICOM SOP class UID -> modality or service hint, loaded from rules/dicom_sop_classes.yaml.

The table is data (UIDs from DICOM PS3.4 Annex B.5 / PS3.6 Annex A), so a biomedical engineer can
add a class without Python.  The collector may not import the analyzer, so the rules folder is
found in the rules folder (collector.datafiles: MEDTAP_RULES_DIR, else the installed rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from collector import yamlsafe
from collector.datafiles import rules_dir

SOP_FILE = "dicom_sop_classes.yaml"


def load_sop_table(path: Path) -> Mapping[str, str]:
    """Read and validate one SOP class table; raises ValueError with the file name on a bad file."""
    data = yamlsafe.load_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'classes' mapping")
    table: dict[str, str] = {}
    for uid, hint in data["classes"].items():
        if not isinstance(uid, str) or not isinstance(hint, str) or not uid.replace(".", "").isdigit():
            raise ValueError(f"{path}: bad entry {uid!r}: {hint!r} (want \"<dotted UID>\": <hint>)")
        table[uid] = hint
    return MappingProxyType(table)


@lru_cache(maxsize=4)
def _table_for(folder: str) -> Mapping[str, str]:
    return load_sop_table(Path(folder) / SOP_FILE)  # a missing table: the CLI's start-up check names it


def sop_hints() -> Mapping[str, str]:
    """The SOP class table of the current rules folder (read once per folder, read-only)."""
    return _table_for(str(rules_dir()))


def modality_hints(abstract_syntaxes: Iterable[str]) -> tuple[str, ...]:
    """Distinct hints for the proposed SOP classes, in proposal order; unknown UIDs give none."""
    table = sop_hints()
    out: list[str] = []
    for uid in abstract_syntaxes:
        hint = table.get(uid)
        if hint and hint not in out:
            out.append(hint)
    return tuple(out)
