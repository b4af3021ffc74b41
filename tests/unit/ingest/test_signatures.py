"""Signature verification of the four inbound schemes, as pure functions."""

from __future__ import annotations

import base64
import contextlib
import hmac

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neuronx.errors import (
    SignatureInvalid,
    SignatureMissing,
    TimestampOutOfTolerance,
    VerificationError,
)
from neuronx.ingest.signatures import Scheme, Verified, decode_secret, sign, verify

NOW = 1_700_000_000
TOLERANCE = 300
BODY = b'{"id":"evt_1","type":"lead.created","email":"ada@example.com"}'
MESSAGE_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"

SW_OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_NEW = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
SECRETS: dict[Scheme, tuple[str, str]] = {
    Scheme.STANDARD_WEBHOOKS: (SW_OLD, SW_NEW),
    Scheme.STRIPE: ("whsec_stripe_old_secret", "whsec_stripe_new_secret"),
    Scheme.HUB_SHA256: ("hub-old-secret", "hub-new-secret"),
    Scheme.SLACK: ("slack-old-signing-secret", "slack-new-signing-secret"),
}
TIMED_SCHEMES = [Scheme.STANDARD_WEBHOOKS, Scheme.STRIPE, Scheme.SLACK]
REQUIRED_HEADERS: dict[Scheme, tuple[str, ...]] = {
    Scheme.STANDARD_WEBHOOKS: ("webhook-id", "webhook-timestamp", "webhook-signature"),
    Scheme.STRIPE: ("stripe-signature",),
    Scheme.HUB_SHA256: ("x-hub-signature-256",),
    Scheme.SLACK: ("x-slack-signature", "x-slack-request-timestamp"),
}
ALL_SCHEMES = list(Scheme)


def old_key(scheme: Scheme) -> bytes:
    return decode_secret(scheme, SECRETS[scheme][0])


def new_key(scheme: Scheme) -> bytes:
    return decode_secret(scheme, SECRETS[scheme][1])


def signed(
    scheme: Scheme, key: bytes, body: bytes = BODY, timestamp: int = NOW
) -> dict[str, str]:
    return sign(scheme, key, body, timestamp=timestamp, message_id=MESSAGE_ID)


def check(
    scheme: Scheme,
    headers: dict[str, str],
    body: bytes = BODY,
    keys: list[bytes] | None = None,
    now: float = NOW,
) -> Verified:
    return verify(
        scheme,
        headers,
        body,
        [old_key(scheme)] if keys is None else keys,
        now=now,
        tolerance_seconds=TOLERANCE,
    )


def with_timestamp(scheme: Scheme, headers: dict[str, str], value: str) -> None:
    """Replace the signed timestamp of ``headers`` in place, keeping the signature."""
    if scheme is Scheme.STANDARD_WEBHOOKS:
        headers["webhook-timestamp"] = value
    elif scheme is Scheme.SLACK:
        headers["x-slack-request-timestamp"] = value
    else:
        _, _, rest = headers["stripe-signature"].partition(",")
        headers["stripe-signature"] = f"t={value},{rest}"


def hmac_sha256(key: bytes, content: bytes) -> bytes:
    return hmac.digest(key, content, "sha256")


# --- the happy path and the plain refusals ------------------------------------


