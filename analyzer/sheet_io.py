"""Identification sheets in and out of files: CSV (`;` or `,`, UTF-8 with or without BOM, cp1252), JSON, YAML.

Pure functions (no database): `read_sheets(data, fmt=...)` returns the valid
sheets and one `SheetError(line, field, reason)` per refused row (its reason a code of the one
catalogue, analyzer.sheet_reasons, rendered in English or French);
`load_sheets_bytes(..., partial=False)` refuses the whole file when any row is
bad (partial=True keeps the good rows); `dump_sheets(sheets, fmt=...)` writes a
file that reads back to the same sheets (lossless round trip).

CSV headers are matched case-, accent- and punctuation-insensitively, in English
(the `Sheet` field names) or in French as the AFIB sheet writes them.  Compact
cell syntax for the structured columns:

- Interfaces: `peer[:protocol[/port]]` items separated by `;` or new lines,
  e.g. `PACS:dicom/104; 10.50.0.30:hl7`.  An IPv6 peer is written in brackets: `[fd00::5]:hl7`.
- Servers: `name[:role]` items, same separators, e.g. `10.50.0.20:pacs; backup01:backup`.
- Télémaintenance: `none`, or `method[@gateway][ by supplier]`,
  e.g. `teamviewer@bastion by Siemens Healthineers`, `vpn by GE`, `rdp@10.60.0.10`.
- Type de connexion: filaire/wired, wifi/wi-fi/sans fil, or empty (unknown).
- Date de revue: dd/mm/yyyy or yyyy-mm-dd.  Propriétaire: établissement or fournisseur.
- A cell starting with = + - @ is written with a leading `'` (spreadsheet formula
  injection); that one quote is removed on import.

Limits (a hostile file is refused with a reason, never a crash): MAX_ROWS sheets
per file, MAX_CELL_CHARS characters per CSV cell, MAX_NESTING levels of JSON or
YAML nesting.

MDS2 (Manufacturer Disclosure Statement for Medical Device Security, HIMSS/NEMA
HN 1-2019) mapping of the sheet fields:

| Sheet field (CSV header, French header)              | MDS2 section                          |
|------------------------------------------------------|---------------------------------------|
| software_name (Nom du logiciel)                      | DOC-2 device description / model     |
| software_version (Version)                           | DOC-3 / SBOM software version         |
| supplier (Fournisseur)                               | DOC-1 manufacturer name               |
| workstation, workstation_owner (Poste, Propriétaire) | SAHD (system hardening), MPII         |
| mac, ip, connection, vlan (Adresse MAC/IP, VLAN)     | CNFS / MPII network connectivity      |
| interfaces, servers (Interfaces, Serveurs)           | MPII-2.x data exchange, CNFS          |
| os_name, os_version (Système d'exploitation)         | SBOM-2 / RDMP-2 operating system      |
| backups, restoration (Sauvegardes, Restauration)     | DTBK data backup and disaster recovery|
| protection (Protection)                              | MLDP malware detection, SAHD          |
| remote_maintenance (Télémaintenance)                 | RMOT remote service                   |
| ce_marking (Marquage CE)                             | DOC (regulatory classification)       |
| responsibility, referents, last_review, perimeter    | (AFIB sheet only, no MDS2 item)       |
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, field as dataclass_field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from analyzer.sheet_reasons import from_pydantic, render
from analyzer.sheets import Interface, RemoteMaintenance, Server, Sheet, field_meta
from analyzer.yamlload import Limits, safe_load
from collector.yamlsafe import nesting_exceeds

FORMATS = ("csv", "json", "yaml")
# A YAML sheet file may be as large as an API request body (api.settings max_body_bytes).
SHEET_LIMITS = Limits(max_bytes=32 * 1024 * 1024)
CSV_COLUMNS = list(Sheet.model_fields)
"""CSV columns: the sheet model's fields, in its order (analyzer.sheets.Sheet is the one definition)."""
_ALIASES: dict[str, list[str]] = {name: field_meta(name)["headers"] for name in CSV_COLUMNS}
"""Other header names each column is known by (French and English exports), from the model's `headers`."""
_FORMULA = ("=", "+", "-", "@")
MAX_ROWS = 10_000  # sheets per file: a hospital has hundreds; more is a mistake or an attack
MAX_CELL_CHARS = 64 * 1024  # characters per CSV cell (the csv module itself stops at 128 KiB
                            # with an exception)
