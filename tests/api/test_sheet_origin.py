"""A finding on an identification sheet names the file and line the sheet came from (issue 20 item 12):
`policy: identification sheet SH-B (sheets.csv:3)`, kept across re-imports, dropped once a person edits
the sheet in the UI or the API (the file no longer says what is declared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.db import session_for
from store.service import get_sheet, import_sheets, reanalyze, sheet_origins, update_sheet

CSV = (b"Identifiant;Nom du logiciel;Adresse MAC\n"
       b"SH-A;Echographe;00:1b:00:00:00:0a\n"
       b"\n"  # a blank line still counts: the line is the file's, as a spreadsheet shows it
       b"SH-B;Moniteur;00:1b:00:00:00:0b\n")


def _policy(report: Any, sheet_id: str) -> list[str]:
    return [e.text for f in report.findings if f.rule == "review-overdue" and sheet_id in f.subject
            for e in f.evidence if e.text.startswith("policy:")]


def test_findings_cite_the_sheet_file_and_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with session_for(url) as session:
        result = import_sheets(session, CSV, fmt="csv", actor="biomed", name="C:\\exports\\sheets.csv")
        assert result.created == 2
        assert sheet_origins(session) == {"SH-A": "sheets.csv:2", "SH-B": "sheets.csv:4"}
        report = reanalyze(session, record_run=False)
        assert _policy(report, "SH-B") == ["policy: identification sheet SH-B (sheets.csv:4)"]
        # the same file again, one line lower: the unchanged sheet follows its line
        import_sheets(session, CSV.replace(b"\n\n", b"\n\n\n"), fmt="csv", actor="biomed", name="sheets.csv")
        assert sheet_origins(session)["SH-B"] == "sheets.csv:5"
        # a person's edit: the file no longer says what is declared
        found = get_sheet(session, "SH-B")
        assert found is not None
        update_sheet(session, "SH-B", found.sheet.model_copy(update={"software_name": "Moniteur 2"}),
                     version=found.version, actor="biomed")
        assert "SH-B" not in sheet_origins(session)
        report = reanalyze(session, record_run=False)
        assert _policy(report, "SH-B") == ["policy: identification sheet SH-B"]
        assert _policy(report, "SH-A") == ["policy: identification sheet SH-A (sheets.csv:2)"]


def test_structured_files_cite_the_item(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with session_for(url) as session:
        import_sheets(session, b'{"sheets": [{"id": "SH-J", "software_name": "x"}]}', fmt="json", actor="a",
                      name="sheets.json")
        assert sheet_origins(session) == {"SH-J": "sheets.json item 1"}
