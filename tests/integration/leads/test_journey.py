"""A lead's journey over HTTP: normalize, de-duplicate, score, route, explain, list."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.integration.leads.helpers import (
    REPS,
    Json,
    api_get,
    api_json,
    audit_entries,
    lead,
    leads_config,
    one_team,
    post_lead,
    post_leads,
    routed,
    routed_all,
    serving,
    simulate,
    wait_event,
    wait_until,
)
from tests.support import LiveServer, apply


@pytest.fixture
def live(db: Database, box: SecretBox) -> Iterator[LiveServer]:
    with serving(db, box, leads_config()) as server:
        yield server


def explained(document: Json, fragment: str) -> bool:
    return any(fragment in line for line in document["routing"]["explanation"])


def test_signed_lead_is_normalized_scored_routed_and_audited(live: LiveServer) -> None:
    event_id = post_lead(
        live,
        {
            "email": "  Grace.Hopper@Navy.MIL ",
            "phone": "650-253-0000",
            "country": "United States",
            "first_name": "Grace",
            "title": "VP Engineering",
            "employees": "1,200",
        },
    )

    event = wait_event(live, event_id)

    assert event["status"] == "done", event
    assert event["last_error"] is None
    assert event["lead_id"].startswith("lead_")
    found = lead(live, event["lead_id"])
    assert found["lead_id"] == event["lead_id"]
    assert found["email"] == "grace.hopper@navy.mil"
    assert found["phone"] == "+16502530000"
    assert found["country"] == "US"
    assert found["domain"] == "navy.mil"
    assert found["employees"] == 1200
    assert found["seniority"] == "vp"
    assert found["score"] == 60
    assert found["grade"] == "A"
    assert found["status"] == "routed"
    assert found["assigned_to"] == "carol"
    assert found["team"] == "na"
    routing = found["routing"]
    assert routing["rule"] == "na-accounts"
    assert routing["strategy"] == "sticky"
    explanation = routing["explanation"]
    assert isinstance(explanation, list)
    assert explanation
    assert all(isinstance(line, str) for line in explanation)
    assert explained(found, "na-accounts matched")
    assert "carol" in explanation[-1]
    assert [entry["event_id"] for entry in found["history"]] == [event_id]

    assigned = [
        entry
        for entry in audit_entries(live)
        if entry["action"] == "lead.assigned"
        and entry["subject"] == f"leads/{event['lead_id']}"
    ]
    assert len(assigned) == 1
    assert assigned[0]["detail"]["assigned_to"] == "carol"
    assert assigned[0]["detail"]["event_id"] == event_id
    assert assigned[0]["detail"]["explanation"] == explanation


def test_lead_without_email_or_phone_is_dead_lettered_at_once(
    live: LiveServer,
) -> None:
    event_id = post_lead(live, {"first_name": "Nobody", "company": "Nowhere Ltd"})

    event = wait_event(live, event_id)

    assert event["status"] == "dead"
    assert event["last_error"] == "no_contact"
    assert event["attempts"] == 1
    assert event["lead_id"] is None
    letters = api_json(live, "/dead-letters")["items"]
    mine = [letter for letter in letters if letter["event_id"] == event_id]
    assert len(mine) == 1
    assert [attempt["error"] for attempt in mine[0]["attempts"]] == ["no_contact"]
    assert api_json(live, "/leads")["items"] == []


def test_repeat_by_email_merges_and_keeps_its_owner_while_eligible(
    db: Database, box: SecretBox, live: LiveServer
) -> None:
    first_event = post_lead(
        live, {"email": "Ada@Example.com", "first_name": "Ada", "country": "DE"}
    )
    first = lead(live, wait_event(live, first_event)["lead_id"])
    assert first["assigned_to"] == "alice"

    second_event = post_lead(
        live,
        {
            "email": "ada@EXAMPLE.com",
            "first_name": "Augusta",
            "last_name": "Lovelace",
            "company": "Analytical Engines",
            "phone": "+49 30 901820",
        },
    )
    second_status = wait_event(live, second_event)

    assert second_status["status"] == "done"
    assert second_status["lead_id"] == first["lead_id"]
    merged = lead(live, first["lead_id"])
    assert merged["email"] == "ada@example.com"
    assert merged["first_name"] == "Ada"
    assert merged["last_name"] == "Lovelace"
    assert merged["company"] == "Analytical Engines"
    assert merged["phone"] == "+4930901820"
    assert merged["country"] == "DE"
    history = merged["history"]
    assert [entry["event_id"] for entry in history] == [first_event, second_event]
    assert set(history[1]["filled"]) >= {"last_name", "company", "phone"}
    assert "first_name" not in history[1]["filled"]
    assert merged["assigned_to"] == "alice"
    assert merged["routing"]["strategy"] == "existing_owner"
    assert explained(merged, "kept current owner alice")
    listed = api_json(live, "/leads")["items"]
    assert [item["lead_id"] for item in listed] == [first["lead_id"]]

    reps = [{**rep, "available": rep["id"] != "alice"} for rep in REPS]
    apply(db, box, leads_config(reps=reps))
    # The simulator reads the same rules cache as the workers: once it sees
    # alice gone, so will the next routing.
    wait_until(
        lambda: simulate(live, {"email": "ada@example.com"})["assigned_to"] == "bob",
        what="the new config in the rules cache",
    )

    third_event = post_lead(live, {"email": "ADA@example.com"})
    third_status = wait_event(live, third_event)

    assert third_status["lead_id"] == first["lead_id"]
    rerouted = lead(live, first["lead_id"])
    assert rerouted["assigned_to"] == "bob"
    assert rerouted["routing"]["strategy"] == "round_robin"
    assert rerouted["routing"]["rule"] == "emea"
    assert explained(rerouted, "current owner alice not kept: not available")
    assert explained(rerouted, "skipped alice: not available")
    assert len(rerouted["history"]) == 3


def test_repeat_without_email_merges_by_phone(live: LiveServer) -> None:
    first = routed(live, {"phone": "+49 30 901820", "first_name": "Konrad"})
    assert first["email"] is None
    assert first["assigned_to"] == "erin"
    assert first["routing"]["rule"] is None
    assert explained(first, "no rule matched")

    again = routed(
        live,
        {"phone": "030 901820", "country": "Germany", "company": "Zuse KG"},
    )
    other = routed(live, {"phone": "+44 20 7946 0000", "first_name": "Ada"})

    assert again["lead_id"] == first["lead_id"]
    assert again["phone"] == "+4930901820"
    assert again["first_name"] == "Konrad"
    assert again["company"] == "Zuse KG"
    assert again["country"] == "DE"
    assert again["assigned_to"] == "erin"
    assert again["routing"]["strategy"] == "existing_owner"
    assert len(again["history"]) == 2
    assert other["lead_id"] != first["lead_id"]


def test_sticky_keeps_a_company_with_one_rep_but_not_free_mail(
    live: LiveServer,
) -> None:
    jane = routed(live, {"email": "jane@initech.com", "country": "US"})
    bill = routed(live, {"email": "bill@initech.com", "country": "US"})
    peter = routed(live, {"email": "peter@gmail.com", "country": "US"})
    milton = routed(live, {"email": "milton@gmail.com", "country": "US"})

    assert jane["lead_id"] != bill["lead_id"]
    assert jane["assigned_to"] == "carol"
    assert bill["assigned_to"] == "carol"
    assert explained(bill, "assigned to carol: owns the account")
    # Rotation did not move for the account owner, so the next rotation is dave.
    assert peter["assigned_to"] == "dave"
    assert milton["assigned_to"] == "carol"
    assert explained(milton, "no eligible account owner")
    assert peter["free_mail"] is True
    assert milton["free_mail"] is True


def test_capacity_per_day_sends_the_rest_to_the_team_then_the_fallback(
    db: Database, box: SecretBox
) -> None:
    reps: list[Json] = [
        {"id": "capped", "team": "solo", "capacity_per_day": 2},
        {"id": "spare", "team": "solo", "capacity_per_day": 1},
        {"id": "backup", "team": "inbound"},
    ]
    config = leads_config(
        reps=reps, routing=one_team("solo", "round_robin", fallback="inbound")
    )
    with serving(db, box, config) as server:
        leads = routed_all(
            server, [{"email": f"buyer{n}@firm{n}.example"} for n in range(5)]
        )

    owners = Counter(found["assigned_to"] for found in leads)
    assert owners == {"capped": 2, "spare": 1, "backup": 2}
    for found in leads:
        if found["assigned_to"] == "backup":
            assert found["team"] == "inbound"
            assert explained(found, "skipped capped: at capacity (2/2 today)")
            assert explained(found, "skipped spare: at capacity (1/1 today)")
            assert explained(found, "falling back to team inbound")


def test_working_hours_follow_the_lead_clock_in_each_reps_zone(
    db: Database, box: SecretBox
) -> None:
    reps: list[Json] = [
        {
            "id": "early",
            "team": "global",
            "timezone": "Asia/Tokyo",
            "working_hours": "09:00-17:00",
        },
        {
            "id": "owl",
            "team": "global",
            "timezone": "America/Los_Angeles",
            "working_hours": "22:00-06:00",
        },
    ]
    config = leads_config(reps=reps, routing=one_team("global", "round_robin"))
    # 10:00 UTC: 19:00 in Tokyo (closed), 02:00 in Los Angeles (the night shift).
    with serving(db, box, config) as server:
        at_ten = [routed(server, {"email": f"ten{n}@firm.example"}) for n in range(2)]
    # 03:00 UTC: 12:00 in Tokyo (open), 19:00 in Los Angeles (closed).
    three = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
    with serving(db, box, at=three) as server:
        at_three = routed(server, {"email": "three@firm.example"})

    assert [found["assigned_to"] for found in at_ten] == ["owl", "owl"]
    for found in at_ten:
        assert explained(
            found, "skipped early: outside working hours 09:00-17:00 Asia/Tokyo"
        )
    assert at_three["assigned_to"] == "early"
    assert explained(
        at_three,
        "skipped owl: outside working hours 22:00-06:00 America/Los_Angeles",
    )


def test_fallback_team_then_unassigned_when_nobody_is_eligible(
    db: Database, box: SecretBox
) -> None:
    def config(backup_available: bool) -> Json:
        reps: list[Json] = [
            {"id": "solo1", "team": "solo", "available": False},
            {"id": "backup", "team": "inbound", "available": backup_available},
        ]
        return leads_config(
            reps=reps, routing=one_team("solo", "round_robin", fallback="inbound")
        )

    with serving(db, box, config(backup_available=True)) as server:
        fallen = routed(server, {"email": "first@firm.example"})
        apply(db, box, config(backup_available=False))
        wait_until(
            lambda: (
                simulate(server, {"email": "x@firm.example"})["assigned_to"] is None
            ),
            what="the new config in the rules cache",
        )
        orphan = routed(server, {"email": "second@firm.example"})
        audit = audit_entries(server)
        unassigned = api_json(server, "/leads", {"status": "unassigned"})["items"]

    assert fallen["assigned_to"] == "backup"
    assert fallen["team"] == "inbound"
    assert fallen["routing"]["rule"] == "everyone"
    assert explained(fallen, "skipped solo1: not available")
    assert explained(fallen, "team solo has nobody eligible")
    assert explained(fallen, "falling back to team inbound")

    assert orphan["status"] == "unassigned"
    assert orphan["assigned_to"] is None
    assert orphan["team"] is None
    assert orphan["routing"]["strategy"] == "unassigned"
    assert explained(orphan, "team inbound has nobody eligible")
    assert orphan["routing"]["explanation"][-1] == "left unassigned"
    assert [item["lead_id"] for item in unassigned] == [orphan["lead_id"]]
    actions = {
        entry["subject"]: entry["action"]
        for entry in audit
        if entry["action"].startswith("lead.")
    }
    assert actions == {
        f"leads/{fallen['lead_id']}": "lead.assigned",
        f"leads/{orphan['lead_id']}": "lead.unassigned",
    }


def test_lead_list_filters_and_pages(db: Database, box: SecretBox) -> None:
    reps: list[Json] = [
        {"id": "alice", "team": "emea"},
        {"id": "erin", "team": "inbound", "available": False},
    ]
    routing: Json = {
        "rules": [
            {
                "name": "germany",
                "if": {"field": "country", "eq": "DE"},
                "team": "emea",
            }
        ],
        "fallback": {"team": "inbound"},
    }
    datas: list[Json] = [
        {"email": f"de{n}@firm.example", "country": "DE"} for n in range(3)
    ] + [{"email": f"xx{n}@firm.example"} for n in range(2)]
    with serving(db, box, leads_config(reps=reps, routing=routing)) as server:
        leads = routed_all(server, datas)
        by_alice = api_json(server, "/leads", {"assigned_to": "alice"})["items"]
        by_nobody = api_json(server, "/leads", {"assigned_to": "nobody"})["items"]
        unassigned = api_json(server, "/leads", {"status": "unassigned"})["items"]
        routed_ = api_json(server, "/leads", {"status": "routed"})["items"]
        pages = walk(server, {"limit": 2})
        alice_pages = walk(server, {"limit": 2, "assigned_to": "alice"})
        bad_status = api_get(server, "/leads", {"status": "bogus"})
        bad_cursor = api_get(server, "/leads", {"cursor": "not-a-cursor!"})
        foreign_cursor = base64.urlsafe_b64encode(b"page:7").decode()
        bad_kind = api_get(server, "/leads", {"cursor": foreign_cursor})
        bad_limit = api_get(server, "/leads", {"limit": 0})
        missing = api_get(server, "/leads/lead_does_not_exist")

    ids = {found["lead_id"] for found in leads}
    alice_ids = {f["lead_id"] for f in leads if f["assigned_to"] == "alice"}
    assert len(alice_ids) == 3
    assert {item["lead_id"] for item in by_alice} == alice_ids
    assert all(item["assigned_to"] == "alice" for item in by_alice)
    assert by_nobody == []
    assert {item["lead_id"] for item in unassigned} == ids - alice_ids
    assert all(item["status"] == "unassigned" for item in unassigned)
    assert {item["lead_id"] for item in routed_} == alice_ids

    assert [len(page) for page in pages] == [2, 2, 1]
    walked = [item["lead_id"] for page in pages for item in page]
    assert len(walked) == len(set(walked)) == 5
    assert set(walked) == ids
    assert [len(page) for page in alice_pages] == [2, 1]
    assert {item["lead_id"] for page in alice_pages for item in page} == alice_ids

    for response in (bad_status, bad_cursor, bad_kind, bad_limit):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_request"
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def walk(server: LiveServer, params: dict[str, str | int]) -> list[list[Json]]:
    """Every page of GET /leads with ``params``, following next_cursor."""
    pages: list[list[Json]] = []
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        page = api_json(server, "/leads", query)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 10, "the cursor does not advance"


def stage_counts(server: LiveServer) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith('neuronx_leads_total{stage="'):
            labels, _, value = line.rpartition(" ")
            counts[labels.split('"')[1]] = float(value)
    return counts


def test_stage_counters_move_on_metrics(db: Database, box: SecretBox) -> None:
    reps: list[Json] = [
        {"id": "alice", "team": "emea"},
        {"id": "erin", "team": "inbound", "available": False},
    ]
    routing: Json = {
        "rules": [
            {"name": "germany", "if": {"field": "country", "eq": "DE"}, "team": "emea"}
        ],
        "fallback": {"team": "inbound"},
    }
    with serving(db, box, leads_config(reps=reps, routing=routing)) as server:
        before = stage_counts(server)
        routed(server, {"email": "m1@firm.example", "country": "DE"})
        routed(server, {"email": "M1@firm.example", "company": "Firm"})
        routed(server, {"email": "m2@firm.example"})
        dead = wait_event(server, post_lead(server, {"first_name": "Anon"}))
        after = stage_counts(server)

    assert dead["status"] == "dead"

    def moved(stage: str) -> float:
        return after.get(stage, 0.0) - before.get(stage, 0.0)

    assert moved("normalized") == 2
    assert moved("merged") == 1
    assert moved("scored") == 3
    assert moved("routed") == 2
    assert moved("unassigned") == 1


def test_simulator_answers_like_the_router_and_assigns_nothing(
    live: LiveServer,
) -> None:
    datas: list[Json] = [
        {"email": "kim@initech.com", "country": "US", "employees": 500},
        {"email": "lee@initech.com", "country": "US", "title": "CEO"},
        {"email": "max@firm.example", "country": "FR"},
        {"email": "KIM@initech.com", "title": "Director"},
        {"email": "noa@gmail.com"},
        {"phone": "+44 20 7946 0000", "country": "GB"},
    ]
    for data in datas:
        predicted = simulate(live, data)
        again = simulate(live, data)
        found = routed(live, data)

        assert again == predicted
        assert predicted["assigned_to"] == found["assigned_to"], (data, predicted)
        assert predicted["team"] == found["team"]
        assert predicted["rule"] == found["routing"]["rule"]
        assert predicted["strategy"] == found["routing"]["strategy"]
        assert predicted["explanation"] == found["routing"]["explanation"]
        assert predicted["score"] == found["score"]
        assert predicted["grade"] == found["grade"]

    # One audit entry per routing (a repeat is routed again), none per simulation.
    audit = [e for e in audit_entries(live) if e["action"].startswith("lead.")]
    assert len(audit) == len(datas)
    assert len(api_json(live, "/leads")["items"]) == 5


def test_many_leads_in_parallel_each_end_done(live: LiveServer) -> None:
    datas: list[Json] = [
        {"email": f"p{n}@company{n % 7}.example", "country": ["DE", "US", "BR"][n % 3]}
        for n in range(60)
    ]
    event_ids = post_leads(live, datas)

    events = [wait_event(live, event_id) for event_id in event_ids]

    assert {event["status"] for event in events} == {"done"}
    assert len({event["lead_id"] for event in events}) == 60
    owners = Counter(lead(live, e["lead_id"])["assigned_to"] for e in events)
    assert sum(owners.values()) == 60
    assert owners["alice"] + owners["bob"] == 20
    assert abs(owners["alice"] - owners["bob"]) <= 1
    assert owners["erin"] == 20