MAX_NESTING = 32  # JSON/YAML nesting: a sheet needs 3 levels; deep nesting exhausts the parser's recursion


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


HEADER_MAP: dict[str, str] = {}
for _canon, _alist in _ALIASES.items():
    for _name in [_canon, *_alist]:
        HEADER_MAP[_norm(_name)] = _canon


@dataclass(frozen=True)
class SheetError(Exception):
    """One refused row (or header): where, which field, why.

    `code` and `params` say why in a way each language renders (analyzer.sheet_reasons, the one
    catalogue); `reason` is the English text, for the CLI, the API and logs.  Build one with `of`.
    """

    line: int
    field: str
    reason: str
    code: str = ""
    params: dict[str, Any] = dataclass_field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def of(cls, line: int, field: str, code: str, **params: Any) -> SheetError:
        return cls(line, field, render(code, "en", params), code, params)

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class CellError(ValueError):
    """A cell the compact syntax refuses: a code of analyzer.sheet_reasons and its params."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(render(code, "en", params))
        self.code, self.params = code, params


class SheetFileError(ValueError):
    """A file refused as a whole (partial=False and at least one bad row)."""

    def __init__(self, errors: list[SheetError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:20]))


@dataclass
class ParseResult:
    sheets: list[Sheet] = field(default_factory=list)
    errors: list[SheetError] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    """Sheet id -> its CSV line (or JSON/YAML item number): where a finding's sheet came from."""


# --------------------------------------------------------------------------- cells


def _split_items(cell: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;\n]", cell) if p.strip()]


def _split_peer(item: str) -> tuple[str, str]:
    """`peer:rest` with an optional bracketed IPv6 peer."""
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise CellError("unclosed_bracket", item=repr(item))
        peer, rest = item[1:end], item[end + 1:]
        if rest and not rest.startswith(":"):
            raise CellError("colon_after_bracket", item=repr(item))
        return peer, rest[1:]
    if ":" in item:
        peer, rest = item.split(":", 1)
        return peer.strip(), rest.strip()
    return item, ""


def parse_interfaces(cell: str) -> list[dict[str, Any]]:
    out = []
    for item in _split_items(cell):
        peer, rest = _split_peer(item)
        proto, _, port = rest.partition("/")
        entry: dict[str, Any] = {"peer": peer, "protocol": proto.strip().lower()}
        if port.strip():
            if not port.strip().isdigit() or not 0 < int(port) < 65536:
                raise CellError("bad_port", port=repr(port), item=repr(item))
            entry["port"] = int(port)
        out.append(entry)
    return out


def parse_servers(cell: str) -> list[dict[str, Any]]:
    out = []
    for item in _split_items(cell):
        name, role = _split_peer(item)
        out.append({"name": name, "role": role.strip()})
    return out


NO_REMOTE = frozenset({"", "none", "no", "aucune", "aucun", "non", "néant", "neant", "-", "sans"})
"""What a biomedical service writes for 'no remote maintenance', in French or English."""


def parse_remote(cell: str) -> dict[str, Any]:
    text = cell.strip()
    if not text:
        return {}
    head, sep, supplier = text.partition(" by ")
    method, _, gateway = head.strip().partition("@")
    method = method.strip().lower()
    out: dict[str, Any] = {"method": "none" if method in NO_REMOTE else method}
    if gateway.strip():
        out["gateway"] = gateway.strip()
    if sep and supplier.strip():
        out["supplier"] = supplier.strip()
    return out


def _bracket(peer: str) -> str:
    return f"[{peer}]" if ":" in peer else peer


def format_interfaces(items: Iterable[Interface]) -> str:
    parts = []
    for i in items:
        text = _bracket(i.peer)
        if i.protocol or i.port is not None:
            text += ":" + i.protocol + (f"/{i.port}" if i.port is not None else "")
        parts.append(text)
    return "; ".join(parts)


def format_servers(items: Iterable[Server]) -> str:
    return "; ".join(_bracket(s.name) + (f":{s.role}" if s.role else "") for s in items)


