"""Admitting one inbound webhook: verify, parse, scope, key, commit.

Framework-free: the HTTP edge reads the body (enforcing the size limit) and
hands over bytes and headers; everything the contract says about what a
webhook must prove happens here, in this order:

1. the source exists (``unknown_source``);
2. the signature headers are present and the timestamp is fresh;
3. one signature verifies with an active secret of the source;
4. only then is the body parsed (``malformed_payload``);
5. the event type is within the source's scope (``event_not_allowed``);
6. the idempotency key is claimed and the event committed, with its jobs.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from neuronx.errors import EventNotAllowed, MalformedPayload, UnknownSource
from neuronx.ids import new_id, new_span_id, new_trace_id
from neuronx.ingest.signatures import Scheme, Verified, verify
from neuronx.ingest.writer import GroupCommitWriter
from neuronx.store.events import Admission, NewEvent
from neuronx.store.tenants import Directory, SourceEntry

__all__ = ["Receiver", "idempotency_key", "parse_traceparent"]

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_MAX_KEY = 200


class Receiver:
    def __init__(
        self,
        directory: Callable[[], Directory],
        writer: GroupCommitWriter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._writer = writer
        self._clock = clock

    @property
    def max_body_bytes(self) -> int:
        return self._directory().settings.max_body_bytes

    def source(self, tenant_id: str, source_id: str) -> SourceEntry:
        entry = self._directory().sources.get((tenant_id, source_id))
        if entry is None:
            raise UnknownSource(f"no source {source_id!r} for tenant {tenant_id!r}")
        return entry

    async def receive(
        self,
        entry: SourceEntry,
        headers: Mapping[str, str],
        body: bytes,
        *,
        traceparent: str | None = None,
    ) -> Admission:
        now = self._clock()
        settings = self._directory().settings
        verified = verify(
            entry.scheme,
            headers,
            body,
            entry.keys_at(now),
            now=now,
            tolerance_seconds=settings.timestamp_tolerance_seconds,
        )
        document = _parse(body)
        event_type = _event_type(entry.scheme, headers, document)
        if entry.events is not None and event_type not in entry.events:
            raise EventNotAllowed(f"event type {event_type!r} is not accepted here")

        trace_id, _parent = parse_traceparent(traceparent) or (new_trace_id(), None)
        item = NewEvent(
            event_id=new_id("evt"),
            tenant_id=entry.tenant_id,
            source_id=entry.source_id,
            type=event_type,
            idempotency_key=idempotency_key(
                entry.scheme, headers, body, document, verified
            ),
            payload=body,
            trace_id=trace_id,
            traceparent=f"00-{trace_id}-{new_span_id()}-01",
            received_at=now,
        )
        return await self._writer.submit(item)


def idempotency_key(
    scheme: Scheme,
    headers: Mapping[str, str],
    body: bytes,
    document: dict[str, Any],
    verified: Verified,
) -> str:
    """The key that makes a redelivery a duplicate, per the contract's table."""
    key: str | None
    if scheme is Scheme.STANDARD_WEBHOOKS:
        key = verified.message_id
    elif scheme is Scheme.STRIPE:
        key = document.get("id") if isinstance(document.get("id"), str) else None
    elif scheme is Scheme.HUB_SHA256:
        key = headers.get("x-github-delivery") or headers.get("idempotency-key")
    else:
        key = f"{verified.timestamp}:{hashlib.sha256(body).hexdigest()}"
    if not key:
        key = "sha256:" + hashlib.sha256(body).hexdigest()
    if len(key) > _MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """The trace id and parent span id of a valid W3C ``traceparent``."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1), match.group(2)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedPayload() from None
    if not isinstance(document, dict):
        raise MalformedPayload("the body is JSON but not an object")
    return document


def _event_type(
    scheme: Scheme, headers: Mapping[str, str], document: dict[str, Any]
) -> str | None:
    if scheme is Scheme.HUB_SHA256 and headers.get("x-github-event"):
        return headers.get("x-github-event")
    value = document.get("type")
    return value if isinstance(value, str) else None
