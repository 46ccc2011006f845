"""What the CLI does on a database besides the run loop: read the stored report, import and export
sheets files, save a baseline.  Shells over store.service, shared by the CLI and the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analyzer.models import Report
from store.db import session_for
from store.errors import InvalidError
from store.service import SheetImport, import_sheets_path

STREAMED = ("devices", "findings")
"""The report's long lists: written item by item (`write_report`)."""


def write_report(report: Report, path: Path) -> None:
    """The report JSON contract (schema 1), stable field order, sorted lists.

    The bytes are those of `report.model_dump_json(by_alias=True, indent=2)` and a newline, but the long
    lists are serialised one item at a time: a hospital's report runs to tens of MB (54 MB for the 7,764
    findings of the identity bench mix), and serialising it whole held it two or three times over at the
    command's memory peak (about 100 MB more)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = report.__pydantic_serializer__.to_json(report.model_copy(update=dict.fromkeys(STREAMED, [])),
                                                  by_alias=True, indent=2)
    with open(path, "wb") as fh:
        rest = head
        for name in STREAMED:
            marker = b'\n  "' + name.encode() + b'": []'
            before, found, rest = rest.partition(marker)
            if not found:
                raise RuntimeError(f"report field {name!r} not where write_report expects it")
            fh.write(before)
            items: list[Any] = getattr(report, name)
            if not items:
                fh.write(marker)
                continue
            fh.write(marker[:-1] + b"\n    ")
            for i, item in enumerate(items):
                if i:
                    fh.write(b",\n    ")
                body = item.__pydantic_serializer__.to_json(item, by_alias=True, indent=2)
                fh.write(body.replace(b"\n", b"\n    "))
            fh.write(b"\n  ]")
        fh.write(rest)
        fh.write(b"\n")


def load_report(db_url: str) -> Report:
    """The inventory and findings as stored (no re-analysis)."""
    from store.service import stored_report

    with session_for(db_url) as session:
        return stored_report(session)


def import_sheets_file(db_url: str, path: Path, *, actor: str, partial: bool,
                       overwrite: bool = False) -> SheetImport:
    """Import a sheets file, then re-match: the inventory and findings follow the new sheets at once."""
    if not path.is_file():
        raise FileNotFoundError(path)
    with session_for(db_url) as session:
        result = import_sheets_path(session, path, actor=actor, partial=partial, overwrite=overwrite)
        if result.imported:
            from store.facts import generation
            from store.service import reanalyze

            if generation(session) > 0:
                reanalyze(session, record_run=False)
        return result


def export_sheets_file(db_url: str, path: Path) -> int:
    from store.service import export_sheets

    fmt = path.suffix.lower().lstrip(".").replace("yml", "yaml")
    if fmt not in ("csv", "json", "yaml"):
        raise InvalidError(f"{path}: unknown format {fmt!r} (use .csv, .json or .yaml)")
    with session_for(db_url) as session:
        data = export_sheets(session, fmt=fmt)
    path.write_bytes(data)
    from analyzer.sheet_io import load_sheets_bytes

    return len(load_sheets_bytes(data, fmt=fmt))


def save_baseline(db_url: str, path: Path) -> int:
    """Known devices (from the inventory) and every conversation pair stored, as the baseline."""
    from analyzer.baseline import baseline_from_report, pair, save_baseline as _save
    from store.records import iter_observations

    with session_for(db_url) as session:
        from store.records import stored_report

        baseline = baseline_from_report(stored_report(session))
        for conv in iter_observations(session, kinds=["conversation"]):
            baseline.conversations.add(pair(conv.client_ip, conv.server_ip))  # type: ignore[attr-defined]
    _save(baseline, path)
    return len(baseline.devices) + len(baseline.conversations)


def report_json(report: Report) -> dict[str, Any]:
    return json.loads(report.model_dump_json(by_alias=True))