def format_remote(rm: RemoteMaintenance) -> str:
    text = rm.method + (f"@{rm.gateway}" if rm.gateway else "")
    return text + (f" by {rm.supplier}" if rm.supplier else "")


_CONNECTION = {"filaire": "wired", "wired": "wired", "ethernet": "wired", "cable": "wired", "wifi": "wifi",
               "wi fi": "wifi", "sans fil": "wifi", "wireless": "wifi", "unknown": "unknown",
               "inconnu": "unknown"}
_OWNER = {"etablissement": "establishment", "establishment": "establishment", "hopital": "establishment",
          "fournisseur": "supplier", "supplier": "supplier"}
_RESP = {"biomedical": "biomedical", "biomed": "biomedical", "it": "it", "informatique": "it", "dsi": "it"}


def _enum(table: dict[str, str], value: str, name: str) -> str:
    key = _norm(value)
    if key not in table:
        raise CellError("unknown_choice", value=repr(value), expected=", ".join(sorted(set(table.values()))))
    return table[key]


def _date(value: str) -> str:
    text = value.strip()
    m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    try:
        if m:
            return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise CellError("bad_date", value=repr(text)) from None


_CELL_PARSERS = {
    "interfaces": parse_interfaces, "servers": parse_servers, "remote_maintenance": parse_remote,
    "connection": lambda v: _enum(_CONNECTION, v, "connection"),
    "workstation_owner": lambda v: _enum(_OWNER, v, "owner"),
    "responsibility": lambda v: _enum(_RESP, v, "responsibility"),
    "last_review": _date,
}


