"""Whatever arrives at the hook route, the answer is never a 5xx."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronx.api.state import AppState
from tests.support import live_server

HEADER_NAMES = st.sampled_from(
    [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "stripe-signature",
        "x-hub-signature-256",
        "x-github-delivery",
        "x-github-event",
        "idempotency-key",
        "x-slack-signature",
        "x-slack-request-timestamp",
        "content-type",
        "traceparent",
        "x-anything",
    ]
)
# HTTP header values are latin-1 on the wire; control characters and edge
# whitespace are refused by the client before they could reach the server.
HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=120,
).map(lambda value: value.strip(" "))
SOURCES = st.sampled_from(["forms", "any", "stripe", "hub", "slack", "missing"])
TENANTS = st.sampled_from(["acme", "globex", "nobody"])


def test_arbitrary_requests_never_get_a_5xx(state: AppState) -> None:
    with live_server(state) as server, httpx.Client(timeout=10) as client:

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            tenant=TENANTS,
            source=SOURCES,
            headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6),
            body=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode),
        )
        def probe(
            tenant: str, source: str, headers: dict[str, str], body: bytes
        ) -> None:
            raw = {k.encode(): v.encode("latin-1") for k, v in headers.items()}
            response = client.post(
                server.hook(source, tenant), content=body, headers=raw
            )
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["status"] == response.status_code

        probe()
