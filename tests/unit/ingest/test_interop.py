"""Signatures agree with the reference libraries of Standard Webhooks and Stripe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import stripe
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from neuronx.errors import SignatureInvalid
from neuronx.ingest.signatures import Scheme, Verified, decode_secret, sign, verify

TOLERANCE = 300
BODY = b'{"type":"lead.created","data":{"email":"ada@example.com","name":"Ad\xc3\xa1"}}'
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"

_RAW = bytes(range(100, 120))
SW_SECRETS = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_" + base64.b64encode(_RAW).decode(),  # ends in "="
    "whsec_" + base64.b64encode(_RAW).decode().rstrip("="),  # padding left off
    base64.b64encode(_RAW).decode(),
]
SW_OTHER = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
STRIPE_SECRET = "whsec_stripe_example_secret"
STRIPE_OTHER = "whsec_stripe_other_secret"

SW = Scheme.STANDARD_WEBHOOKS
STRIPE = Scheme.STRIPE


def wall_clock() -> int:
    """The libraries check timestamps against the real clock, so sign with it."""
    return int(time.time())


def sw_verify(secret: str, headers: dict[str, str], body: bytes, now: int) -> Verified:
    return verify(
        SW,
        headers,
        body,
        [decode_secret(SW, secret)],
        now=now,
        tolerance_seconds=TOLERANCE,
    )


def library_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    signature = Webhook(secret).sign(
        MESSAGE_ID, datetime.fromtimestamp(timestamp, tz=UTC), body
    )
    return {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


# --- Standard Webhooks --------------------------------------------------------


@pytest.mark.parametrize("secret", SW_SECRETS)
def test_library_signature_verifies_with_neuronx(secret: str) -> None:
    timestamp = 1_700_000_000
    headers = library_headers(secret, BODY, timestamp)
    result = sw_verify(secret, headers, BODY, now=timestamp)
    assert result == Verified(timestamp, MESSAGE_ID)


@pytest.mark.parametrize("secret", SW_SECRETS)
def test_neuronx_signature_verifies_with_library(secret: str) -> None:
    timestamp = wall_clock()
    headers = sign(
        SW, decode_secret(SW, secret), BODY, timestamp=timestamp, message_id=MESSAGE_ID
    )
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


@pytest.mark.parametrize("secret", SW_SECRETS)
def test_same_signature_from_both_sides(secret: str) -> None:
    timestamp = 1_700_000_000
    ours = sign(
        SW, decode_secret(SW, secret), BODY, timestamp=timestamp, message_id=MESSAGE_ID
    )
    assert ours == library_headers(secret, BODY, timestamp)


def test_non_utf8_body_interoperates() -> None:
    body = b"\xff\xfe\x00binary"
    secret = SW_SECRETS[0]
    timestamp = wall_clock()
    headers = library_headers(secret, body, timestamp)
    assert sw_verify(secret, headers, body, now=timestamp)
    ours = sign(
        SW, decode_secret(SW, secret), body, timestamp=timestamp, message_id=MESSAGE_ID
    )
    assert Webhook(secret).verify(body, ours, json_parse=False) is None


def test_library_signature_with_another_secret_is_invalid() -> None:
    timestamp = 1_700_000_000
    headers = library_headers(SW_OTHER, BODY, timestamp)
    with pytest.raises(SignatureInvalid):
        sw_verify(SW_SECRETS[0], headers, BODY, now=timestamp)


def test_library_refuses_neuronx_signature_over_another_body() -> None:
    secret = SW_SECRETS[0]
    headers = sign(
        SW,
        decode_secret(SW, secret),
        BODY,
        timestamp=wall_clock(),
        message_id=MESSAGE_ID,
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)


def test_rotation_header_verifies_on_both_sides() -> None:
    """A sender mid-rotation signs with both secrets, space-separated."""
    timestamp = wall_clock()
    old, new = SW_SECRETS[0], SW_OTHER
    both = " ".join(
        library_headers(secret, BODY, timestamp)["webhook-signature"]
        for secret in (old, new)
    )
    headers = {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": both,
    }
    assert sw_verify(new, headers, BODY, now=timestamp)
    assert sw_verify(old, headers, BODY, now=timestamp)
    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)


# --- Stripe -------------------------------------------------------------------


def stripe_verify(header: str, body: bytes, now: int, secret: str) -> Verified:
    return verify(
        STRIPE,
        {"stripe-signature": header},
        body,
        [decode_secret(STRIPE, secret)],
        now=now,
        tolerance_seconds=TOLERANCE,
    )


def test_neuronx_header_passes_stripe_verify_header() -> None:
    header = sign(
        STRIPE, decode_secret(STRIPE, STRIPE_SECRET), BODY, timestamp=wall_clock()
    )["stripe-signature"]
    assert (
        stripe.WebhookSignature.verify_header(
            BODY.decode(), header, STRIPE_SECRET, tolerance=TOLERANCE
        )
        is True
    )


def test_stripe_verify_header_refuses_neuronx_header_with_another_secret() -> None:
    header = sign(
        STRIPE, decode_secret(STRIPE, STRIPE_OTHER), BODY, timestamp=wall_clock()
    )["stripe-signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(
            BODY.decode(), header, STRIPE_SECRET, tolerance=TOLERANCE
        )


def test_stripe_verify_header_refuses_neuronx_header_over_another_body() -> None:
    header = sign(
        STRIPE, decode_secret(STRIPE, STRIPE_SECRET), BODY, timestamp=wall_clock()
    )["stripe-signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(
            BODY.decode() + " ", header, STRIPE_SECRET, tolerance=TOLERANCE
        )


def test_stripe_generated_test_header_verifies_with_neuronx() -> None:
    timestamp = 1_700_000_000
    header = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_SECRET, timestamp=timestamp
    )
    assert stripe_verify(header, BODY, timestamp, STRIPE_SECRET) == Verified(
        timestamp, None
    )


def test_stripe_generated_test_header_matches_neuronx_sign() -> None:
    timestamp = 1_700_000_000
    header = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_SECRET, timestamp=timestamp
    )
    ours = sign(STRIPE, decode_secret(STRIPE, STRIPE_SECRET), BODY, timestamp=timestamp)
    assert ours == {"stripe-signature": header}


def test_stripe_generated_header_with_another_secret_is_invalid() -> None:
    timestamp = 1_700_000_000
    header = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), STRIPE_OTHER, timestamp=timestamp
    )
    with pytest.raises(SignatureInvalid):
        stripe_verify(header, BODY, timestamp, STRIPE_SECRET)


def test_header_computed_as_stripe_documents_verifies_with_neuronx() -> None:
    """HMAC-SHA256 hex of ``{t}.{payload}``, keyed with the whole secret string."""
    timestamp = 1_700_000_000
    payload = BODY.decode()
    digest = hmac.new(
        STRIPE_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    header = f"t={timestamp},v1={digest}"
    assert stripe_verify(header, BODY, timestamp, STRIPE_SECRET) == Verified(
        timestamp, None
    )