def _unquote(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in (*_FORMULA, "'"):
        return value[1:]
    return value


def _derived_id(record: dict[str, Any]) -> str:
    key = "|".join(str(record.get(k) or "") for k in ("software_name", "workstation", "mac", "ip"))
    return "SH-" + hashlib.sha1(key.encode()).hexdigest()[:10]


def _sheet_from_cells(cells: dict[str, str], line: int) -> Sheet:
    record: dict[str, Any] = {}
    for name, raw in cells.items():
        value = _unquote((raw or "").strip())
        if not value:
            continue
        parser = _CELL_PARSERS.get(name)
        try:
            record[name] = parser(value) if parser else value
        except CellError as exc:
            raise SheetError.of(line, name, exc.code, **exc.params) from None
        except ValueError:
            raise SheetError.of(line, name, "invalid") from None
    if record.get("remote_maintenance") == {}:
        record.pop("remote_maintenance")
    return _validate(record, line)


def _validate(record: dict[str, Any], line: int) -> Sheet:
    if isinstance(record, dict) and not record.get("id") and record.get("software_name"):
        record = {**record, "id": _derived_id(record)}
    try:
        sheet = Sheet.model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "sheet"
        code, params = from_pydantic(err, err.get("input"))
        raise SheetError.of(line, loc, code, **params) from None
    except (TypeError, ValueError):
        raise SheetError.of(line, "sheet", "invalid") from None
    if "\\u0000" in sheet.model_dump_json():
        raise SheetError.of(line, "sheet", "nul_char")
    return sheet


# --------------------------------------------------------------------------- readers


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV (séparateur: point-virgule)" on Windows writes cp1252; bytes that are
        # neither are refused (never silently replaced: a sheet must say what was declared).
        return data.decode("cp1252")


def _read_csv(text: str, result: ParseResult) -> list[tuple[int, Sheet]]:
    first = next((line for line in text.split("\n", 64)[:64] if line.strip()), "")  # the header line
    delimiter = ";" if first.count(";") >= first.count(",") and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        while not any(c.strip() for c in header):  # blank lines before the header (a worksheet's first rows)
            header = next(reader)
    except StopIteration:
        return []
    columns: list[str | None] = []
    for name in header:
        canon = HEADER_MAP.get(_norm(name))
        if canon is None and name.strip():
            result.errors.append(SheetError.of(reader.line_num, name.strip(), "unknown_column"))
        if canon is not None and canon in columns:
            result.errors.append(SheetError.of(reader.line_num, name.strip(), "duplicate_column",
                                               column=canon))
            canon = None
        columns.append(canon)
    out: list[tuple[int, Sheet]] = []
    try:
        for row in reader:
            _read_row(row, reader.line_num, columns, out, result)
            if len(out) + len(result.errors) > MAX_ROWS:
                result.errors.append(SheetError.of(reader.line_num, "file", "too_many_rows", max=MAX_ROWS))
                break
    except csv.Error as exc:  # a cell beyond the csv module's own limit, or a NUL byte
        text = str(exc)
        result.errors.append(SheetError.of(reader.line_num, "file", "csv_cell_too_large", max=MAX_CELL_CHARS)
                             if "field larger" in text else SheetError.of(reader.line_num, "file", "csv_nul")
                             if "NUL" in text else SheetError.of(reader.line_num, "file", "csv_unreadable",
                                                                 detail=text))
    return out


def _read_row(row: list[str], line: int, columns: list[str | None], out: list[tuple[int, Sheet]],
              result: ParseResult) -> None:
    if not any(c.strip() for c in row):
        return
    if len(row) > len(columns):
        result.errors.append(SheetError.of(line, "row", "row_too_many_cells", cells=len(row),
                                           columns=len(columns)))
        return
    cells = {c: v for c, v in zip(columns, row, strict=False) if c is not None}
    big = next((c for c, v in cells.items() if len(v) > MAX_CELL_CHARS), None)
    if big is not None:
        result.errors.append(SheetError.of(line, big, "cell_too_long", length=len(cells[big]),
                                           max=MAX_CELL_CHARS))
        return
    try:
        out.append((line, _sheet_from_cells(cells, line)))
    except SheetError as exc:
        result.errors.append(exc)


def _read_structured(items: Any, result: ParseResult) -> list[tuple[int, Sheet]]:
    if isinstance(items, dict) and "sheets" in items:
        items = items["sheets"]
    if items is None:
        return []
    if not isinstance(items, list):
        result.errors.append(SheetError.of(1, "sheets", "not_a_list"))
        return []
    if len(items) > MAX_ROWS:
        result.errors.append(SheetError.of(MAX_ROWS + 1, "sheets", "too_many_sheets", max=MAX_ROWS))
        return []
    out = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            result.errors.append(SheetError.of(index, "sheet", "not_an_object"))
            continue
        try:
            out.append((index, _validate(dict(item), index)))
        except SheetError as exc:
            result.errors.append(exc)
    return out


XLSX_MAX_ROWS = 200_000
XLSX_MAX_COLUMNS = 200


def xlsx_to_csv(data: bytes) -> str:
    """The first worksheet of an XLSX workbook (an asset database's usual export) as `;`-separated CSV text,
    read as values (a formula cell gives its cached value, never evaluated); ValueError when it is not a
    readable workbook."""
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise CellError("bad_xlsx", detail=type(exc).__name__) from None
    try:
        sheet = book.worksheets[0]
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, delimiter=";", lineterminator="\n")
        for n, row in enumerate(sheet.iter_rows(values_only=True)):
            if n >= XLSX_MAX_ROWS:
                raise CellError("too_many_rows", max=XLSX_MAX_ROWS)
            cells = ["" if v is None else v.isoformat()[:10] if isinstance(v, dt.date) else str(v)
                     for v in row[:XLSX_MAX_COLUMNS]]
            # blank rows are kept (as blank lines, which the CSV reader skips) so that a line number is
            # the worksheet's row number, as the spreadsheet shows it to the person fixing the file
            writer.writerow(cells if any(cells) else [])
        return buf.getvalue()
    finally:
        book.close()


