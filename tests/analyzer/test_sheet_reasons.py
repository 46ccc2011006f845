"""The one catalogue of sheet import reasons (issue 19): every code in English and French with the same
placeholders, every code sheet_io raises is in it, and a refused row renders in both languages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analyzer import sheet_io
from analyzer.sheet_io import SheetError, read_sheets, refused_rows
from analyzer.sheet_reasons import FIELDS, LANGS, REASONS, placeholders, render


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_reason_has_both_languages_with_the_same_placeholders(code: str) -> None:
    texts = REASONS[code]
    assert set(texts) == set(LANGS), f"{code}: missing {set(LANGS) - set(texts)}"
    assert all(texts[lang].strip() for lang in LANGS), code
    assert placeholders(texts["en"]) == placeholders(texts["fr"]), code


def test_every_pseudo_field_has_both_languages() -> None:
    assert all(set(texts) == set(LANGS) for texts in FIELDS.values()), FIELDS


def _codes_used(path: Path) -> set[str]:
    """Literal codes passed to SheetError.of(line, field, CODE, ...) and CellError(CODE, ...)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        index = {"of": 2, "CellError": 0}.get(name)
        if index is not None and len(node.args) > index and isinstance(node.args[index], ast.Constant):
            used.add(str(node.args[index].value))
    return used


def test_every_code_raised_is_in_the_catalogue() -> None:
    used = _codes_used(Path(sheet_io.__file__))
    assert len(used) >= 20  # the scan finds the calls (a renamed helper would make this test vacuous)
    assert not used - set(REASONS), sorted(used - set(REASONS))


def test_a_missing_translation_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REASONS, "unknown_column", {"en": "unknown column"})
    with pytest.raises(AssertionError):
        test_every_reason_has_both_languages_with_the_same_placeholders("unknown_column")


def test_refused_rows_render_in_english_and_french() -> None:
    text = ("Nom du logiciel;VLAN;Adresse IP;Couleur;Date de revue;Type de connexion\n"
            "A;9999;;;;\nB;;999.1.1.1;;;\nC;;;;31/02/2025;\nD;;;;;satellite\nE;110;;;;\n")
    result = read_sheets(text, fmt="csv")
    got = {(e.line, e.field): e for e in result.errors}
    assert sorted(got) == [(1, "Couleur"), (2, "vlan"), (3, "ip"), (4, "last_review"), (5, "connection")]
    assert [s.software_name for s in result.sheets] == ["E"]
    assert refused_rows(result.errors) == 4  # the unknown column refuses no row
    fr = {key: render(e.code, "fr", e.params) for key, e in got.items()}
    assert got[(2, "vlan")].reason == "should be less than or equal to 4094"
    assert fr[(2, "vlan")] == "doit être inférieur ou égal à 4094"
    assert fr[(3, "ip")] == "adresse IPv4 ou IPv6 invalide : '999.1.1.1'"
    assert fr[(4, "last_review")] == "date invalide : '31/02/2025' (jj/mm/aaaa ou aaaa-mm-jj)"
    assert fr[(5, "connection")].startswith("valeur inconnue 'satellite' (attendu : ")
    assert fr[(1, "Couleur")] == "colonne inconnue"


def test_structured_and_file_errors_carry_codes() -> None:
    codes = [e.code for e in read_sheets('[1, {"id": "x"}]', fmt="json").errors]
    assert codes == ["not_an_object", "missing"]
    assert read_sheets(b"PK\x03\x04not a zip", fmt="xlsx").errors[0].code == "bad_xlsx"
    assert read_sheets("a", fmt="toml").errors[0].code == "unknown_format"
    unreadable = read_sheets(b"Nom du logiciel\n\x81\x8d\x8f\x90\x9d\n", fmt="csv").errors
    assert [e.code for e in unreadable] == ["bad_encoding"] and refused_rows(unreadable) == 0
    assert SheetError.of(3, "id", "duplicate_id", id="'A'") == SheetError(3, "id", "duplicate sheet id 'A'",
                                                                          "duplicate_id")


def test_xlsx_lines_are_the_worksheet_rows() -> None:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([])  # a blank first row, then the header on row 2
    sheet.append(["Identifiant", "Nom du logiciel", "VLAN"])
    sheet.append(["SH-1", "A", 110])
    sheet.append([])  # a blank row inside the table
    sheet.append(["SH-2", "B", 9999])
    sheet.append(["SH-3", "C", 120])
    buf = io.BytesIO()
    book.save(buf)
    result = read_sheets(buf.getvalue(), fmt="xlsx")
    assert [(e.line, e.field, e.code) for e in result.errors] == [(5, "vlan", "le")]
    assert result.lines == {"SH-1": 3, "SH-3": 6}  # as the spreadsheet numbers its rows


def test_csv_lines_count_blank_lines_and_follow_the_header() -> None:
    result = read_sheets("\n\nid;Nom du logiciel;Couleur\nA;x;rouge\n\nB;y;vert\n", fmt="csv")
    assert [(e.line, e.field) for e in result.errors] == [(3, "Couleur")]
    assert result.lines == {"A": 4, "B": 6}