EXPECTED_VERIFIED = {
    Scheme.STANDARD_WEBHOOKS: Verified(NOW, MESSAGE_ID),
    Scheme.STRIPE: Verified(NOW, None),
    Scheme.HUB_SHA256: Verified(None, None),
    Scheme.SLACK: Verified(NOW, None),
}


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_correct_signature_verifies(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    assert check(scheme, headers) == EXPECTED_VERIFIED[scheme]


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_wrong_secret_is_invalid(scheme: Scheme) -> None:
    headers = signed(scheme, new_key(scheme))
    with pytest.raises(SignatureInvalid):
        check(scheme, headers, keys=[old_key(scheme)])


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_tampered_body_is_invalid(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    tampered = BODY.replace(b"ada@", b"eve@")
    assert tampered != BODY
    with pytest.raises(SignatureInvalid):
        check(scheme, headers, body=tampered)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_one_appended_byte_is_invalid(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    with pytest.raises(SignatureInvalid):
        check(scheme, headers, body=BODY + b" ")


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_no_keys_is_invalid(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    with pytest.raises(SignatureInvalid):
        check(scheme, headers, keys=[])


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_no_headers_is_missing(scheme: Scheme) -> None:
    with pytest.raises(SignatureMissing):
        check(scheme, {})


@pytest.mark.parametrize(
    ("scheme", "header"),
    [(scheme, name) for scheme in ALL_SCHEMES for name in REQUIRED_HEADERS[scheme]],
)
def test_each_required_header_absent_is_missing(scheme: Scheme, header: str) -> None:
    headers = signed(scheme, old_key(scheme))
    del headers[header]
    with pytest.raises(SignatureMissing):
        check(scheme, headers)


@pytest.mark.parametrize(
    ("scheme", "header"),
    [(scheme, name) for scheme in ALL_SCHEMES for name in REQUIRED_HEADERS[scheme]],
)
def test_each_required_header_empty_is_missing(scheme: Scheme, header: str) -> None:
    headers = signed(scheme, old_key(scheme))
    headers[header] = ""
    with pytest.raises(SignatureMissing):
        check(scheme, headers)


def test_stripe_header_without_timestamp_is_missing() -> None:
    headers = signed(Scheme.STRIPE, old_key(Scheme.STRIPE))
    _, _, rest = headers["stripe-signature"].partition(",")
    assert rest.startswith("v1=")
    with pytest.raises(SignatureMissing):
        check(Scheme.STRIPE, {"stripe-signature": rest})


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
@pytest.mark.parametrize("value", ["abc", "1.5", "", " ", "1e9", "0x10", "17000000.0"])
def test_non_integer_timestamp_is_missing(scheme: Scheme, value: str) -> None:
    headers = signed(scheme, old_key(scheme))
    with_timestamp(scheme, headers, value)
    with pytest.raises(SignatureMissing):
        check(scheme, headers)


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_non_integer_timestamp_is_missing_even_without_any_key(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    with_timestamp(scheme, headers, "1.5")
    with pytest.raises(SignatureMissing):
        check(scheme, headers, keys=[])


# --- the timestamp tolerance --------------------------------------------------


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
@pytest.mark.parametrize("offset", [-TOLERANCE, -1, 0, 1, TOLERANCE])
def test_timestamp_within_tolerance_passes(scheme: Scheme, offset: int) -> None:
    headers = signed(scheme, old_key(scheme), timestamp=NOW + offset)
    assert check(scheme, headers, now=NOW).timestamp == NOW + offset


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1, -86400, NOW])
def test_timestamp_outside_tolerance_is_refused(scheme: Scheme, offset: int) -> None:
    headers = signed(scheme, old_key(scheme), timestamp=NOW + offset)
    with pytest.raises(TimestampOutOfTolerance):
        check(scheme, headers, now=NOW)


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_tolerance_is_measured_from_now_not_from_the_epoch(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme), timestamp=NOW)
    assert check(scheme, headers, now=NOW + TOLERANCE).timestamp == NOW
    with pytest.raises(TimestampOutOfTolerance):
        check(scheme, headers, now=NOW + TOLERANCE + 1)


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_fractional_now_is_compared_exactly(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme), timestamp=NOW)
    with pytest.raises(TimestampOutOfTolerance):
        check(scheme, headers, now=NOW + TOLERANCE + 0.5)


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_stale_timestamp_is_reported_before_a_bad_signature(scheme: Scheme) -> None:
    headers = signed(scheme, new_key(scheme), timestamp=NOW - TOLERANCE - 1)
    with pytest.raises(TimestampOutOfTolerance):
        check(scheme, headers, keys=[old_key(scheme)])


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_tolerance_is_the_argument_not_a_constant(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme), timestamp=NOW - 10)
    key = [old_key(scheme)]
    assert verify(scheme, headers, BODY, key, now=NOW, tolerance_seconds=10)
    with pytest.raises(TimestampOutOfTolerance):
        verify(scheme, headers, BODY, key, now=NOW, tolerance_seconds=9)


