"""The rule condition vocabulary: Sigma-style `field|modifier: value` conditions over flat rows.

A `where` mapping holds when every entry holds.  Keys are `field` (modifier eq) or
`field|modifier`; the special keys `any_of` (list of mappings, one must hold), `all_of`
(list of mappings, all must hold) and `not` (a mapping that must not hold) nest.
Modifiers: eq ne in not_in gt gte lt lte contains startswith endswith re exists len_gt.
List-valued row fields: eq/contains/startswith/endswith/re hold when ANY element does,
in holds when any element is in the given list (not_in / ne are the negations).
String comparisons are case-insensitive except eq/ne/in/not_in on strings, which are exact.
Conditions are compiled once at load time so that unknown fields and modifiers are refused early.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
MODIFIERS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "startswith", "endswith",
             "re", "exists", "len_gt")
LOGIC = ("any_of", "all_of", "not")
_MISSING = object()


class WhereError(ValueError):
    """A condition is not valid; `loc` is the path of the offending key inside `where`."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def _items(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, (int, float)):
        return a == str(b)
    return bool(a == b)


def _num(a: Any) -> float | None:
    if isinstance(a, bool) or a is None:
        return None
    try:
        return float(a)
    except (TypeError, ValueError):
        return None


def _str_op(op: str, expected: Any) -> Callable[[Any], bool]:
    if op == "re":
        pattern = re.compile(str(expected), re.IGNORECASE)
        return lambda v: isinstance(v, str) and pattern.search(v) is not None
    needle = str(expected).lower()
    if op == "contains":
        return lambda v: ((isinstance(v, str) and needle in v.lower())
                          or (not isinstance(v, str) and _eq(v, expected)))
    if op == "startswith":
        return lambda v: isinstance(v, str) and v.lower().startswith(needle)
    return lambda v: isinstance(v, str) and v.lower().endswith(needle)


def _leaf(field: str, op: str, expected: Any, loc: tuple[str | int, ...]) -> Predicate:
    if op in ("in", "not_in") and not isinstance(expected, (list, tuple)):
        raise WhereError(f"{field}|{op} needs a list", loc)
    if op in ("gt", "gte", "lt", "lte", "len_gt") and _num(expected) is None:
        raise WhereError(f"{field}|{op} needs a number, got {expected!r}", loc)
    if op == "exists" and not isinstance(expected, bool):
        raise WhereError(f"{field}|exists needs true or false", loc)
    if op == "re":
        try:
            re.compile(str(expected))
        except re.error as exc:
            raise WhereError(f"{field}|re: bad regular expression: {exc}", loc) from None

    def get(row: Row) -> Any:
        return row.get(field, _MISSING)

    if op == "exists":
        return lambda row: (get(row) not in (_MISSING, None, "", [], ())) is expected
    if op in ("eq", "ne"):
        eq = _eq_predicate(field, expected)
        return eq if op == "eq" else (lambda row: not eq(row))
    if op in ("in", "not_in"):
        allowed = list(expected)
        if all(isinstance(a, str) for a in allowed):
            # _eq(x, a) is x == a when a is a string: plain membership
            def isin(row: Row) -> bool:
                v = row.get(field)
                if isinstance(v, (list, tuple, set, frozenset)):
                    return any(x in allowed for x in v)
                return v in allowed
        else:
            def isin(row: Row) -> bool:
                v = get(row)
                return any(any(_eq(x, a) for a in allowed) for x in _items(None if v is _MISSING else v))
        return isin if op == "in" else (lambda row: not isin(row))
    if op in ("gt", "gte", "lt", "lte"):
        ref = float(expected)
        cmp = {"gt": lambda a: a > ref, "gte": lambda a: a >= ref, "lt": lambda a: a < ref,
               "lte": lambda a: a <= ref}[op]

        def number(row: Row) -> bool:
            n = _num(get(row))
            return n is not None and cmp(n)
        return number
    if op == "len_gt":
        ref_len = float(expected)

        def length(row: Row) -> bool:
            v = get(row)
            return v not in (_MISSING, None) and hasattr(v, "__len__") and len(v) > ref_len
        return length
    test = _str_op(op, expected)
    return lambda row: any(test(x) for x in _items(get(row)) if x is not None and x is not _MISSING)


def _eq_predicate(field: str, expected: Any) -> Predicate:
    """`field` equals `expected` (any element of a list field), with _eq's rules, specialised per expected
    type."""
    if isinstance(expected, list):
        return lambda row: list(_items(row.get(field))) == expected
    if isinstance(expected, bool):
        # _eq(x, True/False) holds only for the bool itself
        def eq_bool(row: Row) -> bool:
            v = row.get(field)
            if isinstance(v, (list, tuple)):
                return any(x is expected for x in v)
            return v is expected
        return eq_bool
    if isinstance(expected, str) or expected is None:
        # _eq(x, a string or None) is x == it
        def eq_plain(row: Row) -> bool:
            v = row.get(field)
            if isinstance(v, (list, tuple)):
                return any(x == expected for x in v)
            return bool(v == expected)
        return eq_plain

    def eq(row: Row) -> bool:
        v = row.get(field)
        if isinstance(v, (list, tuple)) and not isinstance(expected, tuple):
            return any(_eq(x, expected) for x in v)
        return _eq(v, expected)
    return eq


def _conjunction(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]

    def every(row: Row) -> bool:
        for p in preds:
            if not p(row):
                return False
        return True
    return every


def _disjunction(preds: list[Predicate]) -> Predicate:
    def some(row: Row) -> bool:
        for p in preds:
            if p(row):
                return True
        return False
    return some


def compile_where(where: Any, fields: Mapping[str, str] | None = None,
                  loc: tuple[str | int, ...] = ()) -> Predicate:
    """Compile a `where` mapping; refuse unknown fields (when `fields` is given) and modifiers."""
    if where is None:
        return lambda row: True
    if not isinstance(where, Mapping):
        raise WhereError("a condition block must be a mapping of field|modifier: value", loc)
    preds: list[Predicate] = []
    for key, expected in where.items():
        sub = loc + (str(key),)
        if key in ("any_of", "all_of"):
            if not isinstance(expected, list) or not expected:
                raise WhereError(f"{key} needs a non-empty list of condition mappings", sub)
            parts = [compile_where(item, fields, sub + (i,)) for i, item in enumerate(expected)]
            preds.append(_disjunction(parts) if key == "any_of" else _conjunction(parts))
            continue
        if key == "not":
            inner = compile_where(expected, fields, sub)
            def negation(row: Row, inner: Predicate = inner) -> bool:
                return not inner(row)
            preds.append(negation)
            continue
        field, _, op = str(key).partition("|")
        op = op or "eq"
        if op not in MODIFIERS:
            raise WhereError(f"unknown modifier {op!r} (known: {', '.join(MODIFIERS)})", sub)
        if fields is not None and field not in fields:
            raise WhereError(f"unknown field {field!r} for this subject (known: {', '.join(sorted(fields))})",
                             sub)
        preds.append(_leaf(field, op, expected, sub))
    return _conjunction(preds) if preds else (lambda row: True)


def fill(template: str, row: Row) -> str:
    """Fill `{field}` placeholders from the row.

    A field the row has but with no value reads "unknown" (a device without a name must not
    show a raw placeholder to a biomedical engineer); a field the row does not have is left as is.
    """
    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in row:
            return m.group(0)
        value = row.get(m.group(1))
        if value is None or value == "" or value == [] or value == ():
            return "unknown"
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", repl, template or "")
