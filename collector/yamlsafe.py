"""The one strict YAML loader of medtap: every file the project reads goes through it.

It lives in the collector (which loads its signature and DICOM tables) so that the analyzer's
`analyzer.yamlload` can build on it without the collector importing the analyzer.

PyYAML's SafeLoader (YAML 1.1 core types, no object tags) with four changes, because a policy
file that silently means something else than what its author wrote is worse than a refused one:

* a duplicate key in a mapping is refused (YAML keeps the last one: a zone with two `cidrs:`
  keys would silently lose a subnet);
* `19:00` is the string "19:00", not the sexagesimal integer 1140 (int and float resolvers
  without their base-60 forms; everything else YAML 1.1 resolves stays);
* an impossible date (`2026-02-30`) is refused with its line instead of a ValueError traceback;
* limits, checked on the composed node graph before anything is built from it: text size,
  nesting depth, number of alias uses, nodes added by aliases ("billion laughs"), and no
  recursive alias.  Composing is linear in the text (an alias is the same node again), so a
  hostile file is refused in milliseconds instead of expanding to gigabytes.

libyaml parses when PyYAML has it (ten times faster, same nodes and lines); a document libyaml
refuses is parsed again by the pure-Python parser so that errors read the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"

# PyYAML's YAML 1.1 patterns without the base-60 alternatives (`1:20`, `190:20:30.15`).
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.VERBOSE)
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.VERBOSE)


@dataclass(frozen=True)
class Limits:
    """What one YAML document may cost; the defaults fit every policy, rule and data file."""

    max_bytes: int = 2 * 1024 * 1024
    max_depth: int = 100
    max_aliases: int = 1000
    max_alias_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


class YamlRefused(yaml.MarkedYAMLError):
    """A well-formed document medtap will not read (duplicate key, bad date, over a limit).

    A MarkedYAMLError, so callers that report `problem_mark.line` of a syntax error report
    these the same way.
    """

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem=problem, problem_mark=yaml.Mark("<yaml>", 0, line - 1, 0, None, None))  # type: ignore[arg-type]  # stubs: buffer/pointer may be None


def error_line(exc: yaml.YAMLError) -> int:
    """1-based line of a YAML error (1 when the error carries no position)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def describe(exc: yaml.YAMLError, name: str) -> str:
    """`name:line: reason` for a YAML error."""
    return f"{name}:{error_line(exc)}: {getattr(exc, 'problem', None) or exc}"