@pytest.mark.parametrize("now", [0.0, NOW - 10**6, float(NOW), NOW + 10**9])
def test_hub_sha256_has_no_timestamp(now: float) -> None:
    headers = signed(Scheme.HUB_SHA256, old_key(Scheme.HUB_SHA256))
    assert set(headers) == {"x-hub-signature-256", "x-github-delivery"}
    result = verify(
        Scheme.HUB_SHA256,
        headers,
        BODY,
        [old_key(Scheme.HUB_SHA256)],
        now=now,
        tolerance_seconds=1,
    )
    assert result == Verified(None, None)


def test_hub_sha256_bad_signature_is_invalid_never_out_of_tolerance() -> None:
    headers = signed(Scheme.HUB_SHA256, new_key(Scheme.HUB_SHA256))
    with pytest.raises(SignatureInvalid):
        verify(
            Scheme.HUB_SHA256,
            headers,
            BODY,
            [old_key(Scheme.HUB_SHA256)],
            now=0.0,
            tolerance_seconds=1,
        )


# --- rotation -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_rotation_accepts_either_key(scheme: Scheme) -> None:
    keys = [old_key(scheme), new_key(scheme)]
    assert keys[0] != keys[1]
    assert check(scheme, signed(scheme, old_key(scheme)), keys=keys)
    assert check(scheme, signed(scheme, new_key(scheme)), keys=keys)
    assert check(scheme, signed(scheme, new_key(scheme)), keys=keys[::-1])


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_retired_key_fails_after_rotation(scheme: Scheme) -> None:
    assert check(scheme, signed(scheme, new_key(scheme)), keys=[new_key(scheme)])
    with pytest.raises(SignatureInvalid):
        check(scheme, signed(scheme, old_key(scheme)), keys=[new_key(scheme)])


# --- several signatures in one header -----------------------------------------


def sw_digest(key: bytes, timestamp: int = NOW, body: bytes = BODY) -> str:
    content = f"{MESSAGE_ID}.{timestamp}.".encode() + body
    return base64.b64encode(hmac_sha256(key, content)).decode()


def sw_headers(signature: str) -> dict[str, str]:
    return {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": signature,
    }


SW = Scheme.STANDARD_WEBHOOKS
SW_KEY = decode_secret(SW, SW_OLD)
SW_OTHER_KEY = decode_secret(SW, SW_NEW)


def test_sign_matches_the_documented_standard_webhooks_form() -> None:
    assert signed(SW, SW_KEY)["webhook-signature"] == f"v1,{sw_digest(SW_KEY)}"


def test_standard_webhooks_last_of_several_signatures_verifies() -> None:
    wrong = [sw_digest(SW_OTHER_KEY), base64.b64encode(b"\0" * 32).decode()]
    header = " ".join(f"v1,{value}" for value in [*wrong, sw_digest(SW_KEY)])
    assert check(SW, sw_headers(header)) == Verified(NOW, MESSAGE_ID)


def test_standard_webhooks_several_wrong_signatures_are_invalid() -> None:
    wrong = [sw_digest(SW_OTHER_KEY), base64.b64encode(b"\0" * 32).decode()]
    header = " ".join(f"v1,{value}" for value in wrong)
    with pytest.raises(SignatureInvalid):
        check(SW, sw_headers(header))


@pytest.mark.parametrize(
    "junk",
    [
        "v2,xxx",
        "garbage",
        "v1,not-base64!!",
        "v1,é",
        "v1,",
        "v1",
        ",",
        f"v2,{sw_digest(SW_KEY)}",
        f"V1,{sw_digest(SW_KEY)}",
        "v1," + base64.b64encode(b"\1" * 16).decode(),
        "v1," + base64.b64encode(b"\1" * 33).decode(),
    ],
)
def test_standard_webhooks_malformed_entries_are_skipped(junk: str) -> None:
    assert check(SW, sw_headers(f"{junk} v1,{sw_digest(SW_KEY)}"))
    assert check(SW, sw_headers(f"v1,{sw_digest(SW_KEY)} {junk}"))
    with pytest.raises(SignatureInvalid):
        check(SW, sw_headers(junk))


