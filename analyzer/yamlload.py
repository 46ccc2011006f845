"""YAML loading that remembers where every mapping key and list item came from (line numbers).

Shared by the site policy and rule loaders so that a validation error can be reported as
`file:line: path: reason`.  Uses PyYAML's SafeLoader (YAML 1.1 core types, no object tags),
parsed by libyaml when PyYAML has it (ten times faster, same nodes and lines); a document libyaml
refuses is parsed again by the pure-Python parser, so errors read as they always did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the start line of every node in `self.lines` keyed by path."""


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def safe_load(text: str) -> Any:
    """yaml.safe_load, parsed by libyaml when available (errors from the pure-Python parser)."""
    if _FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def load_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML text; return (data, {path tuple: 1-based line}).  Raises yaml.YAMLError."""
    if _FAST_LOADER is not None:
        try:
            return _load_with_lines(_FAST_LOADER(text), text)
        except yaml.YAMLError:
            pass
    return _load_with_lines(_LineLoader(text), text)


def _load_with_lines(loader: Any, text: str) -> tuple[Any, dict[Loc, int]]:
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
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


def read_text(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")