def read_sheets(data: bytes | str, *, fmt: str) -> ParseResult:
    """Parse a file's content; every refused row becomes a SheetError (line = CSV line or item number).
    XLSX is read as the CSV of its first worksheet (same columns, French or English headers)."""
    fmt = fmt.lower().replace("yml", "yaml")
    result = ParseResult()
    if fmt == "xlsx":
        try:
            data, fmt = xlsx_to_csv(data if isinstance(data, bytes) else data.encode()), "csv"
        except CellError as exc:
            result.errors.append(SheetError.of(0, "file", exc.code, **exc.params))
            return result
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 if isinstance(data, bytes) else 0
        result.errors.append(SheetError.of(line, "file", "bad_encoding", byte=exc.start))
        return result
    if fmt == "csv":
        rows = _read_csv(text, result)
    elif fmt in ("json", "yaml"):
        if fmt == "json" and nesting_exceeds(text, MAX_NESTING):
            result.errors.append(SheetError.of(1, "file", "json_too_deep", max=MAX_NESTING))
            return result
        try:
            parsed = json.loads(text) if fmt == "json" else safe_load(text, SHEET_LIMITS)
        except RecursionError:  # YAML nesting (block or flow) beyond what the parser can recurse into
            result.errors.append(SheetError.of(1, "file", "too_deep", format=fmt.upper()))
            return result
        except (ValueError, yaml.YAMLError) as exc:
            line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
            result.errors.append(SheetError.of(int(line), "file", "bad_syntax", format=fmt,
                                               detail=str(exc).splitlines()[0]))
            return result
        rows = _read_structured(parsed, result)
    else:
        result.errors.append(SheetError.of(0, "format", "unknown_format", format=repr(fmt)))
        return result
    seen: set[str] = set()
    for line, sheet in rows:
        if sheet.id in seen:
            result.errors.append(SheetError.of(line, "id", "duplicate_id", id=repr(sheet.id)))
            continue
        seen.add(sheet.id)
        result.sheets.append(sheet)
        result.lines[sheet.id] = line
    result.errors.sort(key=lambda e: e.line)
    return result


_NOT_A_ROW = frozenset({"unknown_column", "duplicate_column"})
"""Header codes: the column is ignored when partial, no row is refused for it."""


def refused_rows(errors: Iterable[SheetError]) -> int:
    """How many rows (or items) the errors refuse: distinct lines, header and whole-file errors left out
    (the import summary's "1 refused")."""
    return len({e.line for e in errors
                if e.code not in _NOT_A_ROW and e.field not in ("file", "format", "sheets")})


def load_sheets_bytes(data: bytes | str, *, fmt: str, partial: bool = False) -> list[Sheet]:
    """The sheets of a file; raises SheetFileError when a row is bad unless partial."""
    result = read_sheets(data, fmt=fmt)
    if result.errors and not partial:
        raise SheetFileError(result.errors)
    return result.sheets


def load_sheets(path: Path, *, partial: bool = False) -> list[Sheet]:
    """The sheets of a .csv, .json or .yaml/.yml file."""
    return load_sheets_bytes(path.read_bytes(), fmt=path.suffix.lstrip(".").lower(), partial=partial)


# --------------------------------------------------------------------------- writers


def _cell(value: str) -> str:
    return "'" + value if value[:1] in _FORMULA or (value[:1] == "'"
                                                    and value[1:2] in (*_FORMULA, "'")) else value


def sheet_cells(sheet: Sheet) -> dict[str, str]:
    """One sheet as CSV cells (compact syntax for the structured columns)."""
    data = sheet.model_dump(mode="json")
    cells: dict[str, str] = {}
    for name in CSV_COLUMNS:
        if name == "interfaces":
            value = format_interfaces(sheet.interfaces)
        elif name == "servers":
            value = format_servers(sheet.servers)
        elif name == "remote_maintenance":
            value = format_remote(sheet.remote_maintenance)
        else:
            raw = data.get(name)
            value = "" if raw is None else str(raw)
        cells[name] = _cell(value)
    return cells


def dump_sheets(sheets: Iterable[Sheet], *, fmt: str) -> bytes:
    """Serialise sheets; CSV is `;`-separated UTF-8 with a BOM (opens as-is in French spreadsheets)."""
    fmt = fmt.lower().replace("yml", "yaml")
    ordered = sorted(sheets, key=lambda s: s.id)
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for sheet in ordered:
            cells = sheet_cells(sheet)
            writer.writerow([cells[c] for c in CSV_COLUMNS])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    records = [s.model_dump(mode="json") for s in ordered]
    if fmt == "json":
        return (json.dumps({"sheets": records}, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if fmt == "yaml":
        return yaml.safe_dump({"sheets": records}, allow_unicode=True, sort_keys=False).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r} (csv, json or yaml)")
