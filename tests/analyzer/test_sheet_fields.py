"""The sheet's fields are defined once (analyzer.sheets.Sheet) and every reader and writer follows it.

A sheet with every field set to a non-default value goes through CSV, JSON and YAML export and
import, and through the web form, and comes back equal: a field added to the model and forgotten by
one of them fails here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args, get_origin

import pytest

from analyzer.sheet_io import CSV_COLUMNS, HEADER_MAP, dump_sheets, read_sheets
from analyzer.sheets import SHEET_GROUPS, Interface, RemoteMaintenance, Server, Sheet, field_meta
from api.web.forms import FIELD_NAMES, parse_sheet_form, sheet_to_form

SPECIAL: dict[str, Any] = {
    "mac": "00:0e:8c:10:00:21", "ip": "10.10.110.21", "vlan": 110,
    "interfaces": [Interface(peer="10.50.0.20", protocol="dicom", port=104), Interface(peer="HL7ENG", protocol="hl7")],
    "servers": [Server(name="pacs.demo-hospital.example", role="archive"), Server(name="10.50.0.70")],
    "remote_maintenance": RemoteMaintenance(method="rdp", gateway="10.60.0.10", supplier="Siemens Healthineers"),
    "last_review": dt.date(2026, 1, 15),
}


def _value(name: str) -> Any:
    if name in SPECIAL:
        return SPECIAL[name]
    annotation = Sheet.model_fields[name].annotation
    if get_origin(annotation) is Literal:
        return next(a for a in get_args(annotation) if a != Sheet.model_fields[name].default)
    return f"{name.replace('_', ' ')} value ; with, separators"


def full_sheet() -> Sheet:
    sheet = Sheet(**{name: _value(name) for name in Sheet.model_fields})
    defaults = Sheet(id="x", software_name="y")
    untested = [n for n in Sheet.model_fields if n not in ("id", "software_name")
                and getattr(sheet, n) == getattr(defaults, n)]
    assert not untested, f"give these fields a non-default value in the test: {untested}"
    return sheet


def test_every_field_has_its_headers_and_form_group() -> None:
    assert CSV_COLUMNS == list(Sheet.model_fields)
    for name in Sheet.model_fields:
        meta = field_meta(name)
        assert meta["group"] in SHEET_GROUPS, name
        assert HEADER_MAP[name.replace("_", " ")] == name
        assert all(HEADER_MAP[h] == name for h in meta["headers"]), name
    form = set(FIELD_NAMES)
    assert {n for n in Sheet.model_fields if n != "remote_maintenance"} <= form
    assert {"rm_method", "rm_gateway", "rm_supplier"} <= form


@pytest.mark.parametrize("fmt", ["csv", "json", "yaml"])
def test_every_field_survives_export_then_import(fmt: str) -> None:
    sheet = full_sheet()
    parsed = read_sheets(dump_sheets([sheet], fmt=fmt), fmt=fmt)
    assert not parsed.errors, parsed.errors
    assert parsed.sheets == [sheet]


def test_every_field_survives_the_web_form() -> None:
    sheet = full_sheet()
    back, errors, _ = parse_sheet_form(sheet_to_form(sheet), lambda key, **kw: key)
    assert not errors, errors
    assert back == sheet