def test_standard_webhooks_only_malformed_entries_is_invalid_not_missing() -> None:
    header = f"v2,xxx garbage v1,not-base64!! v2,{sw_digest(SW_KEY)}"
    with pytest.raises(SignatureInvalid):
        check(SW, sw_headers(header))


def test_standard_webhooks_repeated_spaces_between_entries_are_tolerated() -> None:
    assert check(SW, sw_headers(f"v2,xxx   v1,{sw_digest(SW_KEY)}  "))


def test_standard_webhooks_signature_covers_message_id() -> None:
    headers = signed(SW, SW_KEY)
    headers["webhook-id"] = "msg_other"
    with pytest.raises(SignatureInvalid):
        check(SW, headers)


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_signature_covers_timestamp(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    with_timestamp(scheme, headers, str(NOW + 1))
    with pytest.raises(SignatureInvalid):
        check(scheme, headers)


STRIPE = Scheme.STRIPE
STRIPE_KEY = decode_secret(STRIPE, SECRETS[STRIPE][0])


def stripe_hex(key: bytes = STRIPE_KEY, timestamp: int = NOW) -> str:
    return hmac_sha256(key, f"{timestamp}.".encode() + BODY).hex()


def test_sign_matches_the_documented_stripe_form() -> None:
    header = signed(STRIPE, STRIPE_KEY)["stripe-signature"]
    assert header == f"t={NOW},v1={stripe_hex()}"


@pytest.mark.parametrize(
    "header",
    [
        f"t={NOW},v1={'0' * 64},v1={stripe_hex()}",
        f"t={NOW},v1={stripe_hex()},v1={'0' * 64}",
        f"v1={stripe_hex()},t={NOW}",
        f"t={NOW}, v1={stripe_hex()}",
        f"t={NOW},v0={'ab' * 32},foo=bar,v1={stripe_hex()}",
        f"t={NOW},v1={stripe_hex()},v0={'ab' * 32},foo=bar,baz",
        f"t={NOW},v1=nothex,v1={stripe_hex()}",
    ],
)
def test_stripe_header_with_one_valid_v1_entry_verifies(header: str) -> None:
    result = check(STRIPE, {"stripe-signature": header})
    assert result == Verified(NOW, None)


@pytest.mark.parametrize(
    "header",
    [
        f"t={NOW},v1={'0' * 64},v1={stripe_hex(new_key(STRIPE))}",
        f"t={NOW},v0={stripe_hex()}",
        f"t={NOW},V1={stripe_hex()}",
        f"t={NOW},v1={stripe_hex()[:-2]}",
        f"t={NOW},foo=bar",
        f"t={NOW}",
    ],
)
def test_stripe_header_without_a_valid_v1_entry_is_invalid(header: str) -> None:
    with pytest.raises(SignatureInvalid):
        check(STRIPE, {"stripe-signature": header})


HUB = Scheme.HUB_SHA256
HUB_KEY = decode_secret(HUB, SECRETS[HUB][0])


def test_sign_matches_the_documented_hub_form() -> None:
    header = sign(HUB, HUB_KEY, BODY, timestamp=NOW)
    assert header == {
        "x-hub-signature-256": f"sha256={hmac_sha256(HUB_KEY, BODY).hex()}"
    }


@pytest.mark.parametrize("prefix", ["sha1", "SHA256", "", "sha512"])
def test_hub_signature_needs_the_sha256_prefix(prefix: str) -> None:
    digest = hmac_sha256(HUB_KEY, BODY).hex()
    with pytest.raises(SignatureInvalid):
        check(HUB, {"x-hub-signature-256": f"{prefix}={digest}"})


SLACK = Scheme.SLACK
SLACK_KEY = decode_secret(SLACK, SECRETS[SLACK][0])


def test_sign_matches_the_documented_slack_form() -> None:
    digest = hmac_sha256(SLACK_KEY, f"v0:{NOW}:".encode() + BODY).hex()
    assert sign(SLACK, SLACK_KEY, BODY, timestamp=NOW) == {
        "x-slack-signature": f"v0={digest}",
        "x-slack-request-timestamp": str(NOW),
    }


@pytest.mark.parametrize("version", ["v1", "V0", ""])
def test_slack_signature_needs_the_v0_version(version: str) -> None:
    headers = signed(SLACK, SLACK_KEY)
    _, _, digest = headers["x-slack-signature"].partition("=")
    headers["x-slack-signature"] = f"{version}={digest}"
    with pytest.raises(SignatureInvalid):
        check(SLACK, headers)


# --- decode_secret ------------------------------------------------------------


RAW_KEY = bytes(range(20))
PADDED = base64.b64encode(RAW_KEY).decode()


@pytest.mark.parametrize(
    "secret", [f"whsec_{PADDED}", f"whsec_{PADDED.rstrip('=')}", PADDED]
)
def test_decode_standard_webhooks_secret(secret: str) -> None:
    assert PADDED.endswith("=")
    assert decode_secret(SW, secret) == RAW_KEY


def test_decode_standard_webhooks_secret_without_padding_need() -> None:
    raw = bytes(range(24))
    assert decode_secret(SW, "whsec_" + base64.b64encode(raw).decode()) == raw


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_not base64",
        "whsec_!!!!",
        "whsec_abcde",
        "whsec_ab-_cd",
        "whsec_==",
        "whsec_stripe_example_secret",
    ],
)
def test_decode_invalid_standard_webhooks_secret_raises(secret: str) -> None:
    with pytest.raises(ValueError, match="whsec_ and base64"):
        decode_secret(SW, secret)


