"""The routing simulator predicts exactly what the pipeline does, changing nothing.

For each generated lead body, in turn: ask the simulator, check the store did
not move, ingest the same body through the receiver's commit path, run the
three stages to the end, and compare the decision the pipeline stored with
the prediction. Emails come from a small pool, so repeats (merges, kept
owners, sticky accounts) are common; capacities run out along the way.

The whole run shares one store, so a failing example could not be replayed
on the state that produced it: mismatches are collected and reported at the
end rather than raised inside Hypothesis, which would try to shrink them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from neuronx.api.state import AppState
from neuronx.store import schema
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.integration.leads.helpers import (
    TENANT,
    Json,
    drain,
    fixed_clock,
    ingest,
    leads_config,
)
from tests.support import ADMIN_TOKEN, apply

EXAMPLES = 1000

REPS: list[Json] = [
    {
        "id": "alice",
        "team": "emea",
        "weight": 1,
        "capacity_per_day": 15,
        "timezone": "Europe/Berlin",
        "working_hours": "09:00-17:00",
    },
    {"id": "bob", "team": "emea", "weight": 2, "capacity_per_day": 40},
    {"id": "carol", "team": "na", "capacity_per_day": 12},
    {
        "id": "dave",
        "team": "na",
        "timezone": "America/New_York",
        "working_hours": "08:00-18:00",
    },
    {"id": "erin", "team": "inbound", "capacity_per_day": 40},
    {"id": "frank", "team": "inbound", "capacity_per_day": 30},
    {"id": "gus", "team": "apac", "available": False},
]
SCORING: Json = {
    "rules": [
        {"name": "enterprise", "if": {"field": "employees", "gte": 200}, "points": 30},
        {"name": "tiny", "if": {"field": "employees", "lt": 10}, "points": -10},
        {
            "name": "senior",
            "if": {"field": "seniority", "in": ["executive", "vp", "director"]},
            "points": 20,
        },
        {"if": {"field": "country", "in": ["US", "DE"]}, "points": 10},
        {"if": {"field": "title", "contains": "engineer"}, "points": 5},
        {"if": {"field": "free_mail", "eq": True}, "points": -5},
    ],
    "grades": {"A": 55, "B": 35, "C": 15},
}
ROUTING: Json = {
    "rules": [
        {
            "name": "emea-enterprise",
            "if": {
                "all": [
                    {"field": "country", "in": ["DE", "FR", "GB"]},
                    {"field": "score", "gte": 40},
                ]
            },
            "team": "emea",
            "strategy": "weighted",
        },
        {
            "name": "emea",
            "if": {"field": "country", "in": ["DE", "FR", "GB"]},
            "team": "emea",
            "strategy": "load_balanced",
        },
        {
            "name": "na",
            "if": {"field": "country", "eq": "US"},
            "team": "na",
            "strategy": "sticky",
        },
        {
            "name": "apac",
            "if": {"field": "country", "in": ["JP", "AU"]},
            "team": "apac",
        },
        {
            "name": "grade-a",
            "if": {"field": "grade", "eq": "A"},
            "team": "na",
            "strategy": "round_robin",
        },
    ],
    "fallback": {"team": "inbound"},
}

NAMES = tuple(f"person{n}" for n in range(30))
DOMAINS = ("initech.com", "globex.com", "hooli.com", "gmail.com", "example.org")
PHONES = (
    *(f"+1 650 253 {n:04d}" for n in range(8)),
    "+49 30 901820",
    "+44 20 7946 0000",
    "+81 3 1234 5678",
    "+61 2 9374 4000",
)
COUNTRIES = ("DE", "de", "Germany", "FR", "GB", "UK", "US", "United States", "JP")
COUNTRIES_TOO = ("AU", "BR", "Narnia")
TITLES = (
    "CEO",
    "VP Sales",
    "Head of Marketing",
    "Software Engineer",
    "Intern",
    "Director of IT",
    "Engineering Manager",
)


@st.composite
def lead_bodies(draw: st.DrawFn) -> Json:
    """A webhook's ``data``: always a contact, the rest optional."""
    body: Json = {}
    contact = draw(st.sampled_from(("email",) * 6 + ("phone", "both")))
    if contact in ("email", "both"):
        email = f"{draw(st.sampled_from(NAMES))}@{draw(st.sampled_from(DOMAINS))}"
        body["email"] = email.upper() if draw(st.booleans()) else email
    if contact in ("phone", "both"):
        body["phone"] = draw(st.sampled_from(PHONES))
    country = draw(st.none() | st.sampled_from(COUNTRIES + COUNTRIES_TOO))
    if country is not None:
        body["country"] = country
    employees = draw(st.none() | st.integers(min_value=0, max_value=5000))
    if employees is not None:
        body["employees"] = employees
    title = draw(st.none() | st.sampled_from(TITLES))
    if title is not None:
        body["title"] = title
    if draw(st.booleans()):
        body["company"] = draw(st.sampled_from(("Initech", "Globex", "Hooli")))
    return body


