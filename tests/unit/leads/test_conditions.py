"""The condition language: every operator, missing values, nesting, descriptions."""

from __future__ import annotations

from typing import Any

import pytest

from neuronx.leads.conditions import describe, evaluate, lookup

LEAD: dict[str, Any] = {
    "email": "ada@acme.io",
    "country": "DE",
    "title": "VP of Sales",
    "employees": 250,
    "employees_text": "250",
    "revenue": 1.5,
    "consent": True,
    "flag_int": 1,
    "tags": ["Enterprise", "inbound"],
    "empty_text": "",
    "nothing": None,
    "utm": {"source": "LinkedIn", "meta": {"depth": 3}},
    "plain.dotted": "literal",
}


def holds(condition: dict[str, Any], fields: dict[str, Any] | None = None) -> bool:
    return evaluate(condition, LEAD if fields is None else fields)


# --- eq / ne -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "country", "eq": "DE"}, True),
        ({"field": "country", "eq": "FR"}, False),
        ({"field": "country", "eq": "de"}, True),
        ({"field": "email", "eq": "ADA@ACME.IO"}, True),
        ({"field": "employees", "eq": 250}, True),
        ({"field": "employees", "eq": 251}, False),
        ({"field": "revenue", "eq": 1.5}, True),
        ({"field": "consent", "eq": True}, True),
        ({"field": "consent", "eq": False}, False),
    ],
)
def test_eq(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "country", "ne": "FR"}, True),
        ({"field": "country", "ne": "DE"}, False),
        ({"field": "country", "ne": "de"}, False),
        ({"field": "employees", "ne": 250}, False),
        ({"field": "employees", "ne": 10}, True),
    ],
)
def test_ne(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_text_equality_ignores_case_both_ways() -> None:
    fields = {"industry": "SaaS"}
    assert holds({"field": "industry", "eq": "saas"}, fields)
    assert holds({"field": "industry", "eq": "SAAS"}, fields)
    assert not holds({"field": "industry", "ne": "sAaS"}, fields)
    assert holds({"field": "industry", "in": ["fintech", "saas"]}, fields)
    assert not holds({"field": "industry", "not_in": ["SAAS"]}, fields)


def test_booleans_never_equal_numbers() -> None:
    assert not holds({"field": "consent", "eq": 1})
    assert holds({"field": "consent", "ne": 1})
    assert not holds({"field": "flag_int", "eq": True})
    assert holds({"field": "flag_int", "ne": True})
    assert not holds({"field": "consent", "in": [1, 2]})
    assert holds({"field": "consent", "not_in": [1]})
    assert not holds({"field": "zero", "eq": False}, {"zero": 0})
    assert holds({"field": "flag_int", "eq": 1})


def test_eq_is_exact_between_text_and_numbers() -> None:
    assert not holds({"field": "employees_text", "eq": 250})
    assert not holds({"field": "employees", "eq": "250"})


# --- in / not_in ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "country", "in": ["DE", "FR"]}, True),
        ({"field": "country", "in": ["de", "fr"]}, True),
        ({"field": "country", "in": ["US", "CA"]}, False),
        ({"field": "country", "in": []}, False),
        ({"field": "employees", "in": [100, 250]}, True),
        ({"field": "employees", "in": [100, 200]}, False),
    ],
)
def test_in(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "country", "not_in": ["US", "CA"]}, True),
        ({"field": "country", "not_in": ["DE", "FR"]}, False),
        ({"field": "country", "not_in": ["de"]}, False),
        ({"field": "country", "not_in": []}, True),
        ({"field": "employees", "not_in": [250]}, False),
    ],
)
def test_not_in(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


# --- gt gte lt lte ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "bound", "expected"),
    [
        ("gt", 249, True),
        ("gt", 250, False),
        ("gte", 250, True),
        ("gte", 251, False),
        ("lt", 251, True),
        ("lt", 250, False),
        ("lte", 250, True),
        ("lte", 249, False),
    ],
)
def test_ordering_operators(operator: str, bound: int, expected: bool) -> None:
    assert holds({"field": "employees", operator: bound}) is expected


