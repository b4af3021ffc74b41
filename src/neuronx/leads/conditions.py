"""The condition language of scoring and routing rules, evaluated without ``eval``.

A condition is ``{field: F, OP: VALUE}`` with OP one of ``eq ne in not_in gt
gte lt lte contains matches exists``, or a combination ``{all: [...]}``,
``{any: [...]}``, ``{not: {...}}``. Fields are looked up in the lead by name;
a dotted name reaches into nested objects (``utm.source``).

Rules of thumb a tenant can rely on:

- a missing field (or ``null``) fails every operator except ``ne``,
  ``not_in`` and ``exists: false``;
- ``gt gte lt lte`` compare numbers, and numeric strings as numbers; anything
  else fails them;
- ``contains`` is a case-insensitive substring test on text, and membership
  on lists; ``matches`` is a regular-expression search on text;
- ``eq ne in not_in`` compare exactly, except that text is compared without
  regard to case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = ["describe", "evaluate", "lookup"]

_MISSING = object()


def lookup(fields: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` in ``fields``, following dots; ``_MISSING`` if absent."""
    if name in fields:
        return fields[name]
    value: Any = fields
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def evaluate(condition: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    if "all" in condition:
        return all(evaluate(item, fields) for item in condition["all"])
    if "any" in condition:
        return any(evaluate(item, fields) for item in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], fields)

    value = lookup(fields, condition["field"])
    operator, expected = _operator(condition)
    return _apply(operator, value, expected)


def describe(condition: Mapping[str, Any]) -> str:
    """A short human reading of a condition, for explanations."""
    if "all" in condition:
        return "(" + " and ".join(describe(item) for item in condition["all"]) + ")"
    if "any" in condition:
        return "(" + " or ".join(describe(item) for item in condition["any"]) + ")"
    if "not" in condition:
        return "not " + describe(condition["not"])
    operator, expected = _operator(condition)
    return f"{condition['field']} {operator} {expected!r}"


def _operator(condition: Mapping[str, Any]) -> tuple[str, Any]:
    for key, expected in condition.items():
        if key != "field":
            return key, expected
    raise ValueError("a condition has an operator")


def _apply(operator: str, value: Any, expected: Any) -> bool:
    if operator == "exists":
        present = value is not _MISSING and value is not None and value != ""
        return present is bool(expected)
    absent = value is _MISSING or value is None
    if operator == "ne":
        return absent or not _equal(value, expected)
    if operator == "not_in":
        return absent or not any(_equal(value, item) for item in expected)
    if absent:
        return False
    if operator == "eq":
        return _equal(value, expected)
    if operator == "in":
        return any(_equal(value, item) for item in expected)
    if operator in ("gt", "gte", "lt", "lte"):
        return _compare(operator, value, expected)
    if operator == "contains":
        return _contains(value, expected)
    if operator == "matches":
        return (
            isinstance(value, str) and _regex(str(expected)).search(value) is not None
        )
    raise ValueError(f"unknown operator {operator!r}")


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(value, str) and isinstance(expected, str):
        return value.casefold() == expected.casefold()
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _compare(operator: str, value: Any, expected: Any) -> bool:
    left, right = _number(value), _number(expected)
    if left is None or right is None:
        return False
    if operator == "gt":
        return left > right
    if operator == "gte":
        return left >= right
    if operator == "lt":
        return left < right
    return left <= right


def _contains(value: Any, expected: Any) -> bool:
    if isinstance(value, str):
        return isinstance(expected, str) and expected.casefold() in value.casefold()
    if isinstance(value, list):
        return any(_equal(item, expected) for item in value)
    return False


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
