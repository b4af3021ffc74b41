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
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


def problem_from(error: NeuronXError, *, instance: str | None = None) -> Response:
    extra: dict[str, Any] = {}
    errors = getattr(error, "errors", None)
    if errors:
        extra["errors"] = errors
    return problem(
        error.status, error.code, error.title, error.detail, instance=instance, **extra
    )