def snapshot(db: Database) -> dict[str, Any]:
    """Everything a routing would change: rotation, loads, leads, audit, jobs."""
    with db.read() as conn:
        rotation = conn.execute(
            select(schema.routing_state.c.tenant_id, schema.routing_state.c.state)
        ).all()
        loads = conn.execute(
            select(
                schema.rep_loads.c.rep_id,
                schema.rep_loads.c.day,
                schema.rep_loads.c.assigned,
            ).order_by(schema.rep_loads.c.rep_id, schema.rep_loads.c.day)
        ).all()
        leads = conn.execute(
            select(
                schema.leads.c.id,
                schema.leads.c.assigned_to,
                schema.leads.c.updated_at,
            ).order_by(schema.leads.c.id)
        ).all()
        counts = [
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (schema.audit_log, schema.jobs, schema.events)
        ]
    return {
        "rotation": [tuple(row) for row in rotation],
        "loads": [tuple(row) for row in loads],
        "leads": [tuple(row) for row in leads],
        "counts": counts,
    }


def stored_decision(db: Database, event_id: str) -> Json:
    with db.read() as conn:
        event = conn.execute(
            select(schema.events).where(schema.events.c.id == event_id)
        ).one()
        lead = conn.execute(
            select(schema.leads).where(schema.leads.c.id == event.lead_id)
        ).first()
    if event.status != "done" or lead is None:
        return {"event_status": event.status, "last_error": event.last_error}
    routing = lead.routing or {}
    return {
        "rule": routing.get("rule"),
        "team": lead.team,
        "strategy": routing.get("strategy"),
        "assigned_to": lead.assigned_to,
        "score": lead.score,
        "grade": lead.grade,
        "explanation": routing.get("explanation"),
    }


def test_simulate_predicts_the_pipeline_and_changes_nothing(
    db: Database, box: SecretBox
) -> None:
    apply(db, box, leads_config(reps=REPS, scoring=SCORING, routing=ROUTING))
    state = AppState.build(db, box, admin_token=ADMIN_TOKEN, lead_clock=fixed_clock())
    failures: list[Json] = []
    ran: list[int] = []
    seen: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=lead_bodies())
    def one_lead(body: Json) -> None:
        if failures:
            return
        ran.append(1)
        before = snapshot(db)
        with db.read() as conn:
            scored, decision = state.pipeline.simulate(conn, TENANT, body)
        after = snapshot(db)
        if after != before:
            failures.append({"body": body, "simulate changed": (before, after)})
            return
        predicted = {
            "rule": decision.rule,
            "team": decision.team,
            "strategy": decision.strategy,
            "assigned_to": decision.assigned_to,
            "score": scored.score,
            "grade": scored.grade,
            "explanation": decision.explanation,
        }
        (event_id,) = ingest(db, state, [body])
        try:
            drain(state)
        except Exception as exc:  # reported with the body that caused it
            failures.append({"body": body, "pipeline raised": repr(exc)})
            return
        seen.add(decision.strategy)
        seen.update(line.split(":")[0] for line in decision.explanation)
        actual = stored_decision(db, event_id)
        if actual != predicted:
            failures.append({"body": body, "simulated": predicted, "pipeline": actual})

    one_lead()

    assert failures == [], f"after {len(ran)} leads: {failures[0]}"
    assert len(ran) == EXAMPLES
    final = snapshot(db)
    assert final["counts"][2] == EXAMPLES
    # The run went through the interesting places: repeats merged and kept or
    # lost their owner, each strategy ran, caps filled, nobody was left.
    assert len(final["leads"]) < EXAMPLES / 2
    assert {
        "existing_owner",
        "weighted",
        "load_balanced",
        "sticky",
        "round_robin",
        "unassigned",
    } <= seen
    assert {"skipped carol", "skipped dave", "left unassigned"} <= seen
    assert any(line.startswith("current owner") for line in seen)
