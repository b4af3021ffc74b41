"""Scoring: points per matching rule, grades by the highest threshold reached."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronx.leads.conditions import evaluate
from neuronx.leads.scoring import Scored, grade_for, score

GRADES = {"A": 60, "B": 40, "C": 20}
SCORING: dict[str, Any] = {
    "rules": [
        {"name": "big", "if": {"field": "employees", "gte": 200}, "points": 20},
        {"if": {"field": "country", "in": ["DE", "FR"]}, "points": 15},
        {"name": "exec", "if": {"field": "seniority", "eq": "executive"}, "points": 25},
        {"if": {"field": "free_mail", "eq": True}, "points": -10},
    ],
    "grades": GRADES,
}


def test_points_add_up_and_fired_names_rules() -> None:
    lead = {"employees": 500, "country": "DE", "seniority": "executive"}
    result = score(lead, SCORING)
    assert result.score == 60
    assert result.grade == "A"
    assert [item["rule"] for item in result.fired] == ["big", "rule 2", "exec"]
    assert [item["points"] for item in result.fired] == [20, 15, 25]
    assert result.fired[0]["condition"] == "employees gte 200"
    assert result.fired[1]["condition"] == "country in ['DE', 'FR']"


def test_unnamed_rules_are_numbered_from_one_by_position() -> None:
    result = score({"free_mail": True, "country": "FR"}, SCORING)
    assert [item["rule"] for item in result.fired] == ["rule 2", "rule 4"]
    assert result.score == 5
    assert result.grade is None


def test_negative_points_subtract() -> None:
    result = score({"free_mail": True}, SCORING)
    assert result.score == -10
    assert result.fired == [
        {"rule": "rule 4", "points": -10, "condition": "free_mail eq True"}
    ]


def test_nothing_fires_on_an_empty_lead() -> None:
    assert score({}, SCORING) == Scored(0, None, [])


def test_no_rules_and_no_grades() -> None:
    assert score({"employees": 1}, {}) == Scored(0, None, [])


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        (100, "A"),
        (60, "A"),
        (59, "B"),
        (40, "B"),
        (39, "C"),
        (20, "C"),
        (19, None),
        (0, None),
        (-5, None),
    ],
)
def test_grade_by_highest_threshold_reached(total: int, grade: str | None) -> None:
    assert grade_for(total, GRADES) == grade


def test_grade_order_in_the_mapping_does_not_matter() -> None:
    assert grade_for(45, {"C": 20, "A": 60, "B": 40}) == "B"
    assert grade_for(45, {}) is None


def test_grade_applies_to_the_scored_total() -> None:
    lead = {"employees": 200, "country": "FR"}
    result = score(lead, SCORING)
    assert (result.score, result.grade) == (35, "C")


# --- property: the score is the sum of the points of the conditions that hold ---

FIELD_NAMES = ("employees", "country", "title", "consent", "tags")
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.sampled_from(["DE", "fr", "US", "ceo", "Head of Sales", "200", "", "x"]),
    st.lists(st.sampled_from(["a", "B", "c"]), max_size=3),
)
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains")


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from((*OPERATORS, "exists", "matches")))
    if operator in ("in", "not_in"):
        expected: Any = draw(st.lists(VALUES, max_size=3))
    elif operator == "exists":
        expected = draw(st.booleans())
    elif operator == "matches":
        expected = draw(st.sampled_from(["^D", "e", r"\d+", "sales$"]))
    else:
        expected = draw(VALUES)
    return {"field": draw(st.sampled_from(FIELD_NAMES)), operator: expected}


CONDITIONS = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(inner, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=6,
)
RULES = st.lists(
    st.fixed_dictionaries(
        {"if": CONDITIONS, "points": st.integers(-50, 50)},
        optional={"name": st.text(min_size=1, max_size=8)},
    ),
    max_size=6,
)
LEADS = st.dictionaries(st.sampled_from(FIELD_NAMES), VALUES)


@settings(max_examples=200, deadline=None, database=None)
@given(rules=RULES, lead=LEADS)
def test_score_is_the_sum_of_points_of_rules_that_hold(
    rules: list[dict[str, Any]], lead: dict[str, Any]
) -> None:
    result = score(lead, {"rules": rules, "grades": GRADES})
    holding = [rule for rule in rules if evaluate(rule["if"], lead)]
    assert result.score == sum(rule["points"] for rule in holding)
    assert [item["points"] for item in result.fired] == [
        rule["points"] for rule in holding
    ]
    assert result.grade == grade_for(result.score, GRADES)
