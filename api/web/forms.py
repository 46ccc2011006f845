"""The identification-sheet form and the risk-acceptance form: fields, parsing and errors per field.

The sheet form shows the AFIB sheet fields grouped as the biomedical service reads
them; lists (interfaces, servers) are one item per line (`peer:protocol[/port]`,
`name[:role]`).  Parsing never raises: it returns the Sheet or a field -> message
map, so every error is shown next to its field (pydantic errors are mapped back
to form field names).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError

from analyzer.sheets import (
    SHEET_GROUPS as FORM_GROUPS,
    Interface,
    RemoteMaintenance,
    Server,
    Sheet,
    field_meta,
)


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str = "text"  # text | select | textarea | date | number
    options: tuple[str, ...] = ()
    required: bool = False
    help: str | None = None


REMOTE_FIELDS = (FormField("rm_method", help="sheet.rm_method_help"), FormField("rm_gateway"),
                 FormField("rm_supplier"))
"""The structured remote-maintenance field, shown as three inputs."""


def _form_field(name: str) -> tuple[FormField, ...]:
    """The form input(s) of one sheet model field: widget from its type, or its `widget` metadata."""
    if name == "remote_maintenance":
        return REMOTE_FIELDS
    info = Sheet.model_fields[name]
    meta = field_meta(name)
    annotation = info.annotation
    options = tuple(str(a) for a in get_args(annotation)) if get_origin(annotation) is Literal else ()
    if options:
        kind = "select"
    elif get_origin(annotation) is list:
        kind = "textarea"
    elif dt.date in (annotation, *get_args(annotation)):
        kind = "date"
    elif int in (annotation, *get_args(annotation)):
        kind = "number"
    else:
        kind = meta.get("widget", "text")
    return (FormField(name, kind, options, required=info.is_required(), help=meta.get("help")),)


SHEET_GROUPS: tuple[tuple[str, tuple[FormField, ...]], ...] = tuple(
    (group, tuple(f for name in Sheet.model_fields if field_meta(name)["group"] == group
                  for f in _form_field(name)))
    for group in FORM_GROUPS
)
"""The sheet form, derived from the model: its groups in order, each with its fields in the model's order."""
FIELD_NAMES = tuple(f.name for _, fields in SHEET_GROUPS for f in fields)
_REMOTE = {"rm_method": "method", "rm_gateway": "gateway", "rm_supplier": "supplier"}
MAX_FIELD = 4000


def sheet_to_form(sheet: Sheet) -> dict[str, str]:
    """The form's text values for an existing sheet."""
    data = sheet.model_dump(mode="json")
    form = {k: "" if data.get(k) is None else str(data[k]) for k in FIELD_NAMES if k in data
            and k not in ("interfaces", "servers")}
    form["interfaces"] = "\n".join(
        f"{i.peer}:{i.protocol}" + (f"/{i.port}" if i.port is not None else "") for i in sheet.interfaces
    )
    form["servers"] = "\n".join(f"{s.name}:{s.role}" if s.role else s.name for s in sheet.servers)
    rm = sheet.remote_maintenance
    form.update(rm_method=rm.method or "", rm_gateway=rm.gateway or "", rm_supplier=rm.supplier or "")
    return form


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def parse_sheet_form(
    form: Mapping[str, Any], gettext: Callable[..., str]
) -> tuple[Sheet | None, dict[str, str], dict[str, str]]:
    """(sheet or None, errors by field, the submitted values to show again)."""
    values = {name: str(form.get(name) or "").strip()[:MAX_FIELD] for name in FIELD_NAMES}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name in _REMOTE or name in ("interfaces", "servers") or value == "":
            continue
        data[name] = value
    interfaces: list[Interface] = []
    for n, line in enumerate(_lines(values["interfaces"]), 1):
        # peer:protocol/port (the CSV cell syntax of analyzer.sheet_io) or peer:protocol:port
        head, slash, tail = line.rpartition("/")
        parts = [p.strip() for p in (head.split(":") + [tail] if slash else line.split(":"))]
        port: int | None = None
        if len(parts) == 3 and parts[2].isdigit() and int(parts[2]) <= 65535:
            port = int(parts[2])
        elif len(parts) > 2 or not parts[0]:
            errors["interfaces"] = gettext("form.bad_line", line=n, expected="peer:protocol[/port]")
            break
        interfaces.append(Interface(peer=parts[0], protocol=(parts[1] if len(parts) > 1 else "").lower(),
                                    port=port))
    servers: list[Server] = []
    for n, line in enumerate(_lines(values["servers"]), 1):
        name, _, role = line.partition(":")
        if not name.strip():
            errors["servers"] = gettext("form.bad_line", line=n, expected="name[:role]")
            break
        servers.append(Server(name=name.strip(), role=role.strip()))
    if values["ip"]:
        try:
            data["ip"] = str(ipaddress.ip_address(values["ip"]))
        except ValueError:
            errors["ip"] = gettext("form.bad_ip")
    data["interfaces"], data["servers"] = interfaces, servers
    remote = {key: values[name] for name, key in _REMOTE.items() if values[name]}
    data["remote_maintenance"] = RemoteMaintenance(**remote) if remote else RemoteMaintenance()
    try:
        sheet = Sheet.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            field = loc[0] if loc else "id"
            if field == "remote_maintenance":
                field = {"gateway": "rm_gateway",
                         "supplier": "rm_supplier"}.get(loc[1] if len(loc) > 1 else "", "rm_method")
            errors.setdefault(field if field in FIELD_NAMES else "id", _message(err, gettext))
        return None, errors, values
    if errors:
        return None, errors, values
    return sheet, {}, values


PYDANTIC_KEYS = {"missing": "form.err.missing", "string_too_long": "form.err.too_long",
                 "literal_error": "form.err.choice", "int_parsing": "form.err.integer",
                 "int_from_float": "form.err.integer", "date_parsing": "form.err.date",
                 "date_from_datetime_parsing": "form.err.date", "greater_than_equal": "form.err.min",
                 "less_than_equal": "form.err.max", "string_pattern_mismatch": "form.err.pattern"}
"""pydantic error types -> catalogue keys: the sheet form's errors in the reader's language."""


def _message(err: Mapping[str, Any], gettext: Callable[..., str]) -> str:
    key = PYDANTIC_KEYS.get(str(err.get("type", "")))
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if key is not None:
        return gettext(key, **ctx)
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def parse_acceptance(form: Mapping[str, Any], gettext: Callable[..., str],
                     today: dt.date,
                     latest: dt.date | None = None) -> tuple[str, dt.date | None, dict[str, str]]:
    """Justification and expiry of a risk acceptance, each checked (both required, expiry in the future and
    no later than `latest`, the site policy's maximum)."""
    justification = str(form.get("justification") or "").strip()[:2000]
    raw = str(form.get("expires") or "").strip()
    errors: dict[str, str] = {}
    expires: dt.date | None = None
    if not justification:
        errors["justification"] = gettext("finding.need_justification")
    if not raw:
        errors["expires"] = gettext("finding.need_expiry")
    else:
        try:
            expires = dt.date.fromisoformat(raw)
        except ValueError:
            errors["expires"] = gettext("finding.bad_expiry")
        else:
            if expires <= today:
                errors["expires"] = gettext("finding.bad_expiry")
            elif latest is not None and expires > latest:
                errors["expires"] = gettext("finding.expiry_too_far", latest=latest.isoformat(),
                                            days=(latest - today).days)
    return justification, expires, errors
