"""A repeat lead fills the empty fields of the lead it merges into."""

from __future__ import annotations

from typing import Any

import pytest

from neuronx.leads.store import merge_fields

CURRENT: dict[str, Any] = {
    "email": "ada@acme.io",
    "phone": None,
    "first_name": "",
    "company": "Acme",
    "tags": [],
    "employees": 0,
    "consent": False,
    "issues": [],
}


def test_fills_only_empty_fields() -> None:
    repeat = {
        "email": "other@acme.io",
        "phone": "+14155552671",
        "first_name": "Ada",
        "company": "Other Corp",
        "tags": ["vip"],
        "employees": 250,
        "consent": True,
        "title": "CTO",
    }
    merged, filled = merge_fields(CURRENT, repeat)
    assert merged == {
        "email": "ada@acme.io",
        "phone": "+14155552671",
        "first_name": "Ada",
        "company": "Acme",
        "tags": ["vip"],
        "employees": 0,
        "consent": False,
        "issues": [],
        "title": "CTO",
    }
    assert filled == ["phone", "first_name", "tags", "title"]


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_repeat_values_change_nothing(empty: object) -> None:
    repeat = dict.fromkeys(CURRENT, empty)
    merged, filled = merge_fields(CURRENT, repeat)
    assert merged == CURRENT
    assert filled == []


def test_never_overwrites_a_value() -> None:
    current = {"email": "ada@acme.io", "country": "DE", "score": 0, "vip": False}
    repeat = {"email": "x@y.io", "country": "FR", "score": 50, "vip": True}
    merged, filled = merge_fields(current, repeat)
    assert merged == current
    assert filled == []


def test_issues_are_skipped() -> None:
    merged, filled = merge_fields({"issues": []}, {"issues": ["phone_invalid"]})
    assert merged == {"issues": []}
    assert filled == []
    merged, filled = merge_fields({}, {"issues": ["phone_invalid"]})
    assert merged == {}
    assert filled == []


def test_inputs_are_not_changed() -> None:
    current = {"phone": None}
    repeat = {"phone": "+14155552671"}
    merged, filled = merge_fields(current, repeat)
    assert merged == {"phone": "+14155552671"}
    assert filled == ["phone"]
    assert current == {"phone": None}
    assert repeat == {"phone": "+14155552671"}


def test_filled_follows_the_repeats_order() -> None:
    merged, filled = merge_fields({}, {"b": 1, "a": 2, "c": None})
    assert merged == {"b": 1, "a": 2}
    assert filled == ["b", "a"]
