"""Bearer tokens on the tenant routes: who may read what, and how refusals look."""

from __future__ import annotations

import json
from collections.abc import Iterator

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


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, str]:
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


@pytest.fixture(params=["event", "dead-letters"])
def route(request: pytest.FixtureRequest, event_id: str) -> str:
    """A path under ``/v1/tenants/{tenant_id}``, formatted with the tenant later."""
    if request.param == "event":
        return f"/v1/tenants/{{tenant}}/events/{event_id}"
    return "/v1/tenants/{tenant}/dead-letters"


def test_no_token_is_unauthorized(server: LiveServer, route: str) -> None:
    response = get(server, route.format(tenant="acme"))

    assert_problem(response, 401, "unauthorized")


def test_no_token_on_a_missing_tenant_is_unauthorized(
    server: LiveServer, route: str
) -> None:
    response = get(server, route.format(tenant="nobody"))

    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic xyz",
        f"Basic {ACME_KEY}",
        "Bearer",
        "bearer",
        "Token abc",
        ACME_KEY,
        "",
    ],
)
def test_malformed_authorization_is_unauthorized(
    server: LiveServer, route: str, authorization: str
) -> None:
    response = get(server, route.format(tenant="acme"), authorization)

    assert_problem(response, 401, "unauthorized")


def test_own_key_reads_the_tenant(server: LiveServer, route: str) -> None:
    response = get(server, route.format(tenant="acme"), bearer(ACME_KEY))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"


def test_bearer_scheme_is_case_insensitive(server: LiveServer, route: str) -> None:
    response = get(server, route.format(tenant="acme"), f"bearer {ACME_KEY}")

    assert response.status_code == 200, response.text


def test_own_key_sees_its_event(server: LiveServer, event_id: str) -> None:
    response = get(server, f"/v1/tenants/acme/events/{event_id}", bearer(ACME_KEY))

    assert response.status_code == 200
    assert response.json()["event_id"] == event_id


def test_dead_letter_list_is_a_page(server: LiveServer) -> None:
    response = get(server, "/v1/tenants/acme/dead-letters", bearer(ACME_KEY))

    assert response.json() == {"items": [], "next_cursor": None}


def test_other_tenants_key_answers_like_a_missing_tenant(
    server: LiveServer, route: str
) -> None:
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
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    # Nothing of acme's leaks into the refusal.
    assert "ada@example.com" not in foreign.text


def test_own_tenant_cannot_see_another_tenants_event(
    server: LiveServer, event_id: str
) -> None:
    response = get(server, f"/v1/tenants/globex/events/{event_id}", bearer(GLOBEX_KEY))

    assert_problem(response, 404, "not_found")


def test_unknown_event_is_not_found(server: LiveServer) -> None:
    response = get(server, "/v1/tenants/acme/events/evt_nope", bearer(ACME_KEY))

    assert_problem(response, 404, "not_found")


def test_unknown_token_is_not_found(server: LiveServer, route: str) -> None:
    response = get(server, route.format(tenant="acme"), bearer("nx_nobody_key_000000"))

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_admin_token_reads_any_tenant(server: LiveServer, tenant: str) -> None:
    response = get(server, f"/v1/tenants/{tenant}/dead-letters", bearer(ADMIN_TOKEN))

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


def test_admin_token_reads_an_event(server: LiveServer, event_id: str) -> None:
    response = get(server, f"/v1/tenants/acme/events/{event_id}", bearer(ADMIN_TOKEN))

    assert response.status_code == 200
    assert response.json()["event_id"] == event_id


def test_admin_token_on_a_missing_tenant_is_not_found(
    server: LiveServer, route: str
) -> None:
    response = get(server, route.format(tenant="nobody"), bearer(ADMIN_TOKEN))

    assert_problem(response, 404, "not_found")


@pytest.fixture
def without_admin(db: Database, box: SecretBox) -> Iterator[LiveServer]:
    apply(db, box, base_config())
    state = AppState.build(db, box, admin_token=None)
    with live_server(state) as live:
        yield live


def test_without_an_admin_token_its_string_is_an_unknown_token(
    without_admin: LiveServer,
) -> None:
    event_id = accept_lead(without_admin)
    paths = [
        f"/v1/tenants/acme/events/{event_id}",
        "/v1/tenants/acme/dead-letters",
        "/v1/tenants/globex/dead-letters",
    ]

    for path in paths:
        response = get(without_admin, path, bearer(ADMIN_TOKEN))
        assert_problem(response, 404, "not_found")
    # Tenant keys keep working.
    own = get(without_admin, paths[0], bearer(ACME_KEY))
    assert own.status_code == 200


def test_without_an_admin_token_no_token_is_still_unauthorized(
    without_admin: LiveServer,
) -> None:
    response = get(without_admin, "/v1/tenants/acme/dead-letters")

    assert_problem(response, 401, "unauthorized")
