"""Bearer tokens on the tenant routes: who may read what, and how refusals look."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from neuronx.api.state import AppState
from neuronx.store.db import Database
from neuronx.store.secretbox import SecretBox
from tests.support import (
    ACME_KEY,
    ADMIN_TOKEN,
    GLOBEX_KEY,
    LiveServer,
    apply,
    base_config,
    live_server,
    signed_headers,
)

LEAD = {"type": "lead.created", "data": {"email": "ada@example.com"}}
PROBLEM_MEMBERS = {"type", "title", "status", "code"}


def accept_lead(server: LiveServer) -> str:
    body = json.dumps(LEAD).encode()
    response = httpx.post(
        server.hook("forms"), content=body, headers=signed_headers("forms", body)
    )
    assert response.status_code == 202, response.text
    return str(response.json()["event_id"])


def get(
    server: LiveServer, path: str, authorization: str | None = None
) -> httpx.Response:
    headers = {} if authorization is None else {"authorization": authorization}
    return httpx.get(f"{server.url}{path}", headers=headers)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document = response.json()
    assert set(document) >= PROBLEM_MEMBERS
    assert document["status"] == status
    assert document["code"] == code
    assert isinstance(document["type"], str)
    assert document["type"]
    assert isinstance(document["title"], str)
    assert document["title"]
    return dict(document)


@pytest.fixture
def event_id(server: LiveServer) -> str:
    return accept_lead(server)


@pytest.fixture
def routes(event_id: str) -> list[str]:
    """Paths under ``/v1/tenants/{tenant_id}``, formatted with the tenant later."""
    return [
        f"/v1/tenants/{{tenant}}/events/{event_id}",
        "/v1/tenants/{tenant}/dead-letters",
    ]


MALFORMED = [
    "Basic xyz",
    f"Basic {ACME_KEY}",
    "Bearer",
    "bearer",
    "Token abc",
    ACME_KEY,
    "",
]


def test_no_usable_token_is_unauthorized(server: LiveServer, routes: list[str]) -> None:
    for route in routes:
        for tenant in ("acme", "nobody"):
            response = get(server, route.format(tenant=tenant))
            assert_problem(response, 401, "unauthorized")
        for authorization in MALFORMED:
            response = get(server, route.format(tenant="acme"), authorization)
            assert_problem(response, 401, "unauthorized")


def test_own_key_reads_the_tenant(
    server: LiveServer, routes: list[str], event_id: str
) -> None:
    for route in routes:
        for authorization in (bearer(ACME_KEY), f"bearer {ACME_KEY}"):
            response = get(server, route.format(tenant="acme"), authorization)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"

    event = get(server, routes[0].format(tenant="acme"), bearer(ACME_KEY)).json()
    assert event["event_id"] == event_id
    page = get(server, routes[1].format(tenant="acme"), bearer(ACME_KEY)).json()
    assert page == {"items": [], "next_cursor": None}


def test_other_tenants_key_answers_like_a_missing_tenant(
    server: LiveServer, routes: list[str]
) -> None:
    for route in routes:
        foreign = get(server, route.format(tenant="acme"), bearer(GLOBEX_KEY))
        missing = get(server, route.format(tenant="nobody"), bearer(GLOBEX_KEY))
        missing_own = get(server, route.format(tenant="nobody"), bearer(ACME_KEY))

        first = assert_problem(foreign, 404, "not_found")
        second = assert_problem(missing, 404, "not_found")
        third = assert_problem(missing_own, 404, "not_found")
        shape = {key: first[key] for key in ("type", "title", "status", "code")}
        assert {key: second[key] for key in shape} == shape
        assert {key: third[key] for key in shape} == shape
        assert set(first) == set(second) == set(third)
        # Nothing of acme's leaks into the refusal.
        assert "ada@example.com" not in foreign.text


def test_unknown_events_and_tokens_are_not_found(
    server: LiveServer, routes: list[str], event_id: str
) -> None:
    # acme's event is not globex's, even through globex's own path.
    through_globex = get(
        server, f"/v1/tenants/globex/events/{event_id}", bearer(GLOBEX_KEY)
    )
    assert_problem(through_globex, 404, "not_found")
    unknown_event = get(server, "/v1/tenants/acme/events/evt_nope", bearer(ACME_KEY))
    assert_problem(unknown_event, 404, "not_found")
    for route in routes:
        response = get(
            server, route.format(tenant="acme"), bearer("nx_nobody_key_000000")
        )
        assert_problem(response, 404, "not_found")


def test_admin_token_reads_existing_tenants_only(
    server: LiveServer, routes: list[str], event_id: str
) -> None:
    event = get(server, routes[0].format(tenant="acme"), bearer(ADMIN_TOKEN))
    assert event.status_code == 200, event.text
    assert event.json()["event_id"] == event_id
    for tenant in ("acme", "globex"):
        page = get(server, routes[1].format(tenant=tenant), bearer(ADMIN_TOKEN))
        assert page.status_code == 200, page.text
        assert page.json() == {"items": [], "next_cursor": None}
    for route in routes:
        response = get(server, route.format(tenant="nobody"), bearer(ADMIN_TOKEN))
        assert_problem(response, 404, "not_found")


def test_without_an_admin_token_its_string_is_an_unknown_token(
    db: Database, box: SecretBox
) -> None:
    apply(db, box, base_config())
    state = AppState.build(db, box, admin_token=None)
    with live_server(state) as server:
        event_id = accept_lead(server)
        paths = [
            f"/v1/tenants/acme/events/{event_id}",
            "/v1/tenants/acme/dead-letters",
            "/v1/tenants/globex/dead-letters",
        ]

        for path in paths:
            response = get(server, path, bearer(ADMIN_TOKEN))
            assert_problem(response, 404, "not_found")
        # Tenant keys keep working, and no token is still a 401.
        assert get(server, paths[0], bearer(ACME_KEY)).status_code == 200
        assert_problem(get(server, paths[1]), 401, "unauthorized")
