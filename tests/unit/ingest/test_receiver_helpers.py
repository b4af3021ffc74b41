"""The idempotency key per scheme and the W3C traceparent parser."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from neuronx.ingest.receiver import idempotency_key, parse_traceparent
from neuronx.ingest.signatures import Scheme, Verified

BODY = b'{"id":"evt_1NqPQw2eZvKYlo2C","type":"lead.created"}'
BODY_HEX = hashlib.sha256(BODY).hexdigest()
TS = 1_700_000_000


def key(
    scheme: Scheme,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = BODY,
    document: dict[str, Any] | None = None,
    verified: Verified | None = None,
) -> str:
    return idempotency_key(
        scheme, headers or {}, body, document or {}, verified or Verified(None, None)
    )


def hashed(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --- standard-webhooks --------------------------------------------------------


def test_standard_webhooks_key_is_the_message_id() -> None:
    result = key(
        Scheme.STANDARD_WEBHOOKS,
        headers={"webhook-id": "msg_header", "x-github-delivery": "gh-1"},
        document={"id": "evt_body"},
        verified=Verified(TS, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
    )
    assert result == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def test_standard_webhooks_key_does_not_depend_on_the_body() -> None:
    verified = Verified(TS, "msg_1")
    first = key(Scheme.STANDARD_WEBHOOKS, body=b"{}", verified=verified)
    second = key(Scheme.STANDARD_WEBHOOKS, body=b'{"a":1}', verified=verified)
    assert first == second == "msg_1"


def test_standard_webhooks_without_message_id_falls_back_to_the_body() -> None:
    result = key(Scheme.STANDARD_WEBHOOKS, verified=Verified(TS, None))
    assert result == f"sha256:{BODY_HEX}"


# --- stripe -------------------------------------------------------------------


def test_stripe_key_is_the_event_id_of_the_body() -> None:
    result = key(
        Scheme.STRIPE,
        headers={"idempotency-key": "header-key"},
        document={"id": "evt_1NqPQw2eZvKYlo2C"},
        verified=Verified(TS, None),
    )
    assert result == "evt_1NqPQw2eZvKYlo2C"


@pytest.mark.parametrize(
    "document",
    [{}, {"id": 42}, {"id": None}, {"id": ""}, {"id": ["evt_1"]}, {"ID": "evt_1"}],
)
def test_stripe_without_a_string_id_falls_back_to_the_body(
    document: dict[str, Any],
) -> None:
    result = key(Scheme.STRIPE, document=document, verified=Verified(TS, None))
    assert result == f"sha256:{BODY_HEX}"


def test_stripe_fallback_differs_per_body() -> None:
    first = key(Scheme.STRIPE, body=b'{"a":1}')
    second = key(Scheme.STRIPE, body=b'{"a":2}')
    assert first.startswith("sha256:")
    assert first != second


# --- hub-sha256 ---------------------------------------------------------------


def test_hub_key_is_the_github_delivery() -> None:
    result = key(
        Scheme.HUB_SHA256,
        headers={
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "idempotency-key": "other",
        },
        document={"id": "evt_body"},
    )
    assert result == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_hub_key_is_the_idempotency_key_without_a_delivery() -> None:
    result = key(Scheme.HUB_SHA256, headers={"idempotency-key": "order-77"})
    assert result == "order-77"


def test_hub_empty_delivery_falls_through_to_the_idempotency_key() -> None:
    headers = {"x-github-delivery": "", "idempotency-key": "order-77"}
    assert key(Scheme.HUB_SHA256, headers=headers) == "order-77"


@pytest.mark.parametrize(
    "headers", [{}, {"x-github-delivery": "", "idempotency-key": ""}]
)
def test_hub_without_headers_falls_back_to_the_body(headers: dict[str, str]) -> None:
    result = key(Scheme.HUB_SHA256, headers=headers, document={"id": "evt_body"})
    assert result == f"sha256:{BODY_HEX}"


# --- slack --------------------------------------------------------------------


def test_slack_key_is_timestamp_and_body_hash() -> None:
    result = key(
        Scheme.SLACK,
        headers={"x-github-delivery": "gh-1", "idempotency-key": "k"},
        document={"id": "evt_body"},
        verified=Verified(TS, None),
    )
    assert result == f"{TS}:{BODY_HEX}"


def test_slack_same_body_at_another_time_is_another_key() -> None:
    first = key(Scheme.SLACK, verified=Verified(TS, None))
    second = key(Scheme.SLACK, verified=Verified(TS + 1, None))
    assert first != second


# --- long keys ----------------------------------------------------------------


def test_key_of_200_characters_is_kept() -> None:
    message_id = "m" * 200
    result = key(Scheme.STANDARD_WEBHOOKS, verified=Verified(TS, message_id))
    assert result == message_id


@pytest.mark.parametrize(
    ("scheme", "headers", "document", "verified", "raw"),
    [
        (
            Scheme.STANDARD_WEBHOOKS,
            {},
            {},
            Verified(TS, "m" * 201),
            "m" * 201,
        ),
        (Scheme.STRIPE, {}, {"id": "e" * 500}, Verified(TS, None), "e" * 500),
        (
            Scheme.HUB_SHA256,
            {"x-github-delivery": "d" * 201},
            {},
            Verified(None, None),
            "d" * 201,
        ),
        (
            Scheme.HUB_SHA256,
            {"idempotency-key": "é" * 300},
            {},
            Verified(None, None),
            "é" * 300,
        ),
    ],
)
def test_long_keys_are_hashed(
    scheme: Scheme,
    headers: dict[str, str],
    document: dict[str, Any],
    verified: Verified,
    raw: str,
) -> None:
    result = key(scheme, headers=headers, document=document, verified=verified)
    assert result == hashed(raw)
    assert len(result) <= 200


def test_long_keys_that_differ_hash_differently() -> None:
    first = key(Scheme.STRIPE, document={"id": "e" * 300 + "1"})
    second = key(Scheme.STRIPE, document={"id": "e" * 300 + "2"})
    assert first.startswith("sha256:")
    assert first != second


# --- traceparent --------------------------------------------------------------

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"


@pytest.mark.parametrize(
    "value", [VALID, f"00-{TRACE_ID}-{SPAN_ID}-00", f"  {VALID}  ", f"{VALID}\n"]
)
def test_valid_traceparent(value: str) -> None:
    assert parse_traceparent(value) == (TRACE_ID, SPAN_ID)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        f"01-{TRACE_ID}-{SPAN_ID}-01",
        f"ff-{TRACE_ID}-{SPAN_ID}-01",
        f"0-{TRACE_ID}-{SPAN_ID}-01",
        f"00-{'0' * 32}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID.upper()}-01",
        f"00-{TRACE_ID}-{SPAN_ID}-0A",
        f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01",
        f"00-{TRACE_ID}0-{SPAN_ID}-01",
        f"00-{TRACE_ID}-{SPAN_ID[:-1]}-01",
        f"00-{TRACE_ID}-{SPAN_ID}0-01",
        f"00-{TRACE_ID}-{SPAN_ID}-1",
        f"00-{TRACE_ID}-{SPAN_ID}-001",
        f"00-{TRACE_ID}-{SPAN_ID}",
        f"00-{TRACE_ID}-{SPAN_ID}-01-extra",
        f"00-{TRACE_ID[:-1]}g-{SPAN_ID}-01",
        f"00_{TRACE_ID}_{SPAN_ID}_01",
        TRACE_ID,
    ],
)
def test_invalid_traceparent_is_none(value: str | None) -> None:
    assert parse_traceparent(value) is None
