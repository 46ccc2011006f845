"""Load rule YAML files: parse with line numbers, validate the model, compile `match.where` against
the subject's declared fields, then run the catalogue validators.  Any problem raises RuleError
naming the file (and line where known) and the reason."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from analyzer.rules import validators
from analyzer.rules.match import WhereError, compile_where
from analyzer.rules.schema import Rule
from analyzer.subjects import subject_fields
from analyzer.yamlload import format_loc, line_of, load_with_lines, pydantic_errors, read_text


class RuleError(ValueError):
    """One or more rule files are invalid; the message lists `file:line: reason` lines."""


def rule_files(rules_dir: Path) -> list[Path]:
    """Rule files: every *.yaml under rules_dir that holds a rule (skips data tables and signatures)."""
    out = []
    for path in sorted(rules_dir.rglob("*.yaml")):
        rel = path.relative_to(rules_dir)
        if len(rel.parts) < 2 or rel.parts[0] in ("signatures", "hooks", "pcaps"):
            continue
        out.append(path)
    return out


def load_rule_file(path: Path, fields: dict[str, dict[str, str] | None] | None = None) -> Rule:
    """Parse and compile one rule file (raises RuleError)."""
    name = str(path)
    try:
        data, lines = load_with_lines(read_text(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{name}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError(f"{name}:{mark.line + 1 if mark else 1}: not valid YAML: "
                        f"{getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise RuleError(f"{name}:1: a rule must be a mapping")
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        raise RuleError("\n".join(pydantic_errors(name, exc, lines))) from None
    known = subject_fields() if fields is None else fields
    if rule.match.subject not in known:
        loc = ("match", "subject")
        raise RuleError(f"{name}:{line_of(lines, loc)}: match.subject: unknown subject "
                        f"{rule.match.subject!r} (known: {', '.join(sorted(known))})")
    try:
        rule._predicate = compile_where(rule.match.where, known[rule.match.subject], ("match", "where"))
    except WhereError as exc:
        raise RuleError(f"{name}:{line_of(lines, exc.loc)}: {format_loc(exc.loc)}: {exc}") from None
    rule._path = name
    return rule


_CACHE: dict[tuple[object, ...], list[Rule]] = {}
"""Catalogues already loaded, by folder and the (name, size, mtime) of every rule file: a central
analyses after every batch, and parsing ~30 YAML files each time cost a third of a second."""


def load_rules(rules_dir: Path | str | None = None) -> list[Rule]:
    """Load, compile and validate every rule under rules_dir (default analyzer.paths.rules_dir()).

    A folder whose rule files did not change since the last call gives the same catalogue again
    (an edited, added or removed file is read anew; rules are never mutated by their users).
    """
    from analyzer.paths import rules_dir as default_dir

    root = Path(rules_dir) if rules_dir is not None else default_dir()
    if not root.is_dir():
        raise RuleError(f"{root}: rules folder not found")
    files = rule_files(root)
    signature: tuple[object, ...] = (str(root.resolve()), *((str(f), f.stat().st_size, f.stat().st_mtime_ns)
                                                           for f in files))
    cached = _CACHE.get(signature)
    if cached is not None:
        return list(cached)
    fields = subject_fields()
    errors: list[str] = []
    rules: list[Rule] = []
    for path in files:
        try:
            rules.append(load_rule_file(path, fields))
        except RuleError as exc:
            errors.append(str(exc))
    errors += validators.validate(rules)
    if errors:
        raise RuleError("\n".join(errors))
    rules.sort(key=lambda r: r.id)
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[signature] = rules
    return list(rules)