def test_decode_non_ascii_standard_webhooks_secret_raises() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the type is the contract
        decode_secret(SW, "whsec_s\u00e9cret")


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_decode_empty_standard_webhooks_secret_raises(secret: str) -> None:
    with pytest.raises(ValueError, match="may not be empty"):
        decode_secret(SW, secret)


@pytest.mark.parametrize("scheme", [STRIPE, HUB, SLACK])
@pytest.mark.parametrize(
    "secret", ["whsec_stripe_example_secret", f"whsec_{PADDED}", "sécret ✓", "x"]
)
def test_decode_other_schemes_use_the_utf8_bytes(scheme: Scheme, secret: str) -> None:
    assert decode_secret(scheme, secret) == secret.encode("utf-8")


# --- properties ---------------------------------------------------------------


HEADER_NAMES = st.sampled_from(
    [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "stripe-signature",
        "x-hub-signature-256",
        "x-slack-signature",
        "x-slack-request-timestamp",
        "x-github-delivery",
        "idempotency-key",
        "content-type",
        "x-other",
    ]
)
_near_now = st.integers(NOW - 2 * TOLERANCE, NOW + 2 * TOLERANCE).map(str)
_timestamp = st.one_of(_near_now, st.text())
_b64_digest = st.binary(min_size=32, max_size=32).map(
    lambda raw: base64.b64encode(raw).decode()
)
_hex_digest = st.binary(min_size=32, max_size=32).map(bytes.hex)
_token = st.one_of(st.text(max_size=70), _b64_digest, _hex_digest, _near_now)
_label = st.one_of(st.sampled_from(["v0", "v1", "t", "sha256"]), st.text(max_size=3))
# Values shaped like each real header, so that parsing gets past the first check.
_SHAPED = {
    "webhook-id": st.text(),
    "webhook-timestamp": _timestamp,
    "webhook-signature": st.one_of(
        st.text(),
        st.lists(st.builds("{},{}".format, _label, _token), min_size=1).map(" ".join),
    ),
    "stripe-signature": st.one_of(
        st.text(),
        st.builds(
            "t={},{}".format,
            _timestamp,
            st.lists(st.builds("{}={}".format, _label, _token)).map(",".join),
        ),
        st.lists(st.builds("{}={}".format, _label, _token)).map(",".join),
    ),
    "x-hub-signature-256": st.one_of(
        st.text(), st.builds("{}={}".format, _label, _token)
    ),
    "x-slack-signature": st.one_of(
        st.text(), st.builds("{}={}".format, _label, _token)
    ),
    "x-slack-request-timestamp": _timestamp,
}
HEADERS = st.builds(
    lambda loose, shaped: {**loose, **shaped},
    st.dictionaries(HEADER_NAMES, st.text()),
    st.fixed_dictionaries({}, optional=_SHAPED),
)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(headers=HEADERS, body=st.binary())
@example(
    headers={
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1,é",
    },
    body=b"",
)
@example(
    headers={"stripe-signature": f"t={NOW},v1={'é' * 64}"},
    body=b"",
)
@example(headers={"x-hub-signature-256": "sha256=" + "é" * 64}, body=b"")
@example(
    headers={
        # Arabic-Indic digits: str.isdigit() but neither hex nor ASCII.
        "x-slack-signature": "v0=" + "\u0660" * 64,
        "x-slack-request-timestamp": "\u0661\u0667" + "\u0660" * 8,
    },
    body=b"",
)
def test_verify_only_raises_verification_errors(
    scheme: Scheme, headers: dict[str, str], body: bytes
) -> None:
    keys = [old_key(scheme), new_key(scheme)]
    with contextlib.suppress(VerificationError):
        verify(scheme, headers, body, keys, now=NOW, tolerance_seconds=TOLERANCE)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@settings(max_examples=200, deadline=None, database=None)