@pytest.mark.parametrize(
    ("operator", "bound", "expected"),
    [
        ("gt", 249, True),
        ("gt", 250, False),
        ("gte", "250", True),
        ("lt", 1000, True),
        ("lte", "249.5", False),
    ],
)
def test_numeric_strings_compare_as_numbers(
    operator: str, bound: int | str, expected: bool
) -> None:
    assert holds({"field": "employees_text", operator: bound}) is expected


def test_numeric_strings_compare_numerically_not_lexically() -> None:
    fields = {"employees": "9"}
    assert holds({"field": "employees", "lt": 10}, fields)
    assert holds({"field": "employees", "lt": "10"}, fields)
    assert not holds({"field": "employees", "gt": "10"}, fields)
    assert holds({"field": "employees", "gte": 8.5}, {"employees": " 9 "})


def test_floats_compare() -> None:
    assert holds({"field": "revenue", "gt": 1})
    assert holds({"field": "revenue", "lt": 2})
    assert not holds({"field": "revenue", "gte": 1.51})


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize(
    "value", ["many", True, False, ["1"], {"n": 1}, "", "12 employees"]
)
def test_ordering_fails_on_non_numbers(operator: str, value: object) -> None:
    assert not holds({"field": "v", operator: 0}, {"v": value})
    assert not holds({"field": "v", operator: 100}, {"v": value})


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_ordering_fails_against_a_non_numeric_bound(operator: str) -> None:
    assert not holds({"field": "employees", operator: "lots"})
    assert not holds({"field": "employees", operator: True})


# --- contains / matches -----------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "title", "contains": "sales"}, True),
        ({"field": "title", "contains": "SALES"}, True),
        ({"field": "title", "contains": "marketing"}, False),
        ({"field": "email", "contains": "@acme."}, True),
        ({"field": "tags", "contains": "enterprise"}, True),
        ({"field": "tags", "contains": "Inbound"}, True),
        ({"field": "tags", "contains": "smb"}, False),
        ({"field": "tags", "contains": "Enter"}, False),
        ({"field": "employees", "contains": "25"}, False),
        ({"field": "title", "contains": 5}, False),
    ],
)
def test_contains(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_contains_on_a_list_of_numbers_is_membership() -> None:
    fields = {"ids": [1, 2, 3]}
    assert holds({"field": "ids", "contains": 2}, fields)
    assert not holds({"field": "ids", "contains": 4}, fields)
    assert not holds({"field": "ids", "contains": True}, {"ids": [1]})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "email", "matches": r"@acme\.io$"}, True),
        ({"field": "email", "matches": r"^ada"}, True),
        ({"field": "email", "matches": r"acme"}, True),
        ({"field": "email", "matches": r"^acme"}, False),
        ({"field": "email", "matches": r"@gmail\.com$"}, False),
        ({"field": "title", "matches": r"\bVP\b"}, True),
        ({"field": "employees", "matches": r"250"}, False),
        ({"field": "tags", "matches": r"Enterprise"}, False),
    ],
)
def test_matches(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


# --- exists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "present"),
    [
        ("email", True),
        ("employees", True),
        ("consent", True),
        ("tags", True),
        ("utm.source", True),
        ("missing", False),
        ("nothing", False),
        ("empty_text", False),
        ("utm.missing", False),
    ],
)
def test_exists(field: str, present: bool) -> None:
    assert holds({"field": field, "exists": True}) is present
    assert holds({"field": field, "exists": False}) is not present


def test_exists_counts_false_and_zero_as_present() -> None:
    fields = {"consent": False, "employees": 0}
    assert holds({"field": "consent", "exists": True}, fields)
    assert holds({"field": "employees", "exists": True}, fields)


# --- missing and null -----------------------------------------------------------------

FAILING_WHEN_ABSENT: list[dict[str, Any]] = [
    {"eq": "x"},
    {"eq": None},
    {"in": ["x", None]},
    {"gt": 0},
    {"gte": 0},
    {"lt": 10},
    {"lte": 10},
    {"contains": "x"},
    {"matches": ".*"},
    {"exists": True},
]
HOLDING_WHEN_ABSENT: list[dict[str, Any]] = [
    {"ne": "x"},
    {"ne": None},
    {"not_in": ["x"]},
    {"not_in": []},
    {"exists": False},
]


