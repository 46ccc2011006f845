"""Sheet files: French/English headers, separators, encodings, errors with line and field, lossless round trips."""

from __future__ import annotations

import datetime as dt

import pytest

from analyzer.sheet_io import (
    SheetFileError,
    dump_sheets,
    load_sheets,
    load_sheets_bytes,
    parse_remote,
    read_sheets,
)
from analyzer.sheets import Sheet

FRENCH_HEADER = ("Identifiant;Nom du logiciel;Version;Fournisseur;Poste informatique;Propriétaire du poste;Adresse MAC;"
                 "Adresse IP;Type de connexion;VLAN;Interfaces;Serveurs;Système d'exploitation;Sauvegardes;Protection;"
                 "Restauration;Télémaintenance;Responsabilité;Référent biomédical;Référent informatique;Date de revue;Marquage CE")
FRENCH_ROW = ("SH-0001;Syngo CT;VB20;Siemens Healthineers;CT01;fournisseur;00-11-22-AA-BB-CC;10.10.110.5;filaire;110;"
              "\"PACS:dicom/104; 10.50.0.30:hl7\";\"10.50.0.20:pacs; backup01:backup\";Windows 10;Quotidienne sur NAS;"
              "Antivirus éditeur;Réinstallation par le fournisseur;teamviewer@bastion by Siemens Healthineers;"
              "biomédical;Mme Durand;M. Martin;15/03/2025;IIb")


def french_csv() -> bytes:
    return ("\ufeff" + FRENCH_HEADER + "\r\n" + FRENCH_ROW + "\r\n").encode("utf-8")


def test_french_csv_with_bom_and_semicolons() -> None:
    [sheet] = load_sheets_bytes(french_csv(), fmt="csv")
    assert sheet.id == "SH-0001" and sheet.software_name == "Syngo CT"
    assert sheet.workstation_owner == "supplier" and sheet.connection == "wired" and sheet.vlan == 110
    assert sheet.mac == "00:11:22:aa:bb:cc"
    assert [(i.peer, i.protocol, i.port) for i in sheet.interfaces] == [("PACS", "dicom", 104), ("10.50.0.30", "hl7", None)]
    assert [(s.name, s.role) for s in sheet.servers] == [("10.50.0.20", "pacs"), ("backup01", "backup")]
    assert sheet.remote_maintenance.method == "teamviewer" and sheet.remote_maintenance.gateway == "bastion"
    assert sheet.remote_maintenance.supplier == "Siemens Healthineers"
    assert sheet.last_review == dt.date(2025, 3, 15) and sheet.responsibility == "biomedical"
    assert sheet.restoration == "Réinstallation par le fournisseur" and sheet.ce_marking == "IIb"


def test_cp1252_and_comma_separator() -> None:
    text = "Nom du logiciel,Fournisseur,Date de revue,Type de connexion\r\nÉchographe,Général Électrique,2024-12-01,wifi\r\n"
    [sheet] = load_sheets_bytes(text.encode("cp1252"), fmt="csv")
    assert sheet.software_name == "Échographe" and sheet.supplier == "Général Électrique"
    assert sheet.connection == "wifi" and sheet.last_review == dt.date(2024, 12, 1)
    assert sheet.id.startswith("SH-")  # derived, stable
    assert load_sheets_bytes(text.encode("cp1252"), fmt="csv")[0].id == sheet.id


def test_bad_row_refuses_file_with_line_and_field_unless_partial() -> None:
    text = ("Nom du logiciel;VLAN;Date de revue\n"
            "Good one;110;01/02/2025\n"
            "Bad vlan;9999;01/02/2025\n"
            "Bad date;110;31/02/2025\n")
    with pytest.raises(SheetFileError) as caught:
        load_sheets_bytes(text, fmt="csv")
    errors = caught.value.errors
    assert [(e.line, e.field) for e in errors] == [(3, "vlan"), (4, "last_review")]
    kept = load_sheets_bytes(text, fmt="csv", partial=True)
    assert [s.software_name for s in kept] == ["Good one"]


def test_unknown_column_and_duplicate_id_are_errors() -> None:
    result = read_sheets("id;Nom du logiciel;Couleur\nA;x;rouge\nA;y;vert\n", fmt="csv")
    assert [(e.line, e.field) for e in result.errors] == [(1, "Couleur"), (3, "id")]
    assert [s.software_name for s in result.sheets] == ["x"]


def _rich_sheets() -> list[Sheet]:
    return [
        Sheet(id="SH-1", software_name="=cmd|' /C calc'!A0", supplier="-Acme", software_version="'=quoted",
              interfaces=[{"peer": "fd00::5", "protocol": "hl7", "port": 2575}, {"peer": "PACS", "protocol": ""},
                          {"peer": "lab", "protocol": "", "port": 80}],
              servers=[{"name": "backup01.example", "role": "backup"}, {"name": "lic"}],
              remote_maintenance={"method": "vpn", "supplier": "GE"}, vlan=1, last_review="2025-01-02",
              workstation_owner="supplier", responsibility="it", connection="wifi", mac="00:11:22:33:44:55"),
        Sheet(id="SH-2", software_name="Pompe à perfusion ; serveur", backups="Quotidienne\nhebdo",
              remote_maintenance={"method": "rdp", "gateway": "10.60.0.10"}),
        Sheet(id="SH-3", software_name="Minimal"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "yaml"])
def test_round_trip_is_lossless(fmt: str) -> None:
    sheets = _rich_sheets()
    data = dump_sheets(sheets, fmt=fmt)
    assert load_sheets_bytes(data, fmt=fmt) == sheets
    assert dump_sheets(load_sheets_bytes(data, fmt=fmt), fmt=fmt) == data


def test_csv_export_neutralises_formulas() -> None:
    text = dump_sheets(_rich_sheets(), fmt="csv").decode("utf-8-sig")
    assert ";'=cmd|" in text and ";'-Acme;" in text
    assert not any(cell.startswith(("=", "+", "@")) for line in text.splitlines() for cell in line.split(";"))


def test_json_list_and_wrapped_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.json").write_text('[{"id": "J1", "software_name": "x", "vlan": 12}]')
    (tmp_path / "b.yml").write_text("sheets:\n  - id: Y1\n    software_name: y\n    connection: wired\n")
    assert load_sheets(tmp_path / "a.json")[0].vlan == 12
    assert load_sheets(tmp_path / "b.yml")[0].connection == "wired"
    bad = read_sheets('{"sheets": [{"id": "J1"}, 3]}', fmt="json")
    assert [(e.line, e.field) for e in bad.errors] == [(1, "software_name"), (2, "sheet")]
    assert read_sheets("{not json", fmt="json").errors[0].field == "file"


def test_remote_cell_syntax() -> None:
    assert parse_remote("none") == {"method": "none"}
    assert parse_remote("TeamViewer@bastion by Siemens") == {"method": "teamviewer", "gateway": "bastion", "supplier": "Siemens"}
    assert parse_remote("rdp") == {"method": "rdp"}


def test_french_words_for_no_remote_maintenance() -> None:
    from analyzer.sheet_io import parse_remote

    for word in ("Aucune", "aucun", "Néant", "non", "none"):
        assert parse_remote(word)["method"] == "none", word
    assert parse_remote("RDP@bastion by Siemens") == {"method": "rdp", "gateway": "bastion", "supplier": "Siemens"}
