"""Turn pydantic validation errors into `Problem`s: located in the file, saying what is wrong and what is right.

Each pydantic error `loc` is a path into the document; `Positions` maps it to a line and column
(unknown and missing keys point at the key or its parent, bad values at the value). Unknown keys
get a did-you-mean from difflib over the keys the model allows at that place.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from enum import Enum
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.desired.model import ServiceGroup
from reconciler.desired.positions import Loc, Positions, dotted
from reconciler.errors import Problem

_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_PATTERN_HINTS = {
    "resource_group": "a dedicated resource group ID looks like eas-r-abc123",
    "region": "a region ID looks like cn-shanghai or ap-southeast-1",
    "path": "a path starts with /, e.g. /predict",
}


def _inner_types(annotation: Any) -> Iterable[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, dict):
        for arg in get_args(annotation):
            yield from _inner_types(arg)
    else:
        yield annotation


def _field_named(cls: type[BaseModel], key: str | int) -> Any:
    for name, field in cls.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the object at `loc` (None inside free-form values)."""
    cls: type[BaseModel] = ServiceGroup
    for part in loc:
        if isinstance(part, int):
            continue  # list index: same item model
        field = _field_named(cls, part)
        if field is None:
            return None
        nested = [t for t in _inner_types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            return None
        cls = nested[0]
    return cls


def _field_info(loc: Loc) -> Any:
    parent = _model_at([p for p in loc[:-1]])
    return _field_named(parent, loc[-1]) if parent is not None and loc else None


def _keys_of(cls: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in cls.model_fields.items()]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(err: ErrorDetails, pos: Positions) -> Problem:
    loc = err["loc"]
    key, parent = str(loc[-1]), loc[:-1]
    where = f"in {dotted(parent)}" if parent else "at the top level"
    allowed = _keys_of(_model_at(parent) or ServiceGroup)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "allowed keys: " + ", ".join(allowed)
    if not close and len(parent) >= 2 and parent[-2] == "services":
        hint += "; other EAS service-config keys go under config"
    return pos.at_key(loc, f"unknown key '{key}' {where}", hint)


def _missing(err: ErrorDetails, pos: Positions) -> Problem:
    loc = err["loc"]
    field = _field_info(loc)
    hint = field.description if field is not None and field.description else ""
    parent = loc[:-1]
    where = f"in {dotted(parent)}" if parent else "at the top level"
    line, col = pos.key(parent) if parent else (1, 1)
    return Problem(pos.file, line, col, f"missing required key '{loc[-1]}' {where}", hint)


def _conflict(err: ErrorDetails, pos: Positions) -> Problem:
    loc = tuple(err["loc"])
    at = (err.get("ctx") or {}).get("at")
    target = (*loc, at) if at and pos.exists((*loc, at)) else loc
    hint = str((err.get("ctx") or {}).get("hint", ""))
    return pos.at_key(target, f"{dotted(loc)}: {err['msg']}", hint)


def _enum_hint(loc: Loc, value: Any) -> str:
    field = _field_info(loc)
    enums = [t for t in _inner_types(field.annotation) if isinstance(t, type) and issubclass(t, Enum)] if field else []
    if not enums or not isinstance(value, str):
        return ""
    choices = [str(m.value) for m in enums[0]]
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else ""


def _range_hint(field: Any) -> str:
    """`allowed: 0 to 1000` from a field's ge/gt/le/lt constraints ('' when it has none)."""
    b = {name: getattr(m, name) for m in getattr(field, "metadata", []) for name in ("ge", "gt", "le", "lt")
         if getattr(m, name, None) is not None}
    if "ge" in b and "le" in b:
        return f"allowed: {b['ge']} to {b['le']}"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    parts = [f"{words[name]} {value}" for name, value in b.items()]
    return "allowed: " + " and ".join(parts) if parts else ""


def _number_text_hint(value: str, kind: str, loc: Loc) -> str:
    """Why text is not the number it looks like: quotes (`"4"`) or a unit (`1000MB`)."""
    try:
        float(value)
    except ValueError:
        unit = value.lstrip("0123456789. ")
        field = _field_info(loc)
        unit_is = f": {field.description}" if field is not None and field.description else ""
        return f"write the number alone, without '{unit}'{unit_is}" if unit != value else ""
    return "write the number without quotes" if kind == "float_type" or value.strip().isdigit() else ""


def _bad_value(err: ErrorDetails, pos: Positions) -> Problem:
    loc, kind, value = err["loc"], err["type"], err.get("input")
    key_error = len(loc) > 1 and loc[-1] == "[key]"  # a mapping key's own error: pydantic adds "[key]"
    if key_error:
        loc, kind = loc[:-1], "invalid_key"
    path = f"{dotted(loc[:-1])} key" if key_error else dotted(loc)
    msg = err["msg"].removeprefix("Value error, ")
    if kind in _TYPE_WORDS:
        message = f"{path} should be {_TYPE_WORDS[kind]}, got {_short(value)}"
    elif kind == "too_short":
        ctx = err.get("ctx") or {}
        message = f"{path} has {ctx.get('actual_length')} item(s): needs at least {ctx.get('min_length')}"
    elif kind == "literal_error":
        message = f"{path} must be {(err.get('ctx') or {}).get('expected', '')}, got {_short(value)}"
    elif kind == "union_tag_invalid":  # a tagged union such as a metric gate: the tag names the kind
        ctx = err.get("ctx") or {}
        tag_key = str(ctx.get("discriminator", "")).strip("'")
        message = f"{path}: {tag_key} {ctx.get('tag')!r} is not known"
        msg = f"known: {ctx.get('expected_tags', '')}"
        loc = (*loc, tag_key) if pos.exists((*loc, tag_key)) else loc
    else:
        msg = msg.replace("Input should", "should").replace("String should", "should")
        message = f"{path} is {_short(value)}: {msg}"
    hint = _enum_hint(loc, value) if kind == "enum" else ""
    if kind == "union_tag_invalid":
        hint = msg
    if kind in ("int_type", "float_type") and isinstance(value, str):
        hint = _number_text_hint(value, kind, loc)
    elif kind == "string_type" and isinstance(value, int | float | bool):
        hint = f"quote it: '{value}'"
    elif kind == "string_pattern_mismatch" and loc:
        hint = _PATTERN_HINTS.get(str(loc[-1]), "")
    hint = hint or str((err.get("ctx") or {}).get("hint", ""))  # a custom error may carry its own
    if not hint:
        field = _field_info(loc)
        hint = _range_hint(field) if kind in _RANGE_ERRORS | {"finite_number"} and field is not None else ""
        hint = hint or (field.description if field is not None and field.description else "")
    if not hint:  # every problem says what would be right, even one pydantic words generically
        hint = "keys are plain text, e.g. name: value" if kind == "invalid_key" else (
            f"`eas-gitops schema` shows what {dotted(loc[:-1])} accepts")
    return (pos.at_key if kind == "invalid_key" else pos.at_value)(loc, message, hint)


def _misspelt(errors: list[ErrorDetails]) -> set[tuple[str | int, ...]]:
    """Missing keys explained by an unknown key next to them (`resouces` for `resources`): one typo, one problem."""
    unknown: dict[tuple[str | int, ...], list[str]] = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            unknown.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))
    return {tuple(err["loc"]) for err in errors if err["type"] == "missing"
            and difflib.get_close_matches(str(err["loc"][-1]), unknown.get(tuple(err["loc"][:-1]), []), 1, 0.6)}


def problems_from(exc: ValidationError, pos: Positions) -> list[Problem]:
    """One `Problem` per pydantic error of a document (a misspelt key is one problem, not also a missing one)."""
    problems = []
    errors = exc.errors(include_url=False)
    explained = _misspelt(errors)
    for err in errors:
        if err["type"] == "extra_forbidden":
            problems.append(_unknown_key(err, pos))
        elif err["type"] == "missing":
            if tuple(err["loc"]) not in explained:
                problems.append(_missing(err, pos))
        elif err["type"] == "conflict":
            problems.append(_conflict(err, pos))
        else:
            problems.append(_bad_value(err, pos))
    return problems
