"""The one exception tree of NeuronX.

Every error that can reach a caller derives from :class:`NeuronXError` and carries
the stable ``code`` and HTTP ``status`` of the contract, so the HTTP edge maps
errors to problem+json in one place::

    NeuronXError
    ├── ConfigError                      (invalid declarative config)
    ├── VerificationError                (401/403 family of the inbound webhooks)
    │   ├── SignatureMissing             signature_missing
    │   ├── SignatureInvalid             signature_invalid
    │   ├── TimestampOutOfTolerance      timestamp_out_of_tolerance
    │   └── EventNotAllowed              event_not_allowed
    ├── UnknownSource                    unknown_source
    ├── PayloadTooLarge                  payload_too_large
    ├── MalformedPayload                 malformed_payload
    ├── NotFound                         not_found
    ├── Unauthorized                     unauthorized
    ├── InvalidRequest                   invalid_request
    ├── StoreUnavailable                 unavailable
    └── JobError                         (steers a job from inside its handler)
        ├── PermanentJobError            dead-letter now, no retry
        └── RetryJob                     retry after a given delay
"""

from __future__ import annotations


class NeuronXError(Exception):
    """Root of every error NeuronX raises on purpose."""

    code: str = "internal_error"
    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class ConfigError(NeuronXError):
    code = "invalid_config"
    status = 422
    title = "The configuration does not validate"

    def __init__(self, detail: str, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class VerificationError(NeuronXError):
    status = 401


class SignatureMissing(VerificationError):
    code = "signature_missing"
    title = "Signature headers are missing or malformed"


class SignatureInvalid(VerificationError):
    code = "signature_invalid"
    title = "No signature matches an active secret"


class TimestampOutOfTolerance(VerificationError):
    code = "timestamp_out_of_tolerance"
    title = "The signed timestamp is outside the tolerance"


class EventNotAllowed(VerificationError):
    code = "event_not_allowed"
    status = 403
    title = "The event type is outside the source's scope"


class UnknownSource(NeuronXError):
    code = "unknown_source"
    status = 404
    title = "Unknown tenant or source"


class PayloadTooLarge(NeuronXError):
    code = "payload_too_large"
    status = 413
    title = "The body is larger than allowed"


class MalformedPayload(NeuronXError):
    code = "malformed_payload"
    status = 400
    title = "The body is not a JSON document"


class NotFound(NeuronXError):
    code = "not_found"
    status = 404
    title = "Not found"


class Unauthorized(NeuronXError):
    code = "unauthorized"
    status = 401
    title = "A bearer token is required"


class InvalidRequest(NeuronXError):
    code = "invalid_request"
    status = 400
    title = "The request is not valid"


class StoreUnavailable(NeuronXError):
    code = "unavailable"
    status = 503
    title = "The store cannot commit right now"


class JobError(NeuronXError):
    """Raised by a task handler to steer what happens to its job."""


class PermanentJobError(JobError):
    """Bad data: retrying cannot help, so the job is dead-lettered at once."""

    code = "permanent_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryJob(JobError):
    """Try again after ``delay_seconds`` (a Retry-After, say), within max attempts."""

    code = "retry"

    def __init__(self, reason: str, delay_seconds: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_seconds = delay_seconds