class _StrictConstructor(SafeConstructor):
    """SafeConstructor that refuses duplicate keys and impossible dates."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise YamlRefused(f"duplicate key {key!r} (first at line {seen[key]})", line)
                    seen[key] = line
                except TypeError:
                    continue  # unhashable key: SafeConstructor refuses it with its own message
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"invalid date {node.value!r}: {exc}",
                                   node.start_mark) from None


# types-PyYAML binds add_constructor to the stock loaders only
_StrictConstructor.add_constructor("tag:yaml.org,2002:timestamp",  # type: ignore[type-var]
                                   _StrictConstructor.construct_yaml_timestamp)


class _StrictResolver(Resolver):
    """YAML 1.1 implicit types, but `19:00` stays a string (no base-60 ints or floats)."""


_StrictResolver.yaml_implicit_resolvers = {
    first: [(tag, {INT_TAG: _INT, FLOAT_TAG: _FLOAT}.get(tag, rx)) for tag, rx in resolvers]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}


class StrictLoader(Reader, Scanner, Parser, Composer, _StrictConstructor, _StrictResolver):
    """The pure-Python strict loader (reference errors)."""

    def __init__(self, stream: Any) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _StrictConstructor.__init__(self)
        _StrictResolver.__init__(self)


try:  # libyaml's parser is not exported by `yaml` itself (yaml.cyaml's __all__ lists the loaders only)
    import yaml.cyaml

    _CParser: Any = yaml.cyaml.CParser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml: the pure-Python loader only
    _CParser = None
StrictCLoader: Any = None
if _CParser is not None:
    class StrictCLoader(_CParser, _StrictConstructor, _StrictResolver):  # type: ignore[no-redef]
        """The strict loader on libyaml's parser."""

        def __init__(self, stream: Any) -> None:
            _CParser.__init__(self, stream)
            _StrictConstructor.__init__(self)
            _StrictResolver.__init__(self)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_exceeds(data: str | bytes, limit: int) -> bool:
    """True when JSON text or YAML flow collections nest deeper than `limit` ("strings" do not count).

    Checked before parsing: json.loads and PyYAML's parser recurse once per level (RecursionError near
    1000, after seconds of work for YAML).  Strings are
    dropped, then each pass removes the innermost `[]`/`{}` pairs (C speed, no loop per character).  After
    `k` passes, a run of `m` opening brackets means a nesting of at least m + k; a text still reducible after
    `limit` passes nests deeper.  A malformed text is left to the parser to word.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escaped backslashes first, then quotes
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)  # outside strings only
    for passes in range(limit + 1):
        if re.search(rb"[\[{]{%d}" % (limit + 1 - passes), brackets):
            return True
        reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == brackets:
            return False
        brackets = reduced
    return True


def load_node(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, yaml.Node | None]:
    """Parse one document: (data, root node).  Raises yaml.YAMLError (YamlRefused past a limit)."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise YamlRefused(f"larger than {limits.max_bytes} bytes", 1)
    if nesting_exceeds(text, limits.max_depth):  # deep flow collections: refused before the parser recurses
        raise YamlRefused(f"nested deeper than {limits.max_depth} levels", 1)
    if StrictCLoader is not None:
        try:
            return _load(StrictCLoader(text), limits)
        except YamlRefused:
            raise
        except yaml.YAMLError as fast_error:
            try:
                return _load(StrictLoader(text), limits)
            except RecursionError:
                raise fast_error from None
    try:
        return _load(StrictLoader(text), limits)
    except RecursionError:
        raise YamlRefused(f"nested deeper than {limits.max_depth} levels", 1) from None


def safe_load(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The data of one YAML document, strictly (see the module docstring)."""
    return load_node(text, limits)[0]


def read_text(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> str:
    """A YAML file's text, refused (YamlRefused, line 1) before reading when over the size limit."""
    path = Path(path)
    if path.stat().st_size > limits.max_bytes:
        raise YamlRefused(f"larger than {limits.max_bytes} bytes", 1)
    return path.read_text(encoding="utf-8")


def load_file(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The data of a YAML file; raises ValueError `path:line: reason` for anything refused."""
    try:
        return safe_load(read_text(path, limits), limits)
    except yaml.YAMLError as exc:
        raise ValueError(describe(exc, str(path))) from None


def _load(loader: Any, limits: Limits) -> tuple[Any, yaml.Node | None]:
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check_graph(node, limits)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_graph(root: yaml.Node, limits: Limits) -> None:
    """Refuse a node graph over `limits` or with a recursive alias; linear in the unique nodes.

    Aliases make the graph a DAG (or a cycle): expanded sizes and depths are memoised per
    node, so a billion laughs costs a few hundred steps here.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[key] > limits.max_depth:
                raise YamlRefused(f"nested deeper than {limits.max_depth} levels", node.start_mark.line + 1)
            continue
        if key in on_path:
            raise YamlRefused("recursive alias (an anchor used inside itself)", node.start_mark.line + 1)
        if key in size:
            aliases += 1
            if aliases > limits.max_aliases:
                raise YamlRefused(f"more than {limits.max_aliases} alias uses", node.start_mark.line + 1)
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in reversed(kids))
    added = size[id(root)] - len(size)
    if added > limits.max_alias_nodes:
        biggest = max(_shared(root), key=lambda n: size[id(n)])
        raise YamlRefused(f"aliases expand the document by {added} nodes (limit {limits.max_alias_nodes}; "
                          f"alias bomb?)", biggest.start_mark.line + 1)


def _shared(root: yaml.Node) -> list[yaml.Node]:
    """Nodes reached more than once (the targets of aliases)."""
    seen: set[int] = set()
    out: list[yaml.Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            out.append(node)
            continue
        seen.add(id(node))
        stack.extend(_children(node))
    return out or [root]
