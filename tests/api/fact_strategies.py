"""Hypothesis strategies for observation records of every kind (tests of the facts store).

Each field gets a value of its annotated type, or is left at its default, so the records cover
what the schema allows, not only what the detectors emit today.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from collector.schema import Observation, kinds

TIMES = st.floats(min_value=0.0, max_value=4e9, allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=12)


def value_of(annotation: Any, name: str = "") -> st.SearchStrategy[Any]:
    """A strategy for a field of type `annotation` (its name picks the ranges of times and counts)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([value_of(a, name) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(value_of(args[0]), max_size=3).map(tuple)
    if origin is list:
        return st.lists(value_of(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(TEXT, value_of(args[1]), max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=1, max_value=10**6) if name == "count" else st.integers(-2**40, 2**40)
    if annotation is float:
        return TIMES if name.endswith("ts") else st.floats(allow_nan=False, allow_infinity=False)
    if annotation is str:
        return TEXT
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_of(annotation)
    raise NotImplementedError(f"no strategy for {annotation!r}")


def model_of(cls: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Instances of `cls`: required fields always drawn, optional ones drawn or left at their default."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in cls.model_fields.items():
        if name == "kind":
            continue
        drawn = value_of(info.annotation, name)
        fields[name] = drawn if info.is_required() else st.one_of(st.just(...), drawn)
    return st.fixed_dictionaries(fields).map(
        lambda values: cls.model_validate({k: v for k, v in values.items() if v is not ...}))


KINDS = sorted(kinds())


@functools.cache  # one strategy per kind: hypothesis validates a new strategy object at its first draw
def observation(kind: str) -> st.SearchStrategy[Observation]:
    return model_of(kinds()[kind])
