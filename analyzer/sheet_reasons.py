"""Why a sheet row (or file) is refused: the one catalogue of import error reasons, in English and French.

`analyzer.sheet_io` never writes a reason as free text: it raises `SheetError.of(line, field, code,
**params)` with a code of `REASONS`, and the English `reason` (the CLI, the API's `reason`, the logs)
and the French one (the web UI, which merges these texts into its catalogue as `sheet_error.<code>`)
are both rendered from here.  A code without both languages, or whose languages disagree on the
placeholders, fails `tests/analyzer/test_sheet_reasons.py`.

`FIELDS` names the pseudo-fields an error may sit on besides the sheet's own fields (the whole file,
a row, the list of sheets); sheet fields are named by the UI's `sheet.<field>` labels.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

LANGS = ("en", "fr")

REASONS: dict[str, dict[str, str]] = {
    # header and file shape
    "unknown_column": {"en": "unknown column", "fr": "colonne inconnue"},
    "duplicate_column": {"en": "duplicate column for {column}", "fr": "colonne en double pour {column}"},
    "too_many_rows": {"en": "more than {max} rows", "fr": "plus de {max} lignes"},
    "too_many_sheets": {"en": "more than {max} sheets", "fr": "plus de {max} fiches"},
    "csv_cell_too_large": {"en": "a cell is larger than {max} characters",
                           "fr": "une cellule dépasse {max} caractères"},
    "csv_nul": {"en": "unreadable CSV: a NUL byte", "fr": "CSV illisible : un octet NUL"},
    "csv_unreadable": {"en": "unreadable CSV: {detail}", "fr": "CSV illisible : {detail}"},
    "row_too_many_cells": {"en": "{cells} cells for {columns} columns",
                           "fr": "{cells} cellules pour {columns} colonnes"},
    "cell_too_long": {"en": "cell of {length} characters (at most {max})",
                      "fr": "cellule de {length} caractères (au plus {max})"},
    "not_a_list": {"en": 'expected a list of sheets or {{"sheets": [...]}}',
                   "fr": 'une liste de fiches ou {{"sheets": [...]}} est attendue'},
    "not_an_object": {"en": "expected an object", "fr": "un objet est attendu"},
    "bad_xlsx": {"en": "not a readable XLSX workbook ({detail})", "fr": "classeur XLSX illisible ({detail})"},
    "bad_encoding": {"en": "not UTF-8 nor Windows-1252 text (byte {byte})",
                     "fr": "texte ni UTF-8 ni Windows-1252 (octet {byte})"},
    "json_too_deep": {"en": "JSON nested deeper than {max} levels",
                      "fr": "JSON imbriqué sur plus de {max} niveaux"},
    "too_deep": {"en": "{format} nested too deeply for the parser",
                 "fr": "{format} trop profondément imbriqué pour être lu"},
    "bad_syntax": {"en": "not valid {format}: {detail}", "fr": "{format} invalide : {detail}"},
    "unknown_format": {"en": "unknown format {format} (csv, xlsx, json or yaml)",
                       "fr": "format inconnu {format} (csv, xlsx, json ou yaml)"},
    "duplicate_id": {"en": "duplicate sheet id {id}", "fr": "identifiant de fiche en double {id}"},
    "nul_char": {"en": "NUL character in a field", "fr": "caractère NUL dans un champ"},
    # cells (compact syntax of analyzer.sheet_io)
    "unclosed_bracket": {"en": "unclosed '[' in {item}", "fr": "« [ » non fermé dans {item}"},
    "colon_after_bracket": {"en": "expected ':' after ']' in {item}",
                            "fr": "« : » attendu après « ] » dans {item}"},
    "bad_port": {"en": "bad port {port} in {item}", "fr": "port invalide {port} dans {item}"},
    "unknown_choice": {"en": "unknown value {value} (expected one of {expected})",
                       "fr": "valeur inconnue {value} (attendu : {expected})"},
    "bad_date": {"en": "not a date: {value} (dd/mm/yyyy or yyyy-mm-dd)",
                 "fr": "date invalide : {value} (jj/mm/aaaa ou aaaa-mm-jj)"},
    # the sheet model (pydantic error types, analyzer.sheets validators)
    "missing": {"en": "required", "fr": "obligatoire"},
    "too_long": {"en": "at most {max_length} characters", "fr": "{max_length} caractères au plus"},
    "too_short": {"en": "at least {min_length} characters", "fr": "{min_length} caractères au moins"},
    "choice": {"en": "expected one of {expected}", "fr": "attendu : {expected}"},
    "integer": {"en": "not a whole number", "fr": "pas un nombre entier"},
    "ge": {"en": "should be greater than or equal to {ge}", "fr": "doit être supérieur ou égal à {ge}"},
    "le": {"en": "should be less than or equal to {le}", "fr": "doit être inférieur ou égal à {le}"},
    "date": {"en": "not a date (yyyy-mm-dd)", "fr": "date invalide (aaaa-mm-jj)"},
    "bad_mac": {"en": "not a MAC address: {value}", "fr": "adresse MAC invalide : {value}"},
    "bad_ip": {"en": "not an IPv4 or IPv6 address: {value}", "fr": "adresse IPv4 ou IPv6 invalide : {value}"},
    "unknown_field": {"en": "unknown field", "fr": "champ inconnu"},
    "wrong_type": {"en": "wrong type of value", "fr": "type de valeur incorrect"},
    "invalid": {"en": "invalid value", "fr": "valeur invalide"},
}
"""code -> language -> `str.format` template (placeholders are the error's params)."""

FIELDS: dict[str, dict[str, str]] = {
    "file": {"en": "file", "fr": "fichier"},
    "row": {"en": "row", "fr": "ligne"},
    "sheet": {"en": "sheet", "fr": "fiche"},
    "sheets": {"en": "sheets", "fr": "fiches"},
    "format": {"en": "format", "fr": "format"},
}
"""Pseudo-fields an error may name besides the sheet's own fields, in both languages."""

_PYDANTIC = {"missing": "missing", "string_too_long": "too_long", "too_long": "too_long",
             "string_too_short": "too_short", "too_short": "too_short", "literal_error": "choice",
             "enum": "choice", "int_parsing": "integer", "int_from_float": "integer", "int_type": "integer",
             "greater_than_equal": "ge", "greater_than": "ge", "less_than_equal": "le", "less_than": "le",
             "date_parsing": "date", "date_from_datetime_parsing": "date",
             "date_from_datetime_inexact": "date",
             "date_type": "date", "extra_forbidden": "unknown_field", "string_type": "wrong_type",
             "list_type": "wrong_type", "dict_type": "wrong_type", "model_type": "wrong_type",
             "model_attributes_type": "wrong_type"}
"""pydantic error types -> codes (the types the sheet model can raise; anything else is `invalid`)."""
_VALIDATORS = {"mac": "bad_mac", "ip": "bad_ip"}
"""Fields whose own validator (analyzer.sheets) refuses a value: the code says what it expected."""


def placeholders(template: str) -> set[str]:
    """The `{name}` placeholders of a template (escaped braces are text)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(code: str, lang: str, params: Mapping[str, Any]) -> str:
    """The reason in one language (English when the language is unknown); KeyError for an unknown code."""
    texts = REASONS[code]
    return texts.get(lang, texts["en"]).format(**params)


def field_name(name: str, lang: str) -> str | None:
    """A pseudo-field's name in `lang`, or None when the field is a sheet field (or a header as written)."""
    texts = FIELDS.get(name)
    return texts.get(lang, texts["en"]) if texts else None


def from_pydantic(err: Mapping[str, Any], value: Any) -> tuple[str, dict[str, Any]]:
    """(code, params) of one pydantic error of the sheet model; `value` is the refused input."""
    kind = str(err.get("type", ""))
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    loc = [str(p) for p in err.get("loc", ())]
    if kind == "value_error" and loc and loc[-1] in _VALIDATORS:
        return _VALIDATORS[loc[-1]], {"value": repr(value)}
    code = _PYDANTIC.get(kind, "invalid")
    needed = placeholders(REASONS[code]["en"])
    if not needed <= set(ctx):
        return "invalid", {}
    return code, {k: ctx[k] for k in needed}
