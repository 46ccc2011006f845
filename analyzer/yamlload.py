"""YAML loading that remembers where every mapping key and list item came from (line numbers).

Shared by the site policy and rule loaders so that a validation error can be reported as
`file:line: path: reason`.  Parsing is collector.yamlsafe's strict loader, the one YAML loader
of the project (duplicate keys refused, `19:00` a string, size/depth/alias limits); this module
adds the line table.
"""

from __future__ import annotations

from typing import Any

import yaml

from collector.yamlsafe import (
    DEFAULT_LIMITS,
    Limits,
    YamlRefused,
    describe,
    load_file,
    load_node,
    read_text,
    safe_load,
)

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "YamlRefused",
    "describe",
    "format_loc",
    "line_of",
    "load_file",
    "load_with_lines",
    "pydantic_errors",
    "read_text",
    "safe_load",
]

Loc = tuple[str | int, ...]


def load_with_lines(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML text; return (data, {path tuple: 1-based line}).  Raises yaml.YAMLError."""
    data, node = load_node(text, limits)
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (str(key.value),)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines)


def line_of(lines: dict[Loc, int], loc: Loc) -> int:
    """Line of `loc` or of its nearest recorded parent (1 when nothing is known)."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), 1)


def format_loc(loc: Loc) -> str:
    """('zones', 2, 'cidrs', 0) -> 'zones[2].cidrs[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def pydantic_errors(name: str, exc: Any, lines: dict[Loc, int]) -> list[str]:
    """Turn a pydantic ValidationError into `name:line: loc: message` strings."""
    out: list[str] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        where = format_loc(loc)
        out.append(f"{name}:{line_of(lines, loc)}: {where + ': ' if where else ''}{msg}")
    return out