@given(
    body=st.binary(),
    key=st.binary(min_size=1, max_size=64),
    offset=st.integers(-TOLERANCE, TOLERANCE),
    message_id=st.text(min_size=1, max_size=40),
)
def test_sign_verify_roundtrip(
    scheme: Scheme, body: bytes, key: bytes, offset: int, message_id: str
) -> None:
    headers = sign(scheme, key, body, timestamp=NOW + offset, message_id=message_id)
    result = verify(scheme, headers, body, [key], now=NOW, tolerance_seconds=TOLERANCE)
    if scheme is Scheme.HUB_SHA256:
        assert result == Verified(None, None)
    elif scheme is Scheme.STANDARD_WEBHOOKS:
        assert result == Verified(NOW + offset, message_id)
    else:
        assert result == Verified(NOW + offset, None)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@settings(max_examples=200, deadline=None, database=None)
@given(body=st.binary(), other=st.binary())
def test_signature_does_not_verify_another_body(
    scheme: Scheme, body: bytes, other: bytes
) -> None:
    headers = signed(scheme, old_key(scheme), body=body)
    if other == body:
        assert check(scheme, headers, body=other)
        return
    with pytest.raises(SignatureInvalid):
        check(scheme, headers, body=other)


@pytest.mark.parametrize("scheme", [Scheme.STRIPE, HUB, SLACK])
def test_hex_digests_may_be_written_in_upper_case(scheme: Scheme) -> None:
    headers = signed(scheme, old_key(scheme))
    for name, value in headers.items():
        if "signature" in name:
            marker = "v1=" if scheme is Scheme.STRIPE else "="
            prefix, _, digest = value.partition(marker)
            headers[name] = f"{prefix}{marker}{digest.upper()}"

    assert check(scheme, headers) == EXPECTED_VERIFIED[scheme]


def test_standard_webhooks_digest_is_compared_as_its_exact_base64() -> None:
    headers = signed(SW, old_key(SW))
    _, _, digest = headers["webhook-signature"].partition(",")
    headers["webhook-signature"] = f"v1,{digest.rstrip('=')}"  # padding dropped
    with pytest.raises(SignatureInvalid):
        check(SW, headers)
