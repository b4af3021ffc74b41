"""RFC 9457 problem details, the one shape of every error answer."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from neuronx.errors import NeuronXError

PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_document(status, code, title, detail, instance=instance, **extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


def problem_document(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:neuronx:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail and detail != title:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_body(error: NeuronXError, *, instance: str | None = None) -> bytes:
    """The serialized problem document of one of our errors."""
    extra: dict[str, Any] = {}
    errors = getattr(error, "errors", None)
    if errors:
        extra["errors"] = errors
    return orjson.dumps(
        problem_document(
            error.status,
            error.code,
            error.title,
            error.detail,
            instance=instance,
            **extra,
        )
    )


def problem_from(error: NeuronXError, *, instance: str | None = None) -> Response:
    return Response(
        problem_body(error, instance=instance),
        status_code=error.status,
        media_type=PROBLEM_TYPE,
    )
