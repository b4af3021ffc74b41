"""Signature verification for the inbound webhook schemes.

Pure functions over raw bytes and lower-cased header names: no web framework,
no I/O, no clock of their own (``now`` is passed in). Only the raw body is
verified, before anything parses it.

Schemes and what each signs:

================== ============================================ =================
scheme             signature header                             signed content
================== ============================================ =================
standard-webhooks  ``webhook-signature: v1,B64 [v1,B64 ...]``   ``id.ts.body``
stripe             ``stripe-signature: t=TS,v1=HEX[,v1=HEX]``   ``TS.body``
hub-sha256         ``x-hub-signature-256: sha256=HEX``          ``body``
slack              ``x-slack-signature: v0=HEX``                ``v0:TS:body``
================== ============================================ =================
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from neuronx.errors import SignatureInvalid, SignatureMissing, TimestampOutOfTolerance

__all__ = [
    "Scheme",
    "Verified",
    "decode_secret",
    "sign",
    "verify",
]


class Scheme(StrEnum):
    STANDARD_WEBHOOKS = "standard-webhooks"
    STRIPE = "stripe"
    HUB_SHA256 = "hub-sha256"
    SLACK = "slack"


@dataclass(slots=True)
class Verified:
    """What a successful verification proves about the request."""

    timestamp: int | None
    message_id: str | None


# What a scheme signs and what the request claims: the signed content, the
# timestamp, the message id, and the signatures in the scheme's own text
# encoding. A plain tuple, as this is built for every request.
_Signed = tuple[bytes, int | None, str | None, tuple[str, ...]]
# How a scheme writes a digest as text: base64 or lower-case hex.
_Encode = Callable[[bytes], str]


def decode_secret(scheme: Scheme, secret: str) -> bytes:
    """Return the HMAC key a scheme derives from a configured secret string.

    Standard Webhooks keys are the base64 text after ``whsec_``; every other
    scheme keys the HMAC with the secret string itself.
    """
    if scheme is not Scheme.STANDARD_WEBHOOKS:
        return secret.encode()
    text = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError as exc:
        raise ValueError("a standard-webhooks secret is whsec_ and base64") from exc
    if not key:
        raise ValueError("a standard-webhooks secret may not be empty")
    return key


def verify(
    scheme: Scheme,
    headers: Mapping[str, str],
    body: bytes,
    keys: Sequence[bytes],
    *,
    now: float,
    tolerance_seconds: int,
) -> Verified:
    """Check that one signature of the request verifies with one of ``keys``.

    ``headers`` must be keyed by lower-case names. Raises
    :class:`~neuronx.errors.SignatureMissing`,
    :class:`~neuronx.errors.TimestampOutOfTolerance` or
    :class:`~neuronx.errors.SignatureInvalid`; the timestamp is checked first,
    as the Standard Webhooks reference does, so stale requests cost no HMAC.
    """
    extract, encode = _EXTRACTORS[scheme]
    content, timestamp, message_id, candidates = extract(headers, body)

    if timestamp is not None and abs(now - timestamp) > tolerance_seconds:
        raise TimestampOutOfTolerance(
            f"timestamp {timestamp} is more than {tolerance_seconds} s from now"
        )

    for key in keys:
        # The digest we expect is encoded as the scheme writes it, and the
        # comparison is of text: decoding every claimed signature would cost
        # more than the HMAC, and a malformed one simply does not match.
        expected = encode(hmac.digest(key, content, "sha256"))
        # Every candidate is compared, matched or not, so the time taken does
        # not tell which entry of the list came close.
        matched = False
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
        if matched:
            return Verified(timestamp, message_id)
    raise SignatureInvalid()


def sign(
    scheme: Scheme,
    key: bytes,
    body: bytes,
    *,
    timestamp: int,
    message_id: str = "",
) -> dict[str, str]:
    """Return the headers that sign ``body`` for ``scheme``, like ``neuronx send``."""
    if scheme is Scheme.STANDARD_WEBHOOKS:
        content = f"{message_id}.{timestamp}.".encode() + body
        digest = base64.b64encode(hmac.digest(key, content, "sha256")).decode()
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1,{digest}",
        }
    if scheme is Scheme.STRIPE:
        content = f"{timestamp}.".encode() + body
        hex_digest = hmac.new(key, content, "sha256").hexdigest()
        return {"stripe-signature": f"t={timestamp},v1={hex_digest}"}
    if scheme is Scheme.HUB_SHA256:
        hex_digest = hmac.new(key, body, "sha256").hexdigest()
        headers = {"x-hub-signature-256": f"sha256={hex_digest}"}
        if message_id:
            headers["x-github-delivery"] = message_id
        return headers
    content = f"v0:{timestamp}:".encode() + body
    hex_digest = hmac.new(key, content, "sha256").hexdigest()
    return {
        "x-slack-signature": f"v0={hex_digest}",
        "x-slack-request-timestamp": str(timestamp),
    }


def _timestamp(value: str) -> int:
    digits = value[1:] if value[:1] == "-" else value
    # isascii first: isdigit alone admits other scripts' digits.
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 15):
        raise SignatureMissing("the signature timestamp is not an integer")
    return int(value)


def _base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _hex(digest: bytes) -> str:
    return digest.hex()


def _text(value: str) -> tuple[str, ...]:
    # compare_digest takes ASCII text only; anything else cannot match.
    return (value,) if value.isascii() else ()


def _standard_webhooks(headers: Mapping[str, str], body: bytes) -> _Signed:
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not (message_id and timestamp and signature):
        raise SignatureMissing("webhook-id, webhook-timestamp and webhook-signature")

    ts = _timestamp(timestamp)
    candidates: list[str] = []
    for entry in signature.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1":
            candidates += _text(value)
    content = f"{message_id}.{timestamp}.".encode() + body
    return content, ts, message_id, tuple(candidates)


def _stripe(headers: Mapping[str, str], body: bytes) -> _Signed:
    header = headers.get("stripe-signature")
    if not header:
        raise SignatureMissing("Stripe-Signature")

    timestamp: str | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates += _text(value.lower())
    if timestamp is None:
        raise SignatureMissing("Stripe-Signature has no t= timestamp")
    ts = _timestamp(timestamp)
    return f"{timestamp}.".encode() + body, ts, None, tuple(candidates)


def _hub_sha256(headers: Mapping[str, str], body: bytes) -> _Signed:
    header = headers.get("x-hub-signature-256")
    if not header:
        raise SignatureMissing("X-Hub-Signature-256")

    prefix, _, value = header.partition("=")
    return body, None, None, _text(value.lower()) if prefix == "sha256" else ()


def _slack(headers: Mapping[str, str], body: bytes) -> _Signed:
    signature = headers.get("x-slack-signature")
    timestamp = headers.get("x-slack-request-timestamp")
    if not (signature and timestamp):
        raise SignatureMissing("X-Slack-Signature and X-Slack-Request-Timestamp")

    ts = _timestamp(timestamp)
    version, _, value = signature.partition("=")
    content = f"v0:{timestamp}:".encode() + body
    return content, ts, None, _text(value.lower()) if version == "v0" else ()


_EXTRACTORS: dict[
    Scheme, tuple[Callable[[Mapping[str, str], bytes], _Signed], _Encode]
] = {
    Scheme.STANDARD_WEBHOOKS: (_standard_webhooks, _base64),
    Scheme.STRIPE: (_stripe, _hex),
    Scheme.HUB_SHA256: (_hub_sha256, _hex),
    Scheme.SLACK: (_slack, _hex),
}
