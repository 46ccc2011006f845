"""The rule condition vocabulary: every modifier, list semantics, nesting, load-time refusals."""

from __future__ import annotations

import pytest

from analyzer.rules.match import WhereError, compile_where, fill

ROW = {"n": 5, "s": "Philips Medical", "l": ["dicom/client", "hl7/server"], "b": True, "none": None, "e": []}


@pytest.mark.parametrize(("where", "expected"), [
    ({"n": 5}, True), ({"n|eq": 4}, False), ({"n|ne": 4}, True), ({"b": True}, True), ({"b": 1}, False),
    ({"n|in": [1, 5]}, True), ({"n|not_in": [1, 5]}, False), ({"l|in": ["hl7/server"]}, True),
    ({"l|not_in": ["x"]}, True), ({"n|gt": 5}, False), ({"n|gte": 5}, True), ({"n|lt": 6}, True),
    ({"n|lte": 4}, False), ({"none|gt": 0}, False), ({"s|contains": "medical"}, True),
    ({"l|contains": "hl7/server"}, True), ({"l|contains": "hl7"}, True), ({"l|contains": "smb"}, False), ({"s|startswith": "phil"}, True),
    ({"s|endswith": "philips"}, False), ({"l|endswith": "/client"}, True), ({"s|re": "^phil.*cal$"}, True),
    ({"l|re": "^smb"}, False), ({"none|exists": False}, True), ({"missing|exists": False}, True),
    ({"e|exists": True}, False), ({"s|exists": True}, True), ({"l|len_gt": 1}, True), ({"e|len_gt": 0}, False),
    ({"l": "dicom/client"}, True), ({"missing": None}, True),
    ({"any_of": [{"n": 1}, {"b": True}]}, True), ({"any_of": [{"n": 1}, {"b": False}]}, False),
    ({"all_of": [{"n": 5}, {"b": True}]}, True), ({"all_of": [{"n": 5}, {"b": False}]}, False),
    ({"not": {"n": 5}}, False), ({"n": 5, "not": {"any_of": [{"s|contains": "ge"}]}}, True),
])
def test_operators(where: dict, expected: bool) -> None:
    assert compile_where(where)(ROW) is expected


@pytest.mark.parametrize(("where", "message"), [
    ({"n|huge": 1}, "unknown modifier"), ({"q": 1}, "unknown field 'q'"), ({"n|in": 3}, "needs a list"),
    ({"n|gt": "x"}, "needs a number"), ({"n|exists": "yes"}, "true or false"), ({"s|re": "("}, "bad regular"),
    ({"any_of": []}, "non-empty list"), ({"not": [1]}, "mapping"),
])
def test_refusals(where: dict, message: str) -> None:
    with pytest.raises(WhereError, match=message):
        compile_where(where, {"n": "", "s": ""})


def test_refusal_location_nested() -> None:
    with pytest.raises(WhereError) as exc:
        compile_where({"any_of": [{"n": 1}, {"zz": 2}]}, {"n": ""}, ("match", "where"))
    assert exc.value.loc == ("match", "where", "any_of", 1, "zz")


def test_fill_template() -> None:
    assert fill("Move {host} ({ips}) {unknown}", {"host": "CT-01", "ips": ["10.0.0.1", "10.0.0.2"]}) == \
        "Move CT-01 (10.0.0.1, 10.0.0.2) {unknown}"


def test_fill_template_empty_values_read_unknown() -> None:
    assert fill("Sheet for {hostname} ({mac})", {"hostname": None, "mac": "00:09:fb:20:01:07"}) == \
        "Sheet for unknown (00:09:fb:20:01:07)"


def _reference_eq(value: object, expected: object) -> bool:
    """The eq semantics as first written (one generic path), which the compiled predicates specialise."""
    from analyzer.rules.match import _eq, _items

    if isinstance(value, (list, tuple)) and not isinstance(expected, (list, tuple)):
        return any(_eq(x, expected) for x in value)
    return _eq(value, expected) if not isinstance(expected, list) else list(_items(value)) == expected


VALUES: list[object] = [None, True, False, 0, 1, 5, 5.0, 2.5, "5", "dicom", "", [], ["dicom", 5], [True], (1, "x"),
                        [None], ["5"]]


@pytest.mark.parametrize("expected", [None, True, False, 0, 1, 5, 5.0, "5", "dicom", "", [], ["dicom", 5], [5],
                                      ["dicom", "5"], [""]],
                         ids=repr)
def test_eq_in_specialisations_keep_the_generic_semantics(expected: object) -> None:
    from analyzer.rules.match import _eq, _items

    for value in [*VALUES, "missing"]:
        row = {} if value == "missing" else {"f": value}
        ref_value = None if value == "missing" else value
        assert compile_where({"f": expected})(row) is _reference_eq(ref_value, expected), (value, expected)
        assert compile_where({"f|ne": expected})(row) is (not _reference_eq(ref_value, expected))
        if isinstance(expected, list):
            want = any(any(_eq(x, a) for a in expected) for x in _items(ref_value))
            assert compile_where({"f|in": expected})(row) is want, (value, expected)
            assert compile_where({"f|not_in": expected})(row) is (not want)