@pytest.mark.parametrize("fields", [{}, {"f": None}], ids=["missing", "null"])
@pytest.mark.parametrize("operation", FAILING_WHEN_ABSENT, ids=str)
def test_absent_field_fails_every_other_operator(
    fields: dict[str, Any], operation: dict[str, Any]
) -> None:
    assert evaluate({"field": "f", **operation}, fields) is False


@pytest.mark.parametrize("fields", [{}, {"f": None}], ids=["missing", "null"])
@pytest.mark.parametrize("operation", HOLDING_WHEN_ABSENT, ids=str)
def test_absent_field_holds_for_ne_not_in_and_exists_false(
    fields: dict[str, Any], operation: dict[str, Any]
) -> None:
    assert evaluate({"field": "f", **operation}, fields) is True


def test_missing_nested_field_behaves_like_missing() -> None:
    assert not holds({"field": "utm.campaign", "eq": "spring"})
    assert holds({"field": "utm.campaign", "ne": "spring"})
    assert not holds({"field": "country.code", "eq": "DE"})
    assert holds({"field": "country.code", "exists": False})


# --- dotted lookups -------------------------------------------------------------------


def test_dotted_lookup_reaches_into_nested_objects() -> None:
    assert holds({"field": "utm.source", "eq": "linkedin"})
    assert holds({"field": "utm.meta.depth", "gte": 3})
    assert not holds({"field": "utm.meta.depth", "gt": 3})
    assert lookup(LEAD, "utm.meta.depth") == 3
    assert lookup(LEAD, "utm") == {"source": "LinkedIn", "meta": {"depth": 3}}


def test_a_key_containing_a_dot_is_found_as_is() -> None:
    assert lookup(LEAD, "plain.dotted") == "literal"
    assert holds({"field": "plain.dotted", "eq": "LITERAL"})


def test_lookup_of_an_absent_name_is_not_none() -> None:
    assert lookup(LEAD, "nothing") is None
    assert lookup(LEAD, "missing") is not None
    assert lookup(LEAD, "email.domain") is lookup(LEAD, "missing")


# --- all / any / not ------------------------------------------------------------------

DE = {"field": "country", "eq": "DE"}
FR = {"field": "country", "eq": "FR"}
BIG = {"field": "employees", "gte": 200}
SMALL = {"field": "employees", "lt": 50}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"all": [DE, BIG]}, True),
        ({"all": [DE, SMALL]}, False),
        ({"all": [FR, BIG]}, False),
        ({"all": []}, True),
        ({"any": [FR, BIG]}, True),
        ({"any": [FR, SMALL]}, False),
        ({"any": [DE]}, True),
        ({"any": []}, False),
        ({"not": DE}, False),
        ({"not": FR}, True),
        ({"not": {"not": DE}}, True),
        ({"all": [DE, {"any": [SMALL, {"not": FR}]}]}, True),
        ({"all": [DE, {"any": [SMALL, {"not": DE}]}]}, False),
        ({"any": [{"all": [FR, BIG]}, {"all": [DE, BIG]}]}, True),
        ({"not": {"all": []}}, False),
        ({"not": {"any": []}}, True),
        ({"not": {"field": "missing", "eq": 1}}, True),
    ],
)
def test_combinations(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_unknown_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        holds({"field": "country", "like": "D%"})


# --- describe -------------------------------------------------------------------------


def test_describe_a_leaf() -> None:
    assert describe({"field": "employees", "gte": 200}) == "employees gte 200"
    assert describe({"field": "country", "in": ["DE", "FR"]}) == (
        "country in ['DE', 'FR']"
    )
    assert describe({"field": "email", "exists": True}) == "email exists True"
    assert describe({"field": "utm.source", "eq": "ads"}) == "utm.source eq 'ads'"


def test_describe_combinations() -> None:
    condition = {
        "all": [
            {"field": "country", "in": ["DE", "FR"]},
            {"any": [{"field": "score", "gte": 40}, {"not": SMALL}]},
        ]
    }
    assert describe(condition) == (
        "(country in ['DE', 'FR'] and (score gte 40 or not employees lt 50))"
    )
    assert describe({"not": DE}) == "not country eq 'DE'"
