"""Routing decisions: rules, strategies, rep constraints, time zones, the why."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from neuronx.leads.routing import Decision, Rep, RotationState, decide, local_day

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # a Thursday, 13:00 in Berlin
EVERYONE: dict[str, Any] = {"all": []}


def team_routing(team: str, strategy: str = "round_robin") -> dict[str, Any]:
    """Every lead to ``team`` by ``strategy``; no fallback."""
    return {
        "rules": [{"name": "all", "if": EVERYONE, "team": team, "strategy": strategy}]
    }


def run(
    reps: list[Rep],
    state: RotationState,
    count: int,
    routing: dict[str, Any] | None = None,
) -> list[str | None]:
    routing = routing or team_routing("sales")
    return [decide({}, routing, reps, state, NOW).assigned_to for _ in range(count)]


def on_duty(rep: Rep, now: datetime) -> bool:
    decision = decide({}, team_routing(rep.team), [rep], RotationState(), now)
    return decision.assigned_to == rep.id


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def berlin(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 15, hour, minute, tzinfo=ZoneInfo("Europe/Berlin"))


# --- rules ------------------------------------------------------------------------

RULES: dict[str, Any] = {
    "rules": [
        {"name": "us", "if": {"field": "country", "eq": "US"}, "team": "us"},
        {
            "name": "emea-enterprise",
            "if": {
                "all": [
                    {"field": "country", "in": ["DE", "FR"]},
                    {"field": "score", "gte": 40},
                ]
            },
            "team": "emea",
        },
        {"if": {"field": "country", "in": ["DE", "FR"]}, "team": "emea-smb"},
    ],
    "fallback": {"team": "inbound"},
}
TEAMS = [
    Rep("us-1", "us"),
    Rep("emea-1", "emea"),
    Rep("smb-1", "emea-smb"),
    Rep("in-1", "inbound"),
]


def test_rules_in_order_first_match_wins() -> None:
    decision = decide(
        {"country": "DE", "score": 55}, RULES, TEAMS, RotationState(), NOW
    )
    assert decision == Decision(
        rule="emea-enterprise",
        team="emea",
        strategy="round_robin",
        assigned_to="emea-1",
        explanation=[
            "rule us did not match: country eq 'US'",
            "rule emea-enterprise matched: (country in ['DE', 'FR'] and score gte 40)",
            "assigned to emea-1: next in round robin",
        ],
    )


def test_a_later_rule_matches_when_earlier_ones_do_not() -> None:
    decision = decide(
        {"country": "fr", "score": 10}, RULES, TEAMS, RotationState(), NOW
    )
    assert (decision.rule, decision.team, decision.assigned_to) == (
        "rule 3",
        "emea-smb",
        "smb-1",
    )
    assert decision.explanation[:3] == [
        "rule us did not match: country eq 'US'",
        "rule emea-enterprise did not match: "
        "(country in ['DE', 'FR'] and score gte 40)",
        "rule rule 3 matched: country in ['DE', 'FR']",
    ]


def test_the_first_rule_stops_the_search() -> None:
    decision = decide(
        {"country": "US", "score": 99}, RULES, TEAMS, RotationState(), NOW
    )
    assert decision.rule == "us"
    assert decision.assigned_to == "us-1"
    assert decision.explanation[0] == "rule us matched: country eq 'US'"
    assert not any("emea" in line for line in decision.explanation)


def test_no_rule_matched_goes_to_the_fallback_team_by_round_robin() -> None:
    routing = {
        "rules": [
            {
                "name": "de",
                "if": {"field": "country", "eq": "DE"},
                "team": "emea",
                "strategy": "weighted",
            }
        ],
        "fallback": {"team": "inbound"},
    }
    reps = [Rep("in-b", "inbound"), Rep("in-a", "inbound"), Rep("emea-1", "emea")]
    state = RotationState()
    first = decide({"country": "JP"}, routing, reps, state, NOW)
    assert first == Decision(
        rule=None,
        team="inbound",
        strategy="round_robin",
        assigned_to="in-a",
        explanation=[
            "rule de did not match: country eq 'DE'",
            "no rule matched",
            "falling back to team inbound",
            "assigned to in-a: next in round robin",
        ],
    )
    second = decide({"country": "JP"}, routing, reps, state, NOW)
    assert second.assigned_to == "in-b"


def test_no_rule_and_no_fallback_is_unassigned() -> None:
    decision = decide({}, {"rules": []}, TEAMS, RotationState(), NOW)
    assert decision == Decision(
        None, None, "unassigned", None, ["no rule matched", "left unassigned"]
    )


# --- round robin ------------------------------------------------------------------

ABC = [Rep("c", "sales"), Rep("a", "sales"), Rep("b", "sales"), Rep("x", "other")]


def test_round_robin_exact_rotation() -> None:
    picks = run(ABC, RotationState(), 30)
    assert picks == ["a", "b", "c"] * 10
    assert Counter(picks) == {"a": 10, "b": 10, "c": 10}


def test_round_robin_skips_an_unavailable_rep_and_resumes_after_it() -> None:
    state = RotationState()
    without_b = [
        Rep("a", "sales"),
        Rep("b", "sales", available=False),
        Rep("c", "sales"),
    ]

    assert run(ABC, state, 1) == ["a"]
    skipped = decide({}, team_routing("sales"), without_b, state, NOW)
    assert skipped.assigned_to == "c"
    assert "skipped b: not available" in skipped.explanation
    assert skipped.explanation[-1] == "assigned to c: next in round robin"
    assert run(without_b, state, 3) == ["a", "c", "a"]
    # b is back: the rotation goes on from a to b, then c, as before.
    assert run(ABC, state, 6) == ["b", "c", "a", "b", "c", "a"]


def test_round_robin_state_is_per_team() -> None:
    state = RotationState()
    reps = [*ABC, Rep("y", "other")]
    assert run(reps, state, 2) == ["a", "b"]
    assert run(reps, state, 3, team_routing("other")) == ["x", "y", "x"]
    assert run(reps, state, 1) == ["c"]
    assert state.last == {"sales": "c", "other": "x"}


def test_round_robin_when_the_last_pick_has_left_the_team() -> None:
    state = RotationState(last={"sales": "gone"})
    assert run(ABC, state, 2) == ["a", "b"]


# --- weighted ---------------------------------------------------------------------


def test_weighted_three_to_one_is_exact_and_evenly_interleaved() -> None:
    reps = [
        Rep("heavy", "sales", weight=3),
        Rep("light", "sales", weight=1),
        Rep("zero", "sales", weight=0),
    ]
    picks = run(reps, RotationState(), 10_000, team_routing("sales", "weighted"))
    counts = Counter(picks)
    assert abs(counts["heavy"] / 10_000 - 0.75) <= 0.02
    assert abs(counts["light"] / 10_000 - 0.25) <= 0.02
    assert counts == {"heavy": 7500, "light": 2500}
    assert "zero" not in counts
    for start in range(len(picks) - 3):
        assert picks[start : start + 4].count("heavy") <= 3


def test_weighted_explanation_names_the_share() -> None:
    reps = [Rep("heavy", "sales", weight=3), Rep("light", "sales", weight=1)]
    decision = decide({}, team_routing("sales", "weighted"), reps, RotationState(), NOW)
    assert decision.strategy == "weighted"
    assert decision.assigned_to == "heavy"
    assert decision.explanation[-1] == (
        "assigned to heavy: weighted rotation (weight 3 of 4)"
    )


def test_weighted_with_only_weight_zero_reps_assigns_nobody() -> None:
    reps = [Rep("zero", "sales", weight=0)]
    decision = decide({}, team_routing("sales", "weighted"), reps, RotationState(), NOW)
    assert decision.assigned_to is None
    assert "every eligible rep of team sales has weight 0" in decision.explanation
    assert decision.explanation[-1] == "left unassigned"


def test_weighted_skips_an_unavailable_rep() -> None:
    reps = [
        Rep("heavy", "sales", weight=3, available=False),
        Rep("light", "sales", weight=1),
    ]
    picks = run(reps, RotationState(), 5, team_routing("sales", "weighted"))
    assert picks == ["light"] * 5


# --- load balanced ----------------------------------------------------------------


def test_load_balanced_picks_the_fewest_assigned_today() -> None:
    reps = [
        Rep("a", "sales", assigned_today=5),
        Rep("b", "sales", assigned_today=1),
        Rep("c", "sales", assigned_today=3),
    ]
    decision = decide(
        {}, team_routing("sales", "load_balanced"), reps, RotationState(), NOW
    )
    assert decision.assigned_to == "b"
    assert decision.strategy == "load_balanced"
    assert decision.explanation[-1] == "assigned to b: fewest leads today (1)"


def test_load_balanced_ties_by_id() -> None:
    reps = [
        Rep("c", "sales", assigned_today=2),
        Rep("b", "sales", assigned_today=2),
        Rep("a", "sales", assigned_today=4),
    ]
    routing = team_routing("sales", "load_balanced")
    assert run(reps, RotationState(), 3, routing) == ["b", "b", "b"]


# --- capacity ---------------------------------------------------------------------


def test_a_rep_at_capacity_is_skipped() -> None:
    reps = [
        Rep("a", "sales", capacity_per_day=10, assigned_today=10),
        Rep("b", "sales", capacity_per_day=10, assigned_today=9),
    ]
    decision = decide({}, team_routing("sales"), reps, RotationState(), NOW)
    assert decision.assigned_to == "b"
    assert "skipped a: at capacity (10/10 today)" in decision.explanation
    assert any("at capacity" in line for line in decision.explanation)


def test_capacity_none_is_unlimited() -> None:
    assert on_duty(Rep("a", "sales", assigned_today=10_000), NOW)


def test_capacity_zero_takes_nothing() -> None:
    assert not on_duty(Rep("a", "sales", capacity_per_day=0), NOW)


# --- working hours ----------------------------------------------------------------

BERLIN = Rep("de", "emea", timezone="Europe/Berlin", working_hours="09:00-17:00")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 1, 15, 7, 59), False),  # 08:59 local
        (utc(2026, 1, 15, 8, 0), True),  # 09:00
        (utc(2026, 1, 15, 15, 59), True),  # 16:59
        (utc(2026, 1, 15, 16, 0), False),  # 17:00, the end is excluded
        (utc(2026, 1, 15, 23, 0), False),  # midnight
    ],
)
def test_working_hours_in_the_reps_time_zone(now: datetime, expected: bool) -> None:
    assert on_duty(BERLIN, now) is expected


def test_outside_working_hours_is_explained() -> None:
    decision = decide(
        {}, team_routing("emea"), [BERLIN], RotationState(), utc(2026, 1, 15, 7, 59)
    )
    assert decision.assigned_to is None
    assert "skipped de: outside working hours 09:00-17:00 Europe/Berlin" in (
        decision.explanation
    )


def test_a_time_in_another_zone_is_converted() -> None:
    tokyo = datetime(2026, 1, 15, 16, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 08:30 Berlin
    assert not on_duty(BERLIN, tokyo)
    assert on_duty(BERLIN, tokyo.replace(hour=17))  # 09:00 Berlin


@pytest.mark.parametrize("hours", ["00:00-24:00", None, ""])
@pytest.mark.parametrize("hour", [0, 3, 8, 12, 16, 22, 23])
def test_always_in(hours: str | None, hour: int) -> None:
    rep = Rep("de", "emea", timezone="Europe/Berlin", working_hours=hours)
    assert on_duty(rep, utc(2026, 1, 15, hour, 59))


@pytest.mark.parametrize(
    ("local_hour", "local_minute", "expected"),
    [
        (21, 59, False),
        (22, 0, True),
        (23, 30, True),
        (0, 0, True),
        (3, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_overnight_shift(local_hour: int, local_minute: int, expected: bool) -> None:
    rep = Rep("night", "ops", timezone="Europe/Berlin", working_hours="22:00-06:00")
    assert on_duty(rep, berlin(local_hour, local_minute)) is expected


def test_working_hours_ending_at_midnight() -> None:
    rep = Rep("late", "ops", timezone="Europe/Berlin", working_hours="18:00-24:00")
    assert not on_duty(rep, utc(2026, 1, 15, 16, 59))  # 17:59
    assert on_duty(rep, utc(2026, 1, 15, 17, 0))  # 18:00
    assert on_duty(rep, utc(2026, 1, 15, 22, 59))  # 23:59
    assert not on_duty(rep, utc(2026, 1, 15, 23, 0))  # 00:00


def test_berlin_across_the_spring_dst_switch() -> None:
    # 2026-03-29 01:00 UTC: Europe/Berlin goes from +01:00 to +02:00.
    assert on_duty(BERLIN, utc(2026, 3, 29, 7, 30))  # 09:30 CEST
    assert not on_duty(BERLIN, utc(2026, 3, 28, 7, 30))  # 08:30 CET
    assert on_duty(BERLIN, utc(2026, 3, 29, 7, 0))  # 09:00 CEST
    assert not on_duty(BERLIN, utc(2026, 3, 29, 15, 0))  # 17:00 CEST
    assert on_duty(BERLIN, utc(2026, 3, 28, 15, 0))  # 16:00 CET


def test_new_york_across_the_autumn_dst_switch() -> None:
    # 2026-11-01 06:00 UTC: America/New_York goes from -04:00 to -05:00.
    rep = Rep("ny", "us", timezone="America/New_York", working_hours="09:00-17:00")
    assert on_duty(rep, utc(2026, 10, 31, 13, 30))  # 09:30 EDT
    assert not on_duty(rep, utc(2026, 11, 1, 13, 30))  # 08:30 EST
    assert on_duty(rep, utc(2026, 11, 1, 14, 0))  # 09:00 EST
    assert not on_duty(rep, utc(2026, 10, 31, 21, 30))  # 17:30 EDT
    assert on_duty(rep, utc(2026, 11, 1, 21, 30))  # 16:30 EST
    assert not on_duty(rep, utc(2026, 11, 1, 22, 0))  # 17:00 EST


def test_new_york_repeated_hour() -> None:
    # 01:30 happens twice on 2026-11-01 in New York; both are within 01:00-02:00.
    rep = Rep("ny", "us", timezone="America/New_York", working_hours="01:00-02:00")
    assert on_duty(rep, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert on_duty(rep, utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert not on_duty(rep, utc(2026, 11, 1, 7, 0))  # 02:00 EST


def test_local_day() -> None:
    evening = utc(2026, 1, 15, 20, 0)
    assert local_day(Rep("jp", "apac", timezone="Asia/Tokyo"), evening) == "2026-01-16"
    assert local_day(Rep("u", "x"), evening) == "2026-01-15"
    assert local_day(BERLIN, evening) == "2026-01-15"
    early = utc(2026, 1, 16, 3, 0)
    la = Rep("la", "us", timezone="America/Los_Angeles")
    assert local_day(la, early) == "2026-01-15"
    assert local_day(BERLIN, utc(2026, 1, 15, 23, 0)) == "2026-01-16"


# --- nobody eligible ----------------------------------------------------------------

FALLBACK: dict[str, Any] = {
    "rules": [{"name": "emea", "if": EVERYONE, "team": "emea"}],
    "fallback": {"team": "inbound"},
}


def test_a_team_with_nobody_eligible_falls_back() -> None:
    reps = [Rep("e1", "emea", available=False), Rep("i1", "inbound")]
    decision = decide({}, FALLBACK, reps, RotationState(), NOW)
    assert decision == Decision(
        rule="emea",
        team="inbound",
        strategy="round_robin",
        assigned_to="i1",
        explanation=[
            "rule emea matched: ()",
            "skipped e1: not available",
            "team emea has nobody eligible",
            "falling back to team inbound",
            "assigned to i1: next in round robin",
        ],
    )


def test_a_team_without_members_falls_back() -> None:
    decision = decide({}, FALLBACK, [Rep("i1", "inbound")], RotationState(), NOW)
    assert decision.assigned_to == "i1"
    assert "team emea has nobody eligible" in decision.explanation


def test_nobody_eligible_anywhere_is_unassigned() -> None:
    reps = [
        Rep("e1", "emea", available=False),
        Rep("i1", "inbound", capacity_per_day=1, assigned_today=1),
    ]
    decision = decide({}, FALLBACK, reps, RotationState(), NOW)
    assert decision.assigned_to is None
    assert decision.strategy == "unassigned"
    assert decision.team is None
    assert decision.explanation[-1] == "left unassigned"
    assert "skipped i1: at capacity (1/1 today)" in decision.explanation
    assert "team inbound has nobody eligible" in decision.explanation


def test_the_fallback_is_not_tried_twice() -> None:
    routing = {
        "rules": [{"name": "in", "if": EVERYONE, "team": "inbound"}],
        "fallback": {"team": "inbound"},
    }
    reps = [Rep("i1", "inbound", available=False)]
    decision = decide({}, routing, reps, RotationState(), NOW)
    assert decision.assigned_to is None
    assert decision.explanation == [
        "rule in matched: ()",
        "skipped i1: not available",
        "team inbound has nobody eligible",
        "left unassigned",
    ]


# --- sticky -------------------------------------------------------------------------

STICKY = team_routing("sales", "sticky")


def test_sticky_assigns_the_eligible_account_owner() -> None:
    decision = decide({}, STICKY, ABC, RotationState(), NOW, account_owner="c")
    assert decision.assigned_to == "c"
    assert decision.strategy == "sticky"
    assert decision.explanation[-1] == "assigned to c: owns the account"


def test_sticky_with_an_ineligible_owner_rotates() -> None:
    reps = [Rep("a", "sales"), Rep("b", "sales"), Rep("c", "sales", available=False)]
    state = RotationState()
    decision = decide({}, STICKY, reps, state, NOW, account_owner="c")
    assert decision.assigned_to == "a"
    assert decision.explanation[-3:] == [
        "skipped c: not available",
        "no eligible account owner; rotating instead",
        "assigned to a: next in round robin",
    ]
    assert state.last == {"sales": "a"}


def test_sticky_without_an_owner_rotates() -> None:
    state = RotationState()
    decision = decide({}, STICKY, ABC, state, NOW, account_owner=None)
    assert decision.assigned_to == "a"
    assert "no eligible account owner; rotating instead" in decision.explanation
    picks = [decide({}, STICKY, ABC, state, NOW).assigned_to for _ in range(3)]
    assert picks == ["b", "c", "a"]


def test_sticky_owner_in_another_team_rotates() -> None:
    decision = decide({}, STICKY, ABC, RotationState(), NOW, account_owner="x")
    assert decision.assigned_to == "a"
    assert "no eligible account owner; rotating instead" in decision.explanation


# --- repeat leads -------------------------------------------------------------------


def test_the_current_owner_is_kept_while_eligible() -> None:
    state = RotationState()
    decision = decide({}, RULES, [*TEAMS, *ABC], state, NOW, current_owner="b")
    assert decision == Decision(
        None, "sales", "existing_owner", "b", ["kept current owner b (repeat lead)"]
    )
    assert state == RotationState()


def test_an_unavailable_current_owner_is_not_kept() -> None:
    reps = [Rep("a", "sales"), Rep("b", "sales", available=False), Rep("c", "sales")]
    decision = decide(
        {}, team_routing("sales"), reps, RotationState(), NOW, current_owner="b"
    )
    assert decision.strategy == "round_robin"
    assert decision.assigned_to == "a"
    assert decision.explanation[0] == "current owner b not kept: not available"
    assert decision.explanation[1] == "rule all matched: ()"


def test_a_current_owner_outside_hours_is_not_kept() -> None:
    reps = [BERLIN, Rep("e2", "emea")]
    decision = decide(
        {},
        team_routing("emea"),
        reps,
        RotationState(),
        utc(2026, 1, 15, 20),
        current_owner="de",
    )
    assert decision.assigned_to == "e2"
    assert decision.explanation[0] == (
        "current owner de not kept: outside working hours 09:00-17:00 Europe/Berlin"
    )


def test_a_current_owner_who_left_is_not_kept() -> None:
    decision = decide(
        {}, team_routing("sales"), ABC, RotationState(), NOW, current_owner="zed"
    )
    assert decision.assigned_to == "a"
    assert decision.explanation[0] == "current owner zed not kept: no longer a rep"


# --- rotation state -----------------------------------------------------------------


def test_rotation_state_json_round_trip() -> None:
    state = RotationState()
    run(ABC, state, 2)
    weighted = [Rep("h", "w", weight=3), Rep("l", "w", weight=1)]
    run(weighted, state, 3, team_routing("w", "weighted"))
    assert state.last == {"sales": "b"}
    assert set(state.weights) == {"w"}

    stored = json.loads(json.dumps(state.to_json()))
    restored = RotationState.from_json(stored)
    assert restored == state
    assert restored.to_json() == state.to_json()
    # the restored state carries on exactly where the original would
    assert run(ABC, restored, 2) == run(ABC, state, 2) == ["c", "a"]
    routing = team_routing("w", "weighted")
    assert run(weighted, restored, 5, routing) == run(weighted, state, 5, routing)


def test_rotation_state_from_nothing() -> None:
    assert RotationState.from_json(None) == RotationState()
    assert RotationState.from_json({}) == RotationState()
    assert RotationState().to_json() == {"last": {}, "weights": {}}


def test_rotation_state_from_json_copies() -> None:
    data: dict[str, Any] = {"last": {"sales": "a"}, "weights": {"w": {"h": 1}}}
    state = RotationState.from_json(data)
    state.last["sales"] = "b"
    state.weights["w"]["h"] = 5
    assert data == {"last": {"sales": "a"}, "weights": {"w": {"h": 1}}}
